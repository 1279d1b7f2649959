"""Byte identity of Inverse-Instruct's outputs between code trees: the same mixed input and configs
run by each tree (``--src NAME=PATH``, each in its own process), fresh and after a kill and resume,
then every output compared with the first tree's.

    PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/inverse_identity.py \\
        --src old=/path/to/old/checkout --src new=. [--records 600]

The input mixes code records, duplicates, too-short code, (instruction, response) pairs with fenced
code, a malformed line and prompts the backend refuses as too long; the backend's replies include
empty and rejected candidates and scores across [0, 1]. Compared: every ``*.jsonl`` of the run,
``summary.json`` without its timings, ``dataset/README.md``, and the Parquet files as tables.
Prints one line per (config, run) and exits non-zero on any difference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

CONFIGS: dict[str, dict[str, object]] = {
    "best": {"samples": 3},
    "topk": {"samples": 4, "select": "topk", "top_k": 2},
    "threshold": {"samples": 3, "select": "threshold", "threshold": 0.6},
    "original": {"samples": 2, "with_original": True},
    "limit": {"samples": 2, "limit": 150},
    "ranks": {"samples": 2, "world_size": 2},
}
TIMINGS = ("seconds", "snippets_per_minute")


class Crash(Exception):
    pass


class MixedBackend:
    """Deterministic replies keyed on the request's seed and text (no model)."""

    kind = "mixed"

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests: Sequence) -> Iterator:
        from xinstruct.llm.base import Completion, GenerateResult, PromptTooLong

        for i, req in enumerate(requests):
            if "HUGE" in req.messages[-1]["content"]:
                raise PromptTooLong("prompt of 9999 tokens exceeds the context")
            seed = req.params.seed
            text = ("" if seed % 7 == 0 else "Sure! Here is the code:" if seed % 11 == 0
                    else f" Write a function that handles case {seed % 13} of the input.")
            comps = [Completion(text=text, finish_reason="stop", tokens=len(text.split()), logprob=-float(len(text)))
                     for _ in range(req.params.n)]
            yield i, GenerateResult(completions=comps, prompt_tokens=12)

    def first_token_logprobs(self, requests: Sequence) -> Iterator:
        from xinstruct.llm.base import ScoreResult

        for i, req in enumerate(requests):
            p = 0.05 + (sum(map(ord, req.messages[-1]["content"])) % 90) / 100
            yield i, ScoreResult(logprobs={"Yes": math.log(p), "No": math.log(1 - p)}, prompt_tokens=12)

    def retries_by_kind(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass


def write_input(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        for i in range(n):
            body = f"def f_{i % (n - n // 10)}(x):\n    return x * {i % (n - n // 10)} + 1\n"  # every 10th a duplicate
            if i % 17 == 3:
                fh.write(json.dumps({"code": "x=1", "language": "python"}) + "\n")  # too short
            elif i % 19 == 5:
                fh.write(json.dumps({"instruction": f"Multiply by {i}.", "response": f"```python\n{body}```"}) + "\n")
            elif i % 23 == 7:
                fh.write(json.dumps({"code": f"# HUGE\n{body}", "language": "python"}) + "\n")
            elif i == n // 2:
                fh.write("{not json\n")
            else:
                fh.write(json.dumps({"code": body, "language": "python", "meta": {"n": i}}) + "\n")


def child(corpus: Path, out: Path) -> None:
    """Every config fresh, and again killed after a third of its snippets and resumed."""
    from rich.console import Console

    from xinstruct.inverse.config import InverseConfig
    from xinstruct.inverse.pipeline import run_inverse
    from xinstruct.llm.factory import BackendConfig
    from xinstruct.readers import ReaderConfig

    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    for name, fields in CONFIGS.items():
        world = int(fields.get("world_size", 1))
        for mode in ("fresh", "resumed"):
            run = out / mode / name
            for rank in range(world):
                cfg = InverseConfig(**{**fields, "rank": rank})  # type: ignore[arg-type]
                if mode == "resumed":
                    def crash(k: int) -> None:
                        if k == 40:
                            raise Crash
                    with contextlib.suppress(Crash):
                        run_inverse(corpus, run, cfg, BackendConfig(), ReaderConfig(), backend=MixedBackend(),
                                    console=quiet, on_record=crash)
                run_inverse(corpus, run, cfg, BackendConfig(), ReaderConfig(), backend=MixedBackend(), console=quiet)


def differences(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    import pyarrow.parquet as pq

    out = []
    names = sorted({p.relative_to(a) for p in a.rglob("*") if p.is_file()} | {p.relative_to(b) for p in b.rglob("*") if p.is_file()})
    for rel in names:
        pa_, pb = a / rel, b / rel
        if rel.parts[0] in ("shards", "cache") or rel.name in ("run.json", "llm-cache.sqlite") or rel.name.startswith("llm-cache"):
            continue  # the run's own bookkeeping (timestamps, cache pages)
        if not pa_.exists() or not pb.exists():
            out.append(f"{rel}: only in {'first' if pa_.exists() else 'second'}")
        elif rel.suffix == ".parquet":
            if not pq.read_table(pa_).equals(pq.read_table(pb)):
                out.append(f"{rel}: tables differ")
        elif rel.name == "summary.json":
            sa, sb = (json.loads(p.read_text()) for p in (pa_, pb))
            for s in (sa, sb):
                for k in (*TIMINGS, *ignore):
                    s.pop(k, None)
            if sa != sb:
                out.append(f"{rel}: " + ", ".join(k for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k)))
        elif rel.name == "README.md":
            if _card(pa_) != _card(pb):
                out.append(f"{rel}: differs")
        elif pa_.read_bytes() != pb.read_bytes():
            out.append(f"{rel}: bytes differ")
    return out


def _card(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("| created |")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", action="append", required=True, help="NAME=PATH of a code tree (its src/ is imported)")
    ap.add_argument("--records", type=int, default=600)
    ap.add_argument("--keep", help="write the runs here (an empty or new directory) and keep them")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    trees = dict(s.split("=", 1) for s in args.src)
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    with contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory(prefix="xinstruct-identity-") as d:
        corpus = Path(d) / "mixed.jsonl"
        write_input(corpus, args.records)
        for name, path in trees.items():
            env = {**os.environ, "PYTHONPATH": str(Path(path).resolve() / "src")}
            # every tree writes to the same paths (outputs name them), then its runs move aside
            subprocess.run([sys.executable, __file__, "--src", args.src[0], "--child", str(corpus), f"{d}/out"],
                           env=env, check=True)
            os.rename(f"{d}/out", f"{d}/{name}")
        first, *others = trees
        bad = 0
        for name in CONFIGS:
            for mode in ("fresh", "resumed"):
                for other in others:
                    diff = differences(Path(d) / first / mode / name, Path(d) / other / mode / name)
                    bad += bool(diff)
                    print(f"{name:10} {mode:8} {first} vs {other}: {'identical' if not diff else '; '.join(diff)}")
            for tree in trees:  # and each tree's killed and resumed run ends with its fresh run's files
                diff = differences(Path(d) / tree / "fresh" / name, Path(d) / tree / "resumed" / name,
                                   ignore=("resumed", "llm_calls", "files"))
                bad += bool(diff)
                print(f"{name:10} {tree}: fresh vs resumed: {'identical' if not diff else '; '.join(diff)}")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
