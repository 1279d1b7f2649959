"""Report sections for an agents run: outcomes per language over rounds, memory, reflection scores,
and the lineage between languages (whose sample inspired whose)."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from typing import Any

from xinstruct.agents.history import FILE as HISTORY_FILE
from xinstruct.report import plots, yardstick_view
from xinstruct.report.page import Section, Table
from xinstruct.report.rundata import Run


def _total(row: dict[str, Any]) -> float | None:
    scores = row.get("scores")
    v = scores.get("total") if isinstance(scores, dict) else None
    return float(v) if isinstance(v, int | float) else None


def _entries(value: Any) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def memory_history(run: Run) -> Section:
    """Each agent's memory after every round (``memory_history.jsonl``): items kept from before vs
    entered in the round, as stacked bars, and a table of the round's changes."""
    sec = Section("Memory over rounds", "memory-rounds",
                  intro="Each agent's memory after every round (round 0 is the seed stage): the samples it held from "
                        "before and those that entered in the round; evicted, too similar to a remembered sample "
                        "(MinHash Jaccard at or above the threshold) and below the floor of a full memory.")
    rows = sorted((r for r in run.file_rows(HISTORY_FILE) if isinstance(r.get("round"), int)),
                  key=lambda r: (str(r.get("language")), r["round"]))
    if not rows:
        sec.notes.append(f"No {HISTORY_FILE} in this run (made before it was written, or run with --no-memory).")
        return sec
    groups, held, entered, table = [], [], [], []
    for r in rows:
        items = _entries(r.get("items"))
        now = {str(i.get("id")) for i in items}
        new = [e for e in _entries(r.get("entered")) if str(e.get("id")) in now]
        totals = [float(i["total"]) for i in items if isinstance(i.get("total"), int | float)]
        groups.append(f"{r.get('language')} r{r['round']}")
        held.append(len(items) - len(new))
        entered.append(len(new))
        evicted = r.get("evicted") if isinstance(r.get("evicted"), list) else []
        table.append([r.get("language"), r["round"], f"{len(items)}/{r.get('size')}", len(_entries(r.get("entered"))),
                      len(evicted), len(_entries(r.get("too_similar"))), len(_entries(r.get("below_floor"))),
                      statistics.fmean(totals) if totals else None,
                      ", ".join(f"{i.get('id')} ({_fmt_total(i.get('total'))})" for i in items)])
    sec.charts.append(plots.bars(groups, {"held from before": held, "entered this round": entered}, stacked=True,
                                 ylabel="samples in memory", title="Memory over rounds"))
    sec.tables.append(Table(["language", "round", "items", "entered", "evicted", "too similar", "below floor",
                             "mean total", "items (best first, total)"], table))
    return sec


def _fmt_total(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else "–"


def headline(run: Run) -> dict[str, Any]:
    s = run.summary
    t = s.get("totals") or {}
    return {"proposed": t.get("proposed"), "kept": t.get("kept"), "pass rate": s.get("pass_rate"),
            "first-try pass rate": s.get("first_try_pass_rate"), "DPO pairs": s.get("dpo_rows")}


def sections(run: Run) -> list[Section]:
    events = list(run.shard_rows("events"))
    kept = {str(r.get("id")) for r in run.file_rows("sft.jsonl")}
    reasons = {str(r.get("id")): str(r.get("reason")) for r in run.file_rows("rejected.jsonl")}
    overview = Section("Overview", "overview", figures=list(headline(run).items()))

    by_round: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    totals: dict[tuple[str, int], list[float]] = defaultdict(list)
    for e in events:
        key = (str(e.get("language")), int(e.get("round") or 0))
        sid = str(e.get("id"))
        by_round[key]["proposed"] += 1
        by_round[key]["kept" if sid in kept else f"rejected: {reasons.get(sid, 'not kept')}"] += 1
        if (t := _total(e)) is not None:
            totals[key].append(t)
    outcomes = sorted({k for c in by_round.values() for k in c if k.startswith("rejected")})
    rounds = Section("Outcomes over rounds", "rounds",
                     intro="Samples each language's agent proposed in each round, kept after verification, and "
                           "rejected by reason (round 0 is the seed stage).")
    keys = sorted(by_round)
    rounds.tables.append(Table(["language", "round", "proposed", "kept", *outcomes],
                               [[lang, r, by_round[(lang, r)]["proposed"], by_round[(lang, r)]["kept"],
                                 *[by_round[(lang, r)][o] for o in outcomes]] for lang, r in keys]))
    langs = sorted({k[0] for k in keys})
    if keys:
        rounds.charts.append(plots.lines({f"{lang} kept": [(r, by_round[(lang, r)]["kept"]) for lg, r in keys if lg == lang]
                                          for lang in langs}, xlabel="round", ylabel="samples", title="Kept per round"))
    reflection = Section("Reflection scores", "reflection",
                         intro="The scorer's mean rubric scores per language, and the mean total per round.")
    per_lang = (run.summary.get("per_language") or {})
    dims = run.summary.get("dimensions") or sorted({d for v in per_lang.values() for d in v.get("mean_scores") or {}})
    reflection.tables.append(Table(["language", *dims, "total"],
                                   [[lang, *[(v.get("mean_scores") or {}).get(d) for d in dims],
                                     (v.get("mean_scores") or {}).get("total")] for lang, v in per_lang.items()]))
    if totals:
        reflection.charts.append(plots.lines({lang: [(r, statistics.fmean(totals[(lg, r)])) for lg, r in sorted(totals)
                                                     if lg == lang] for lang in langs},
                                             xlabel="round", ylabel="mean total score", title="Reflection total per round"))
    memory = Section("Memory", "memory", intro="What each agent remembers at the end of the run (best samples by score).")
    for path in sorted((run.path / "memory").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        items = data.get("items") or []
        memory.tables.append(Table(["id", "round", "total", "verdict", "instruction"],
                                   [[i.get("id"), i.get("round"), _total(i), i.get("verdict"),
                                     str(i.get("instruction") or "")[:240]] for i in items],
                                   caption=f"{data.get('language', path.stem)}: {len(items)}/{data.get('size')} items"))
    edges: Counter[tuple[str, str]] = Counter()
    for e in events:
        for p in e.get("parents") or []:
            if isinstance(p, dict) and p.get("kind") != "snippet":
                edges[(str(p.get("agent")), str(e.get("agent")))] += 1
    lineage = Section("Lineage", "lineage",
                      intro="Which agent's samples inspired which agent's new ones (a parent from memory or a peer; "
                            "seed snippets left out). A row is the inspiring agent, a column the inspired one.")
    agents = sorted({a for pair in edges for a in pair})
    lineage.tables.append(Table(["from \\ to", *agents], [[a, *[edges.get((a, b), 0) for b in agents]] for a in agents]))
    if edges:
        lineage.charts.append(plots.graph(dict(edges), title="Lineage between agents"))
    return [overview, rounds, reflection, memory, memory_history(run), lineage, *yardstick_view.agents_sections(run)]
