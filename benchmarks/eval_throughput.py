"""Throughput of the evaluation loop: problems/minute and generation vs execution share.

    XINSTRUCT_DATA=../shared/benchmarks python benchmarks/eval_throughput.py --out /tmp/eval-tp --limit 5

Runs a small greedy slice of each benchmark on the embedded model (fresh run dir each time) and
prints the summary's throughput block; ``--canonical`` replaces the model by the benchmark's
reference solutions to measure the execution side alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from xinstruct.eval.config import EvalConfig
from xinstruct.eval.pipeline import run_eval
from xinstruct.llm.factory import BackendConfig


class _Canonical:
    """Backend stand-in answering every request with the task's reference solution."""

    kind = "canonical"

    def __init__(self, benchmarks: list[str]) -> None:
        from xinstruct.eval.benchmarks import load_tasks, parse_benchmark

        self.table = {t.prompt.strip(): t.prompt + (t.canonical or "") for b in benchmarks
                      for t in load_tasks(parse_benchmark(b))}

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests):  # type: ignore[no-untyped-def]
        from xinstruct.llm.base import Completion, GenerateResult

        for i, req in enumerate(requests):
            prompt = req.messages[0]["content"].split("```", 1)[1].split("\n", 1)[1].rsplit("\n```", 1)[0]
            text = self.table[prompt.strip()] + "\n```"
            yield i, GenerateResult([Completion(text, "stop", len(text.split()))], 0)

    def close(self) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", action="append", default=None)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--canonical", action="store_true")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    benchmarks = args.benchmark or ["humaneval+", "mbpp+"]
    shutil.rmtree(args.out, ignore_errors=True)
    backend = _Canonical(benchmarks) if args.canonical else None
    summary = run_eval(EvalConfig(benchmark=benchmarks, limit=args.limit), BackendConfig(), args.out, backend=backend)
    print(json.dumps(summary["throughput"], indent=2))


if __name__ == "__main__":
    main()
