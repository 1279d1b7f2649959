#!/usr/bin/env bash
# Inverse-Instruct round trip on HumanEval with the round-trip selector (issue 15), as run for
# docs/results.md "The round-trip selector on HumanEval". Code: this commit's inverse pipeline.
# The run was seeded with the caches of rt-he-2026-12-06 (summaries, judge calls and the code the
# model wrote from the original, selected and random instructions), so only the round-trip calls
# and the code written from the round-trip choice were new. The selector of 2b9d25f (regenerated Python
# sanitized before the capture); 96 of 164 snippets finished this sitting. Resume or re-read on another machine:
#   mkdir -p /work/runs && tar -xzf measurements/rt-he-rt-2026-12-07.tar.gz -C /work/runs
#   then this script (finished snippets are skipped, every call comes from the caches; only the
#   sandbox runs again); --report prints the tables without the model.
set -euo pipefail
PYTHONPATH=src .venv/bin/python benchmarks/inverse_roundtrip.py --out /work/runs/rt-he-rt2 --samples 10 \
    --humaneval 164 --mbpp 0 --data ../shared/benchmarks --roundtrip "$@"
