"""Soak: many records through the real Inverse-Instruct pipeline with a backend that answers at once,
so what is measured is the pipeline itself (reading, extraction, the run protocol, shards, the call
cache, the outputs): records/s, peak memory at several sizes (is it flat in the record count?),
the time to resume a finished run of that size, and the run directory's bytes per record.

    nice -n 19 .venv/bin/python benchmarks/inverse_soak.py --sizes 1000,4000,16000 [--samples 1] [--compare-fsync]

Each size runs in its own child process, so each peak RSS is that size's alone. ``--compare-fsync``
also runs each size with ``os.fsync`` made a no-op in the child (the one fsync per finished
snippet of the run protocol), to show what the crash guarantee costs on this disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from xinstruct.llm.base import Completion, GenerateRequest, GenerateResult, ScoreRequest, ScoreResult


class InstantBackend:
    """Answers every summarize call with a fixed-shape instruction and every judge call with Yes."""

    kind = "instant"

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        for i, req in enumerate(requests):
            text = f"Write a Python function that adds a constant to its argument (variant {req.params.seed})."
            comps = [Completion(text=text, finish_reason="stop", tokens=16, logprob=-3.0) for _ in range(req.params.n)]
            yield i, GenerateResult(completions=comps, prompt_tokens=100)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        for i, req in enumerate(requests):
            yield i, ScoreResult(logprobs={c: (-0.1 if c.strip().lower().startswith("y") else -2.5) for c in req.candidates},
                                 prompt_tokens=100)

    def close(self) -> None:
        pass


def write_corpus(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(n):
            code = f"def add_{i}(x):\n    \"\"\"Adds {i}.\"\"\"\n    return x + {i}\n"
            fh.write(json.dumps({"code": code, "language": "python"}) + "\n")


def one_size(n: int, samples: int, workdir: Path) -> dict[str, float]:
    """Fresh run, then a resume of the finished run, in this process."""
    from rich.console import Console

    from xinstruct.inverse.config import InverseConfig
    from xinstruct.inverse.pipeline import run_inverse
    from xinstruct.llm.factory import BackendConfig
    from xinstruct.readers import ReaderConfig

    warm = workdir / "warm.jsonl"  # imports and prompt loading happen here, outside the timings
    write_corpus(warm, 5)
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    run_inverse(warm, workdir / "warm-run", InverseConfig(samples=samples, min_chars=10), BackendConfig(), ReaderConfig(),
                backend=InstantBackend(), console=quiet)
    corpus = workdir / "corpus.jsonl"
    write_corpus(corpus, n)
    out = workdir / "run"
    cfg = InverseConfig(samples=samples, min_chars=10)
    start = time.perf_counter()
    summary = run_inverse(corpus, out, cfg, BackendConfig(), ReaderConfig(), backend=InstantBackend(), console=quiet)
    fresh = time.perf_counter() - start
    rss_fresh = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    run_inverse(corpus, out, cfg, BackendConfig(), ReaderConfig(), backend=InstantBackend(), console=quiet)
    resume = time.perf_counter() - start
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"records": n, "finished": summary["snippets_finished"], "seconds": round(fresh, 1),
            "records_per_s": round(n / fresh, 1), "peak_rss_mib": round(rss_fresh),
            "resume_s": round(resume, 1), "run_dir_bytes_per_record": round(size / n)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,4000,16000", help="comma-separated record counts")
    ap.add_argument("--samples", type=int, default=1, help="candidate instructions per snippet")
    ap.add_argument("--compare-fsync", action="store_true", help="also run each size without fsync")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-no-fsync", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        if args.child_no_fsync:
            os.fsync = lambda fd: None  # measurement only: what the run protocol's fsyncs cost

        with tempfile.TemporaryDirectory(prefix="xinstruct-soak-") as d:
            print(json.dumps(one_size(args.child, args.samples, Path(d))))
        return
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        for fsync in (True, False) if args.compare_fsync else (True,):
            argv = [sys.executable, __file__, "--child", str(n), "--samples", str(args.samples)]
            done = subprocess.run(argv + ([] if fsync else ["--child-no-fsync"]), capture_output=True, text=True, check=True)
            rows.append({"fsync": fsync, **json.loads(done.stdout.strip().splitlines()[-1])})
            print(json.dumps(rows[-1]), flush=True)
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) and not isinstance(r[c], bool) else str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
