"""Report sections for an eval run, and for two eval runs side by side (per-task gained / lost)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from xinstruct.report import plots
from xinstruct.report.page import Section, Table
from xinstruct.report.rundata import Run

BUDGET_VERDICTS = ("timeout", "memory_exceeded", "output_limit")
"""Sandbox verdicts that mean a limit was hit; a generation cut by ``max_tokens`` counts too."""


def task_rows(run: Run) -> dict[tuple[str, str], dict[str, Any]]:
    """(benchmark, task id) -> the task's row, from every eval shard of the run."""
    return {(str(r.get("benchmark")), str(r.get("task_id"))): r for r in run.shard_rows("results")}


def _pass_rate(row: dict[str, Any]) -> float | None:
    if not row.get("runnable", True) or not row.get("n"):
        return None
    return row.get("passed", 0) / row["n"]


def headline(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for b in run.summary.get("benchmarks") or []:
        out[f"{b['benchmark']} pass@1"] = b.get("pass@1")
    return out


def sections(run: Run) -> list[Section]:
    benches = run.summary.get("benchmarks") or []
    rows = task_rows(run)
    overview = Section("Overview", "overview", figures=[*headline(run).items(),
                                                        ("tasks", sum(b.get("tasks", 0) for b in benches))])
    passk = Section("pass@k", "passk", intro="Unbiased pass@k in %, over tasks whose samples could run; "
                                             "tasks whose toolchain was missing are counted apart.")
    ks = [k for k in ("pass@1", "base_pass@1", "pass@10", "pass@100") if any(k in b for b in benches)]
    passk.tables.append(Table(["benchmark", "language", "tasks", "scored", *ks, "not runnable"],
                              [[b["benchmark"], b.get("language"), b.get("tasks"), b.get("scored"),
                                *[b.get(k) for k in ks], b.get("not_runnable")] for b in benches]))
    if benches:
        passk.charts.append(plots.bars([b["benchmark"] for b in benches], {"pass@1": [b.get("pass@1") or 0 for b in benches]},
                                       ylabel="pass@1 (%)", title="pass@1 per benchmark"))
    verdicts = Section("Verdicts", "verdicts", intro="Sandbox verdict of every sample, per benchmark.")
    classes = sorted({v for b in benches for v in (b.get("verdicts") or {})})
    if benches and classes:
        verdicts.charts.append(plots.bars([b["benchmark"] for b in benches],
                                          {v: [(b.get("verdicts") or {}).get(v, 0) for b in benches] for v in classes},
                                          ylabel="samples", title="Verdict classes", stacked=True))
    verdicts.tables.append(Table(["benchmark", *classes],
                                 [[b["benchmark"], *[(b.get("verdicts") or {}).get(v, 0) for v in classes]] for b in benches]))
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    for (bench, _), r in rows.items():
        for s in r.get("samples") or []:
            if s.get("verdict") in BUDGET_VERDICTS:
                hits[bench][str(s["verdict"])] += 1
            if s.get("finish_reason") == "length":
                hits[bench]["max_tokens"] += 1
    budget = Section("Budget hits", "budget",
                     intro="Samples stopped by a limit: the sandbox's time, memory or output limit, or the "
                           "generation's max_tokens.")
    budget.tables.append(Table(["benchmark", *BUDGET_VERDICTS, "max_tokens"],
                               [[b["benchmark"], *[hits[b["benchmark"]].get(k, 0) for k in (*BUDGET_VERDICTS, "max_tokens")]]
                                for b in benches]))
    t = run.summary.get("throughput") or {}
    if t:
        overview.figures += [("problems / minute", t.get("problems_per_minute")), ("wall seconds", t.get("wall_seconds"))]
    return [overview, passk, verdicts, budget]


def compare_sections(a: Run, b: Run) -> list[Section]:
    """Two eval runs side by side: pass@1 per benchmark and the tasks one solves that the other does not."""
    by_a = {x["benchmark"]: x for x in a.summary.get("benchmarks") or []}
    by_b = {x["benchmark"]: x for x in b.summary.get("benchmarks") or []}
    names = [n for n in by_a if n in by_b] + [n for n in by_b if n not in by_a]
    ra, rb = task_rows(a), task_rows(b)
    side = Section(f"{a.name} vs {b.name}", "compare",
                   intro=f"pass@1 in % of {a.name} (A) and {b.name} (B) on the benchmarks either ran; "
                         "a task is gained when B's pass rate on it is higher than A's, lost when lower.")
    table_rows, gained, lost = [], [], []
    for n in names:
        pa, pb = (by_a.get(n) or {}).get("pass@1"), (by_b.get(n) or {}).get("pass@1")
        keys = sorted(k for k in set(ra) | set(rb) if k[0] == n)
        g = l_ = same = 0
        for k in keys:
            x = _pass_rate(ra[k]) if k in ra else None
            y = _pass_rate(rb[k]) if k in rb else None
            if x is None or y is None:
                continue
            if y > x:
                g += 1
                gained.append([n, k[1], x, y])
            elif y < x:
                l_ += 1
                lost.append([n, k[1], x, y])
            else:
                same += 1
        table_rows.append([n, pa, pb, None if pa is None or pb is None else pb - pa, g, l_, same])
    side.tables.append(Table(["benchmark", "A pass@1", "B pass@1", "B − A", "gained", "lost", "unchanged"], table_rows))
    if names:
        side.charts.append(plots.bars(names, {a.name: [(by_a.get(n) or {}).get("pass@1") or 0 for n in names],
                                              b.name: [(by_b.get(n) or {}).get("pass@1") or 0 for n in names]},
                                      ylabel="pass@1 (%)", title="pass@1, A vs B"))
    side.tables.append(Table(["benchmark", "task", "A pass rate", "B pass rate"], gained, caption=f"Gained by B ({len(gained)})"))
    side.tables.append(Table(["benchmark", "task", "A pass rate", "B pass rate"], lost, caption=f"Lost by B ({len(lost)})"))
    return [side]
