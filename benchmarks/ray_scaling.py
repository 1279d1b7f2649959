"""The same Inverse-Instruct job through the local executor and through Ray (1 and 2 actors).

    nice -n 19 python benchmarks/ray_scaling.py --snippets 400
    nice -n 19 python benchmarks/ray_scaling.py --model --snippets 4 --samples 2 --max-tokens 32

Without ``--model`` the backend answers instantly, so the times are the pipeline's own: Ray's
overhead per record is the Ray run's marginal time per record minus the local run's (marginal:
the time of ``--snippets`` records minus that of ``--small`` records, over the difference, so
cluster and actor start-up are reported apart as the fixed cost). With ``--model`` every run
uses the embedded model with one llama.cpp thread per actor (local: one thread, and two).
Everything runs in one process on one local Ray cluster (``num_cpus=2``), side by side, and
prints one table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.inverse.ray_run import run_inverse_ray
from xinstruct.llm.base import Completion, GenerateRequest, GenerateResult, ScoreRequest, ScoreResult
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig
from xinstruct.scale.config import ScaleConfig


class _Instant:
    """Answers every call at once, the same way each time (a function of the request's seed)."""

    kind = "instant"

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind}

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        for i, req in enumerate(requests):
            text = f" Write a function that returns value number {(req.params.seed or 0) % 97}."
            yield i, GenerateResult([Completion(text=text, finish_reason="stop", tokens=10, logprob=-5.0)], prompt_tokens=50)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        for i, req in enumerate(requests):
            yield i, ScoreResult({c: -0.1 * (k + 1) for k, c in enumerate(req.candidates)}, prompt_tokens=50)

    def close(self) -> None:
        pass


def write_input(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(n):
            code = f"def value_{k}(x):\n    total = x * {k} + {k % 13}\n    return total - {k % 7}\n"
            fh.write(json.dumps({"id": f"s{k}", "code": code, "language": "python"}) + "\n")
    return path


def timed(fn: Any) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    summary = fn()
    return time.perf_counter() - start, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snippets", type=int, default=400)
    ap.add_argument("--small", type=int, default=40, help="records of the run that measures the fixed cost")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", action="store_true", help="the embedded model instead of the instant backend")
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    cfg = InverseConfig(samples=args.samples, max_tokens=args.max_tokens)
    rows: list[tuple[str, int, float, dict[str, Any]]] = []
    try:
        sizes = [args.snippets] if args.model else [args.small, args.snippets]
        for n in sizes:
            data = write_input(work / f"in-{n}.jsonl", n)
            runs: list[tuple[str, Any]] = []
            if args.model:
                for threads in (1, 2):
                    runs.append((f"local, 1 process x {threads} thread(s)", lambda d=data, t=threads, o=work / f"local{threads}-{n}": run_inverse(
                        d, o, cfg, BackendConfig(threads=t, parallel=4), ReaderConfig())))
                for actors in (1, 2):
                    runs.append((f"ray, {actors} actor(s) x 1 thread", lambda d=data, a=actors, o=work / f"ray{actors}-{n}": run_inverse_ray(
                        d, o, cfg, BackendConfig(threads=1, parallel=4), ReaderConfig(),
                        ScaleConfig(ray_actors=a, ray_batch_size=args.batch_size))))
            else:
                runs.append(("local, 1 process", lambda d=data, o=work / f"local-{n}": run_inverse(
                    d, o, cfg, BackendConfig(), ReaderConfig(), backend=_Instant())))
                for actors in (1, 2):
                    runs.append((f"ray, {actors} actor(s)", lambda d=data, a=actors, o=work / f"ray{actors}-{n}": run_inverse_ray(
                        d, o, cfg, BackendConfig(), ReaderConfig(),
                        ScaleConfig(ray_actors=a, ray_batch_size=args.batch_size), backend=_Instant())))
            for name, fn in runs:
                seconds, summary = timed(fn)
                rows.append((name, n, seconds, summary))
        reference = {n: (work / f"{'local1' if args.model else 'local'}-{n}" / "data.jsonl").read_bytes() for n in sizes}
        print(f"{'run':34} {'records':>7} {'seconds':>8} {'rec/s':>7} {'vs local':>8}  same data.jsonl")
        base = {n: next(s for name, m, s, _ in rows if m == n and name.startswith("local")) for n in sizes}
        for name, n, seconds, summary in rows:
            out = Path(summary["files"]["dataset"]["jsonl"]).read_bytes()
            same = "yes" if out == reference[n] else "no"
            print(f"{name:34} {n:7d} {seconds:8.2f} {n / seconds:7.1f} {base[n] / seconds:8.2f}  {same}")
        if not args.model:
            per = {}
            for name in dict.fromkeys(r[0] for r in rows):
                t = {n: s for nm, n, s, _ in rows if nm == name}
                per[name] = (t[args.snippets] - t[args.small]) / (args.snippets - args.small)
                fixed = t[args.small] - per[name] * args.small
                print(f"{name:34} marginal {1000 * per[name]:.2f} ms/record, fixed {fixed:.2f} s")
            local = per["local, 1 process"]
            for name, v in per.items():
                if name.startswith("ray"):
                    print(f"{name:34} Ray overhead {1000 * (v - local):+.2f} ms/record (marginal vs local)")
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
