"""Repeated SIGKILL over one run of each stage (issue 21): outputs against an undisturbed run, units
lost or written twice, and LLM calls redone.

Each stage runs once undisturbed, then again killed ``--kills`` times at random moments (each life
makes the server answer two more calls, then lives a random 0 to ``--jitter`` s more) and finished by one last
life. The server is the deterministic scripted server (``tests/llm/scripted_server.py``), or with
``--server llama`` the embedded model under ``llama_cpp.server`` behind that script in forwarding
mode, which logs every answer so redone calls can be counted. Lives are forked children of this
process (``tests/core/kill_loop.py``).

    .venv/bin/python benchmarks/kill_loop.py --kills 10 --size 3
    nice -n 19 .venv/bin/python benchmarks/kill_loop.py --server llama --stages inverse,eval --kills 10 --size 1
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "llm"), str(ROOT / "tests" / "core"), str(ROOT / "tests")]

from _llama_server import start_llama_server  # noqa: E402
from kill_loop import kill_loop, outcome, stage_argv  # noqa: E402
from scripted_server import ServerProcess  # noqa: E402

from xinstruct.models import resolve_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stages", default="inverse,agents,eval")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--size", type=int, default=3, help="work per stage (1: the suite's size)")
    ap.add_argument("--server", choices=("scripted", "llama"), default="scripted")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0.05, help="scripted server: seconds per answer")
    ap.add_argument("--jitter", type=float, default=0.1, help="a life lives up to this long after its two calls")
    args = ap.parse_args()
    if "XINSTRUCT_DATA" not in os.environ and (ROOT.parent / "shared" / "benchmarks").is_dir():
        os.environ["XINSTRUCT_DATA"] = str(ROOT.parent / "shared" / "benchmarks")
    table = Table(title=f"{args.kills} SIGKILLs per stage, {args.server} server, size {args.size}")
    for col in ("stage", "kills landed", "units", "lost", "twice", "outputs equal", "calls", "redone",
                "in flight bound", "seconds undisturbed", "seconds killed"):
        table.add_column(col)
    with tempfile.TemporaryDirectory(prefix="kill-loop-") as tmp:
        work = Path(tmp)
        llama = start_llama_server(resolve_model(None).path, work / "llama.log", logits_all=True) if args.server == "llama" else None
        upstream = llama[1] if llama else None
        served_model = None if llama else "scripted-coder"
        try:
            for stage in args.stages.split(","):
                runs = {}
                for name, kills in (("reference", 0), ("killed", args.kills)):
                    server = ServerProcess(work / f"{stage}-{name}", delay=0 if llama else args.delay, upstream=upstream)
                    server.log.parent.mkdir(parents=True, exist_ok=True)
                    server.start()
                    try:
                        argv = stage_argv(stage, server.url, work / stage / name, size=args.size,
                                          served_model=served_model, concurrency=args.concurrency)
                        result = kill_loop(argv, server.answered, work / f"{stage}-{name}.log", kills=kills,
                                           rng=random.Random(f"{args.seed}-{stage}"), jitter=args.jitter)
                    finally:
                        server.kill()
                    runs[name] = (result, outcome(stage, work / stage / name))
                (ref, expected), (got, actual) = runs["reference"], runs["killed"]
                lost = sum(1 for k in expected["ids"] if k not in actual["ids"])
                twice = sum(n - 1 for n in actual["ids"].values() if n > 1)
                table.add_row(stage, str(got.kills), str(sum(expected["ids"].values())), str(lost), str(twice),
                              "yes" if actual["files"] == expected["files"] else "NO",
                              str(ref.distinct) if ref.distinct == got.distinct else f"{ref.distinct} vs {got.distinct}",
                              str(got.redone), str(got.kills * args.concurrency),
                              f"{ref.seconds:.1f}", f"{got.seconds:.1f}")
        finally:
            if llama:
                llama[0].terminate()
                llama[0].wait()
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
