"""Pass rate of canonical solutions (and fail rate of stub solutions) per language and dataset.

    python benchmarks/sandbox_canonical.py --data /work/shared/benchmarks [--limit N] [--lang L] [--dataset D] [--task ID] [--goroot DIR]
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from pathlib import Path

from xinstruct.eval.benchmarks import canonical_tasks
from xinstruct.sandbox import Job, Limits, Sandbox
from xinstruct.sandbox.languages import go_language


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=os.environ.get("XINSTRUCT_DATA", "../shared/benchmarks"))
    ap.add_argument("--limit", type=int, default=0, help="tasks per (dataset, language); 0 = all")
    ap.add_argument("--lang", action="append", help="only these languages")
    ap.add_argument("--dataset", action="append", help="only these datasets (humaneval-x, mbxp, ...)")
    ap.add_argument("--task", action="append", help="only these task ids (re-run failures)")
    ap.add_argument("--no-wrong", action="store_true", help="skip the stub (wrong) solutions")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--goroot", help="run Go with this toolchain instead of the sandbox's (e.g. /usr/lib/go-1.19)")
    ap.add_argument("--show-failures", type=int, default=3, help="print this many failures per group")
    args = ap.parse_args()
    tasks, seen = [], collections.Counter()
    for t in canonical_tasks(Path(args.data), set(args.lang) if args.lang else None):
        if args.limit and seen[(t.dataset, t.language)] >= args.limit:
            continue
        if (args.dataset and t.dataset not in args.dataset) or (args.task and t.task_id not in args.task):
            continue
        seen[(t.dataset, t.language)] += 1
        tasks.append(t)
    limits = Limits(timeout=args.timeout, memory_mb=1024)
    jobs, meta = [], []
    for t in tasks:
        jobs.append(Job(t.language, t.solution, t.tests, limits=limits))
        meta.append((t, "good"))
        if not args.no_wrong:
            jobs.append(Job(t.language, t.wrong, t.tests, limits=limits))
            meta.append((t, "wrong"))
    stats: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    shown: collections.Counter[tuple[str, str]] = collections.Counter()
    start = time.monotonic()
    for i, r in Sandbox(languages=[go_language(args.goroot)] if args.goroot else []).run_many(jobs):
        t, kind = meta[i]
        key = (t.language, t.dataset)
        stats[key][f"{kind}:{r.verdict.value}"] += 1
        if kind == "good" and not r.passed and shown[key] < args.show_failures:
            shown[key] += 1
            print(f"  FAIL {t.dataset} {t.language} {t.task_id}: {r.verdict.value} {r.message} | "
                  f"{(r.stderr or r.stdout)[-300:]!r}")
    print(f"\n{'language':<11} {'dataset':<16} {'tasks':>5} {'canonical pass':>15} {'stub not passed':>16}"
          "  stub verdicts")
    for (lang, ds), c in sorted(stats.items()):
        n = sum(v for k, v in c.items() if k.startswith("good:"))
        ok = c["good:passed"]
        w = sum(v for k, v in c.items() if k.startswith("wrong:"))
        wrong_ok = w - c["wrong:passed"]
        verdicts = ", ".join(f"{k[6:]}={v}" for k, v in sorted(c.items()) if k.startswith("wrong:"))
        wr = f"{100 * wrong_ok / w:.1f}%" if w else "-"
        print(f"{lang:<11} {ds:<16} {n:>5} {100 * ok / max(n, 1):>14.1f}% {wr:>16}  {verdicts}")
    print(f"\n{len(jobs)} jobs in {time.monotonic() - start:.0f} s on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
