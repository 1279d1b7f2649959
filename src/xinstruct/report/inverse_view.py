"""Report sections for an Inverse-Instruct run, computed from its result shards."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from xinstruct.report import plots, yardstick_view
from xinstruct.report.page import Section, Table
from xinstruct.report.rundata import Run


def scores(results: list[dict[str, Any]]) -> dict[str, list[float]]:
    """All judged candidates' scores, the selected ones', and each snippet's selection margin
    (selected score minus the best score among the candidates left out)."""
    every, chosen, margins = [], [], []
    for r in results:
        if r.get("status") != "ok":
            continue
        cands = r.get("candidates") or []
        sel = set(r.get("selected") or [])
        every += [c["score"] for c in cands if isinstance(c.get("score"), int | float)]
        picked = [cands[i]["score"] for i in sel if i < len(cands) and isinstance(cands[i].get("score"), int | float)]
        chosen += picked
        others = [c["score"] for i, c in enumerate(cands)
                  if i not in sel and c.get("instruction") and isinstance(c.get("score"), int | float)]
        if picked and others:
            margins.append(min(picked) - max(others))
    return {"all": every, "selected": chosen, "margin": margins}


def headline(run: Run, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures a dataset card repeats."""
    s = run.summary
    sc = scores(results)
    return {
        "records read": s.get("records_read"),
        "snippets": s.get("snippets_extracted"),
        "dataset rows": s.get("dataset_rows"),
        "candidates": len(sc["all"]),
        "mean score (all)": statistics.fmean(sc["all"]) if sc["all"] else None,
        "mean score (selected)": statistics.fmean(sc["selected"]) if sc["selected"] else None,
        "median selection margin": statistics.median(sc["margin"]) if sc["margin"] else None,
    }


def sections(run: Run) -> list[Section]:
    results = sorted(run.shard_rows("results"), key=lambda r: r.get("order", 0))
    s = run.summary
    sc = scores(results)
    head = Section("Overview", "overview", figures=list(headline(run, results).items()))
    score_sec = Section(
        "Scores", "scores",
        intro="Judge score p(Yes)/(p(Yes)+p(No)) of every candidate instruction against the candidates kept, "
              "and each snippet's margin: the kept candidate's score minus the best one left out.",
    )
    if sc["all"]:
        score_sec.charts.append(plots.histogram({"all candidates": sc["all"], "selected": sc["selected"]},
                                                xlabel="judge score", title="Score distribution"))
    if sc["margin"]:
        lo, hi = min(sc["margin"]), max(sc["margin"])
        score_sec.charts.append(plots.histogram({"snippets": sc["margin"]}, xlabel="selected − best unselected",
                                                title="Selection margin", value_range=(min(lo, 0.0), max(hi, 0.01))))
    skipped = dict(s.get("skipped_by_reason") or {})
    cleaning = (s.get("cleaning") or {}).get("rejected_by_reason") or {}
    skip_sec = Section("Skipped and rejected", "skips",
                       intro="Input records and snippets dropped, by reason (file and line in skipped.jsonl), "
                             "and candidate instructions rejected by cleaning.")
    skip_sec.tables.append(Table(["reason", "count"], [[k, v] for k, v in sorted(skipped.items(), key=lambda kv: -kv[1])],
                                 caption="Records and snippets skipped"))
    if any(cleaning.values()):
        skip_sec.tables.append(Table(["reason", "candidates"], [[k, v] for k, v in cleaning.items() if v],
                                     caption="Candidates rejected by cleaning"))
    by_lang: dict[str, dict[str, Any]] = defaultdict(lambda: {"snippets": 0, "rows": 0, "scores": []})
    for r in results:
        if r.get("status") != "ok":
            continue
        d = by_lang[str(r.get("language"))]
        d["snippets"] += 1
        d["rows"] += len(r.get("selected") or [])
        cands = r.get("candidates") or []
        d["scores"] += [cands[i]["score"] for i in r.get("selected") or []
                        if i < len(cands) and isinstance(cands[i].get("score"), int | float)]
    langs = sorted(by_lang, key=lambda k: -by_lang[k]["snippets"])
    lang_sec = Section("Languages", "languages")
    if langs:
        lang_sec.charts.append(plots.bars(langs, {"snippets": [by_lang[k]["snippets"] for k in langs],
                                                  "dataset rows": [by_lang[k]["rows"] for k in langs]},
                                          ylabel="count", title="Per language"))
    lang_sec.tables.append(Table(
        ["language", "snippets", "dataset rows", "mean selected score"],
        [[k, by_lang[k]["snippets"], by_lang[k]["rows"],
          statistics.fmean(by_lang[k]["scores"]) if by_lang[k]["scores"] else None] for k in langs]))
    status = Counter(r.get("status") for r in results)
    if set(status) - {"ok"}:
        skip_sec.tables.append(Table(["LLM step outcome", "snippets"], [[k, v] for k, v in status.most_common()]))
    return [head, score_sec, skip_sec, lang_sec, *yardstick_view.inverse_sections(run)]
