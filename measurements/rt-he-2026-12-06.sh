#!/usr/bin/env bash
# Inverse-Instruct round trip on HumanEval (issue 15), as run for docs/results.md "Round trip on HumanEval".
# Code: e9afe89 (the inverse pipeline and cleaning rules of that commit; the run began there).
# Resume or re-read on another machine:
#   mkdir -p /work/runs && tar -xzf measurements/rt-he-2026-12-06.tar.gz -C /work/runs
#   git worktree add /work/wt-e9afe89 e9afe89 && cd /work/wt-e9afe89   # same rules, same prompts
#   then the command below (finished snippets are skipped, every call comes from the caches;
#   only the sandbox runs again); --report prints the tables without the model.
set -euo pipefail
PYTHONPATH=src .venv/bin/python benchmarks/inverse_roundtrip.py --out /work/runs/rt-he2 --samples 10 \
    --humaneval 164 --mbpp 0 --data ../shared/benchmarks "$@"
