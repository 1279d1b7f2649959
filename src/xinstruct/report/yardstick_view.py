"""The "Yardstick" section: a benchmark's measurement of a run's kind of data, when it left one.

``benchmarks/inverse_roundtrip.py`` writes ``yardstick.json`` into the inverse run it makes (pass
rate of code written from the original task, the judge's choice and a random candidate, hidden
tests, paired sign tests); ``benchmarks/data_quality.py --run RUN`` copies its summary into an
agents run (per language and verification rule: kept, right / wrong, precision, recall). The file
is written elsewhere, so it is read as untrusted: a file that is not JSON, or of another benchmark,
gives a note in place of the tables, and entries of the wrong shape are counted, not fatal.
"""

from __future__ import annotations

import json
from typing import Any

from xinstruct.report import plots
from xinstruct.report.page import Section, Table
from xinstruct.report.rundata import Run

FILE = "yardstick.json"


def _load(run: Run, benchmark: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the file's object, None), (None, a note saying why it is not shown), or (None, None) without a file."""
    path = run.path / FILE
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        return None, f"{path}:{exc.lineno}: not JSON ({exc.msg}); the yardstick's tables are not shown."
    if not isinstance(data, dict):
        return None, f"{path}: not a JSON object; the yardstick's tables are not shown."
    if data.get("benchmark") != benchmark:
        return None, f"{path}: from benchmark {data.get('benchmark')}, not {benchmark}; not shown here."
    return data, None


def _dicts(value: Any) -> tuple[list[dict[str, Any]], int]:
    """The objects of a list, and how many entries were something else."""
    items = value if isinstance(value, list) else []
    good = [x for x in items if isinstance(x, dict)]
    return good, len(items) - len(good)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rate(passed: int | None, total: int | None) -> float | None:
    return round(100 * passed / total, 1) if passed is not None and total else None


def _note_only(note: str | None) -> list[Section]:
    return [Section("Yardstick", "yardstick", notes=[note])] if note else []


def inverse_sections(run: Run) -> list[Section]:
    """Pass rate per condition, the paired contrasts with their sign-test p, the tasks each contrast
    gains and loses, and pass rates per seed source."""
    data, note = _load(run, "inverse_roundtrip")
    if data is None:
        return _note_only(note)
    seeds = data.get("seeds") if isinstance(data.get("seeds"), dict) else {}
    sec = Section("Yardstick", "yardstick", intro=(
        f"benchmarks/inverse_roundtrip.py: code written by the model from each condition's instruction, run against "
        f"the seed task's hidden tests ({data.get('samples')} candidates per snippet, slice {data.get('slice')}, seeds: "
        + ", ".join(f"{k} {v}" for k, v in seeds.items()) + "). A contrast counts tasks both conditions pass, only "
        "one, or neither; p is the exact two-sided sign test on the discordant tasks."))
    if data.get("command"):
        sec.notes.append(f"command: {data['command']}")
    conditions = data.get("conditions") if isinstance(data.get("conditions"), dict) else {}
    rows, bad = [], 0
    for name, c in conditions.items():
        passed, total = (_count(c.get("passed")), _count(c.get("total"))) if isinstance(c, dict) else (None, None)
        if passed is None or total is None:
            bad += 1
            continue
        rows.append([str(name), passed, total, _rate(passed, total)])
    sec.figures = [(f"{r[0]} pass rate % ({r[1]}/{r[2]})", r[3]) for r in rows]
    sec.tables.append(Table(["condition", "passed", "total", "pass rate %"], rows, caption="Pass rate per condition"))
    if rows:
        sec.charts.append(plots.bars([r[0] for r in rows], {"pass rate %": [r[3] or 0 for r in rows]},
                                     ylabel="pass rate (%)", title="Hidden tests passed per condition"))
    contrasts, n = _dicts(data.get("contrasts"))
    bad += n
    sec.tables.append(Table(["A", "B", "both", "only A", "only B", "neither", "sign test p"],
                            [[c.get("a"), c.get("b"), c.get("both"), c.get("only_a"), c.get("only_b"), c.get("neither"),
                              c.get("p")] for c in contrasts], caption="Paired contrasts"))
    per_task, n = _dicts(data.get("per_task"))
    bad += n
    listing = []
    for c in contrasts:
        a, b = str(c.get("a")), str(c.get("b"))
        only_a = [str(t.get("task_id")) for t in per_task if t.get(a) is True and t.get(b) is False]
        only_b = [str(t.get("task_id")) for t in per_task if t.get(b) is True and t.get(a) is False]
        listing += [[f"{a} vs {b}", f"only {a}", len(only_a), ", ".join(only_a)],
                    [f"{a} vs {b}", f"only {b}", len(only_b), ", ".join(only_b)]]
    if listing:
        sec.tables.append(Table(["contrast", "passed by", "tasks", "task ids"], listing,
                                caption="Per task: gained and lost"))
    sources = sorted({str(t.get("source")) for t in per_task})
    names = [r[0] for r in rows]
    if per_task and names:
        by_source = []
        for s in sources:
            mine = [t for t in per_task if str(t.get("source")) == s]
            by_source.append([s, len(mine), *[_rate(sum(t.get(n) is True for t in mine), len(mine)) for n in names]])
        sec.tables.append(Table(["source", "tasks", *[f"{n} %" for n in names]], by_source,
                                caption="Pass rate per seed source"))
    if bad:
        sec.notes.append(f"{bad} entries of {FILE} were not of the expected shape and are left out.")
    return [sec]


AGENT_COLUMNS = ("language", "rule", "proposed", "kept", "kept_right", "kept_wrong", "yield", "precision", "recall")


def agents_sections(run: Run) -> list[Section]:
    """Per language and verification rule: proposed, kept, right / wrong against hidden tests,
    yield, precision and recall (``benchmarks/data_quality.py``)."""
    data, note = _load(run, "data_quality")
    if data is None:
        return _note_only(note)
    rules, bad = _dicts(data.get("rules"))
    seeds = data.get("seeds") if isinstance(data.get("seeds"), dict) else {}
    sec = Section("Yardstick", "yardstick", intro=(
        f"benchmarks/data_quality.py: each language's agent wrote solutions and tests for held-out MBXP tasks (slice "
        f"{data.get('slice')}; seeds: " + ", ".join(f"{k} {v}" for k, v in seeds.items()) + "); each verification "
        "rule keeps or rejects them, and the tasks' hidden tests say which kept ones are right. Precision = kept and "
        "right / kept; recall = kept and right / tasks with a right solution the rule could keep."))
    if data.get("command"):
        sec.notes.append(f"command: {data['command']}")
    sec.tables.append(Table(["language", "rule", "proposed", "kept", "right", "wrong", "yield", "precision", "recall"],
                            [[r.get(k) for k in AGENT_COLUMNS] for r in rules]))
    every = [r for r in rules if r.get("language") == "all"]
    if every:
        sec.charts.append(plots.bars([str(r.get("rule")) for r in every],
                                     {k: [r.get(k) if isinstance(r.get(k), int | float) else 0 for r in every]
                                      for k in ("precision", "recall")},
                                     ylabel="fraction", title="All languages: precision and recall per rule"))
    if bad:
        sec.notes.append(f"{bad} entries of {FILE} were not of the expected shape and are left out.")
    return [sec]
