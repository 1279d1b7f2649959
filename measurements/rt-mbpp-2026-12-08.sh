#!/usr/bin/env bash
# Inverse-Instruct on the free MBPP measure slice (issue 15): selected vs random vs original, and the
# round-trip selector, on 150 tasks never read or tuned on (free ids >= 601; see benchmarks/_free_mbpp.py).
# Same code and settings as the HumanEval run of measurements/rt-he-rt-2026-12-07.sh (N=10, --roundtrip).
# Resumable across sittings: the archive measurements/rt-mbpp-2026-12-08.tar.gz holds the run directory
# with its call caches; to resume or re-read on another machine:
#   mkdir -p /work/runs && tar -xzf measurements/rt-mbpp-2026-12-08.tar.gz -C /work/runs
#   then this script (finished snippets are skipped; every finished call comes from the caches);
#   --report prints the tables without the model.
set -euo pipefail
PYTHONPATH=src .venv/bin/python benchmarks/inverse_roundtrip.py --out /work/runs/rt-mbpp --samples 10 \
    --humaneval 0 --mbpp 150 --slice measure --data ../shared/benchmarks --roundtrip "$@"
