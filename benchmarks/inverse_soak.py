"""Soak: many records through the real Inverse-Instruct pipeline with a backend that answers at once,
so what is measured is the pipeline itself (reading, extraction, the run protocol, shards, the call
cache, the outputs): records/s, peak memory at several sizes (is it flat in the record count?),
the time to resume a finished run of that size, and the run directory's bytes per record.

    nice -n 19 .venv/bin/python benchmarks/inverse_soak.py --sizes 1000,4000,16000 [--samples 1] [--compare-fsync] \
        [--src old=/path/to/checkout --src new=.]

Each size runs in its own child process, so each peak RSS is that size's alone. ``--compare-fsync``
also runs each size with ``os.fsync`` made a no-op in the child (the one fsync per finished
snippet of the run protocol), to show what the crash guarantee costs on this disk. ``--src``
runs every size with each code tree (its ``src/`` on the child's path), the trees one after the
other per size, and adds each tree's records/s as a ratio to the first's; ``digest`` is a hash of
the run's outputs (data and skip JSONL bytes, the Parquet rows, the summary without timings and
paths), equal between trees when their outputs are.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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

    def retries_by_kind(self) -> dict[str, int]:
        return {}

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
            "resume_s": round(resume, 1), "run_dir_bytes_per_record": round(size / n), "digest": outputs_digest(out)}


def outputs_digest(run: Path) -> str:
    """A hash of what a run's outputs say (read a batch at a time, after the measurements)."""
    import hashlib

    import pyarrow.parquet as pq

    h = hashlib.sha256()
    for name in ("data.jsonl", "skipped.jsonl"):
        with open(run / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    for batch in pq.ParquetFile(run / "data.parquet").iter_batches(batch_size=1000):
        h.update(json.dumps(batch.to_pylist(), sort_keys=True).encode())
    summary = json.loads((run / "summary.json").read_text())
    for k in ("seconds", "snippets_per_minute", "files"):
        summary.pop(k, None)
    h.update(json.dumps(summary, sort_keys=True).encode())
    return h.hexdigest()[:12]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,4000,16000", help="comma-separated record counts")
    ap.add_argument("--samples", type=int, default=1, help="candidate instructions per snippet")
    ap.add_argument("--compare-fsync", action="store_true", help="also run each size without fsync")
    ap.add_argument("--src", action="append", default=[], help="NAME=PATH of a code tree to run (repeatable)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-no-fsync", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        if args.child_no_fsync:
            os.fsync = lambda fd: None  # measurement only: what the run protocol's fsyncs cost

        # one path per size (the outputs name the input file), so the trees' digests compare
        d = Path(tempfile.gettempdir()) / f"xinstruct-soak-{args.child}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        try:
            print(json.dumps(one_size(args.child, args.samples, d)))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return
    trees = [tuple(s.split("=", 1)) for s in args.src] or [("", "")]
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        for fsync in (True, False) if args.compare_fsync else (True,):
            for name, path in trees:
                env = {**os.environ, "PYTHONPATH": str(Path(path).resolve() / "src")} if path else None
                argv = [sys.executable, __file__, "--child", str(n), "--samples", str(args.samples)]
                done = subprocess.run(argv + ([] if fsync else ["--child-no-fsync"]), capture_output=True, text=True,
                                      check=True, env=env)
                row = {**({"src": name} if name else {}), "fsync": fsync, **json.loads(done.stdout.strip().splitlines()[-1])}
                if name:
                    base = next(r for r in rows if r["records"] == n and r["fsync"] == fsync and r["src"] == trees[0][0]) \
                        if name != trees[0][0] else row
                    row["speed_vs_first"] = round(row["records_per_s"] / base["records_per_s"], 2)
                rows.append(row)
                print(json.dumps(rows[-1]), flush=True)
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) and not isinstance(r[c], bool) else str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
