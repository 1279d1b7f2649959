#!/bin/bash
# issue 17 (2026-12-06): Go and Rust in full at the Qwen protocol (continue, 1,024), then Bash/TypeScript side by side.
# Resume: mkdir -p /work/runs && tar -xzf measurements/mple-2026-12-06.tar.gz -C /work/runs; bash measurements/mple-2026-12-06.sh
set -u
cd "$(dirname "$0")/.."
export XINSTRUCT_DATA=${XINSTRUCT_DATA:-../shared/benchmarks}
X=.venv/bin/xinstruct
$X eval --prompt-style continue --max-tokens 1024 --parallel 8 -b multipl-e:go,multipl-e:rust \
   --cache /work/runs/mple-gr-cache.sqlite --out /work/runs/mple-continue-gr
EVEN='^HumanEval_[0-9]*[02468]_'
for lang in bash typescript; do for style in continue instruct; do
  $X eval --prompt-style $style --max-tokens 1024 --parallel 8 --task-regex "$EVEN" -b multipl-e:$lang \
     --cache /work/runs/mple-$style-cache.sqlite --out /work/runs/mple-$style-even-$lang
done; done
echo ALLDONE
