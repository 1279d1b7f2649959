"""Compare finished `xinstruct eval` runs language by language, beside the published figures.

    python benchmarks/multipl_e_report.py --run continue-1024=/work/runs/mple-continue \
        --run instruct-512=/work/runs/mple-instruct [--common]

A name given twice merges its directories (one run directory per language is common, since a
run directory's settings, the benchmark list included, are fixed when it is created).

Reads only the run directories' result shards (no model, no sandbox), so it can be run while
a run is still going. Per benchmark and run: tasks scored, pass@1 with a 95% Wilson interval,
the published figure and the gap, verdict counts, answers that hit the token budget and mean
answer tokens. With two runs, ``--common`` restricts every row to the tasks both have finished
and adds the paired split (passed in both / only in the first / only in the second) with the
exact two-sided sign test on the discordant tasks, per benchmark and pooled over benchmarks.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from pathlib import Path

from _published import PUBLISHED

from xinstruct.core.runs import read_jsonl
from xinstruct.experiment.stats import sign_test

VERDICT_ABBREV = {"passed": "P", "failed": "F", "compile_error": "CE", "runtime_error": "RE", "timeout": "T",
                  "memory_exceeded": "M", "output_limit": "O"}


def read_run(path: Path) -> dict[str, dict[str, dict]]:
    """benchmark -> task id -> first sample (greedy runs have one), from every result shard."""
    out: dict[str, dict[str, dict]] = {}
    for shard in sorted((path / "shards").glob("results-*.jsonl")):
        for row in read_jsonl(shard):  # a run still going may have a torn last line: it is skipped
            out.setdefault(row["benchmark"], {})[row["task_id"]] = row["samples"][0]
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (100 * (centre - half), 100 * (centre + half))


def describe(samples: list[dict]) -> dict:
    n = len(samples)
    passed = sum(s["verdict"] == "passed" for s in samples)
    verdicts = Counter(VERDICT_ABBREV.get(s["verdict"], s["verdict"]) for s in samples)
    hits = sum(s.get("finish_reason") == "length" for s in samples)
    tokens = sum(s.get("tokens") or 0 for s in samples) / n if n else 0.0
    over_512 = sum((s.get("tokens") or 0) > 512 for s in samples)
    lo, hi = wilson(passed, n)
    return {"n": n, "passed": passed, "pass@1": 100 * passed / n if n else 0.0, "ci": (lo, hi),
            "verdicts": verdicts, "budget_hits": hits, "over_512": over_512, "mean_tokens": tokens}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True, metavar="NAME=DIR", help="a run directory, named")
    ap.add_argument("--common", action="store_true", help="only tasks every run has finished")
    args = ap.parse_args()
    runs: dict[str, dict[str, dict[str, dict]]] = {}
    for item in args.run:
        name, _, directory = item.partition("=")
        if not directory:
            raise SystemExit(f"--run {item!r}: expected NAME=DIR")
        for bench, tasks in read_run(Path(directory)).items():
            runs.setdefault(name, {}).setdefault(bench, {}).update(tasks)
    benchmarks = sorted({b for r in runs.values() for b in r})
    print("| benchmark | run | tasks | pass@1 | 95% CI | published | gap | verdicts | budget hits | answers > 512 tokens "
          "| mean tokens |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    pooled = [0, 0, 0, 0]  # tasks, both, only first, only second
    for bench in benchmarks:
        tasks_by_run = {name: r.get(bench, {}) for name, r in runs.items()}
        common = set.intersection(*(set(t) for t in tasks_by_run.values())) if args.common else None
        for name, tasks in tasks_by_run.items():
            ids = sorted(common if common is not None else tasks)
            if not ids:
                continue
            d = describe([tasks[i] for i in ids])
            pub = PUBLISHED.get(bench)
            gap = f"{d['pass@1'] - pub:+.1f}" if pub is not None and d["n"] >= 150 else "–"
            verdicts = ", ".join(f"{v} {k}" for k, v in d["verdicts"].most_common())
            print(f"| {bench} | {name} | {d['n']} | {d['pass@1']:.1f} | {d['ci'][0]:.0f}–{d['ci'][1]:.0f} | "
                  f"{pub if pub is not None else '–'} | {gap} | {verdicts} | {d['budget_hits']} | {d['over_512']} | {d['mean_tokens']:.0f} |")
        if common is not None and len(tasks_by_run) == 2 and common:
            (a, ta), (b, tb) = tasks_by_run.items()
            both = sum(ta[i]["verdict"] == "passed" and tb[i]["verdict"] == "passed" for i in common)
            only_a = sum(ta[i]["verdict"] == "passed" and tb[i]["verdict"] != "passed" for i in common)
            only_b = sum(ta[i]["verdict"] != "passed" and tb[i]["verdict"] == "passed" for i in common)
            pooled = [x + y for x, y in zip(pooled, (len(common), both, only_a, only_b), strict=True)]
            print(f"| {bench} | paired | {len(common)} | both {both}, only {a} {only_a}, only {b} {only_b}, "
                  f"sign test p = {sign_test(only_a, only_b):.2f} | | | | | | | |")
    if pooled[0] and len(runs) == 2:
        a, b = runs
        print(f"| all | paired | {pooled[0]} | both {pooled[1]}, only {a} {pooled[2]}, only {b} {pooled[3]}, "
              f"sign test p = {sign_test(pooled[2], pooled[3]):.3f} | | | | | | | |")


if __name__ == "__main__":
    main()
