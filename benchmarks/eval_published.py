"""Run benchmarks on a model and print measured pass@1 beside published figures.

    XINSTRUCT_DATA=../shared/benchmarks python benchmarks/eval_published.py --out /tmp/eval-pub \
        --benchmark humaneval+ --benchmark multipl-e:java --limit 20

Published figures are for Qwen2.5-Coder-0.5B-Instruct (bf16, greedy) from the Qwen2.5-Coder
technical report (arXiv:2409.12186, instruct-model tables): HumanEval 61.6, HumanEval+ 57.3.
The embedded model is the Q4_K_M GGUF quantisation, so a few points below is expected; a
``--limit`` subset is not comparable to a full-benchmark figure (it is the first N tasks only).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _published import PUBLISHED
from rich.console import Console
from rich.table import Table

from xinstruct.eval.config import EvalConfig
from xinstruct.eval.pipeline import run_eval
from xinstruct.llm.factory import BackendConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", action="append", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--parallel", type=int, default=8, help="sequences decoded together (llamacpp backend)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    benchmarks = args.benchmark or ["humaneval+"]
    cfg = EvalConfig(benchmark=benchmarks, limit=args.limit, max_tokens=args.max_tokens)
    summary = run_eval(cfg, BackendConfig(model=args.model, threads=args.threads, parallel=args.parallel), args.out)
    table = Table(title="measured vs published (pass@1, greedy)")
    for col in ("benchmark", "tasks", "measured", "published", "note"):
        table.add_column(col)
    for row in summary["benchmarks"]:
        name = row["benchmark"]
        measured = row.get("pass@1")
        note = "" if row["tasks"] >= 150 else f"first {row['tasks']} tasks only"
        table.add_row(name, str(row["scored"]), f"{measured:.1f}" if measured is not None else "-",
                      str(PUBLISHED.get(name, "-")), note)
        if name == "humaneval+" and row.get("base_pass@1") is not None:
            table.add_row("humaneval (base tests of humaneval+)", str(row["scored"]), f"{row['base_pass@1']:.1f}",
                          str(PUBLISHED["humaneval"]), note)
    Console().print(table)
    print(json.dumps(summary["throughput"]))


if __name__ == "__main__":
    main()
