#!/bin/bash
# The MultiPL-E prompt-style comparison of docs/results.md ("instruct vs continue, side by side"):
# both styles at 1,024 tokens on the same even-numbered HumanEval tasks, one run directory per
# language and style (a run directory's benchmark list is fixed), then JavaScript/Go/Rust in full
# at the continue style. Resumable: restore the archive first, then rerun; finished tasks are skipped.
#   mkdir -p runs && tar -xzf measurements/mple-2026-12-02.tar.gz -C runs
#   XINSTRUCT_DATA=../shared/benchmarks RUNS=runs bash measurements/mple-side-by-side.sh
set -u
RUNS=${RUNS:-runs}
EVEN='^HumanEval_[0-9]*[02468]_'
run() {  # style lang
  xinstruct eval --prompt-style "$1" --max-tokens 1024 --parallel 8 --task-regex "$EVEN" \
    -b "multipl-e:$2" --cache "$RUNS/mple-$1-cache.sqlite" --out "$RUNS/mple-$1-even-$2"
}
run instruct javascript
for lang in java csharp cpp php bash typescript; do run continue "$lang"; run instruct "$lang"; done
xinstruct eval --prompt-style continue --max-tokens 1024 --parallel 8 \
  -b multipl-e:javascript,multipl-e:go,multipl-e:rust --out "$RUNS/mple-continue-jgr"
