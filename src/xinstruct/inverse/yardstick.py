"""``yardstick.json``: the round-trip benchmark's figures in one schema that the report reads.

``benchmarks/inverse_roundtrip.py`` measures whether the judge's choice writes a better instruction
than a random candidate, against hidden tests. What it measured is kept per task (did the code
written from each condition's text pass?), and every figure a table shows is derived from that
here, so a report made later from the file shows exactly what the benchmark printed::

    {"benchmark": "inverse_roundtrip", "command": "<argv>", "samples": N, "slice": "measure|tune",
     "seeds": {"humaneval": n, "mbpp": m},
     "conditions": {"original": {"passed": int, "total": int}, "selected": {...}, "random": {...}, ["roundtrip": {...}]},
     "contrasts": [{"a": "selected", "b": "random", "both": int, "only_a": int, "only_b": int, "neither": int, "p": float}, ...],
     "per_task": [{"task_id": str, "source": "humaneval|mbpp", "original": bool, "selected": bool, "random": bool}, ...]}
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError
from xinstruct.core.runs import atomic_write_json
from xinstruct.core.stats import sign_test

BENCHMARK = "inverse_roundtrip"
BASE_CONDITIONS = ("original", "selected", "random")
OPTIONAL_CONDITIONS = ("roundtrip",)
CONTRASTS = (("selected", "random"), ("selected", "original"), ("random", "original"),
             ("roundtrip", "random"), ("roundtrip", "selected"))
"""Pairs compared task by task; a pair whose condition did not run is left out."""
SOURCES = {"HumanEval/": "humaneval", "MBPP/": "mbpp"}


def source_of(task_id: str) -> str:
    for prefix, name in SOURCES.items():
        if task_id.startswith(prefix):
            return name
    raise ValueError(f"{task_id}: not a HumanEval or MBPP task id")


_CELL = {(True, True): "both", (True, False): "only_a", (False, True): "only_b", (False, False): "neither"}


def contrast(rows: Sequence[Mapping[str, Any]], a: str, b: str) -> dict[str, Any]:
    """The 2x2 table of two conditions over the same tasks and the exact sign test on its discordant cells."""
    cells = {"both": 0, "only_a": 0, "only_b": 0, "neither": 0}
    for row in rows:
        cells[_CELL[bool(row[a]), bool(row[b])]] += 1
    return {"a": a, "b": b, **cells, "p": sign_test(cells["only_a"], cells["only_b"])}


def build(passed: Mapping[str, Mapping[str, bool]], *, argv: Sequence[str], samples: int, slice_name: str) -> dict[str, Any]:
    """The yardstick from ``passed[condition][task_id]``; every condition must cover the same tasks."""
    conditions = [c for c in (*BASE_CONDITIONS, *OPTIONAL_CONDITIONS) if c in passed]
    missing = [c for c in BASE_CONDITIONS if c not in passed]
    if missing:
        raise ValueError(f"yardstick: conditions {missing} did not run")
    tasks = list(passed["original"])
    for cond in conditions:
        if set(passed[cond]) != set(tasks):
            raise ValueError(f"yardstick: condition {cond!r} covers other tasks than 'original'")
    rows = [{"task_id": t, "source": source_of(t), **{c: bool(passed[c][t]) for c in conditions}} for t in tasks]
    return {
        "benchmark": BENCHMARK,
        "command": shlex.join(argv),
        "samples": samples,
        "slice": slice_name,
        "seeds": {name: sum(1 for r in rows if r["source"] == name) for name in SOURCES.values()},
        "conditions": {c: {"passed": sum(r[c] for r in rows), "total": len(rows)} for c in conditions},
        "contrasts": [contrast(rows, a, b) for a, b in CONTRASTS if a in conditions and b in conditions],
        "per_task": rows,
    }


def subset(yardstick: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The same figures over the tasks of one source (``humaneval`` or ``mbpp``), for per-set tables."""
    rows = [r for r in yardstick["per_task"] if r["source"] == source]
    conditions = list(yardstick["conditions"])
    return {
        "conditions": {c: {"passed": sum(r[c] for r in rows), "total": len(rows)} for c in conditions},
        "contrasts": [contrast(rows, x["a"], x["b"]) for x in yardstick["contrasts"]],
    }


def write(paths: Sequence[Path], yardstick: Mapping[str, Any]) -> None:
    """Write the same file at every path, each atomically (a reader never sees half of one)."""
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, yardstick)


def read(path: Path) -> dict[str, Any]:
    """A yardstick written by :func:`write`; a file of another shape is an InputError naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no yardstick here; run the benchmark with this --out first", str(path)) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg})", str(path), exc.lineno) from exc
    keys = ("benchmark", "command", "samples", "slice", "seeds", "conditions", "contrasts", "per_task")
    if not isinstance(data, dict) or data.get("benchmark") != BENCHMARK or any(k not in data for k in keys):
        raise InputError(f"not an {BENCHMARK} yardstick (needs {', '.join(keys)})", str(path))
    return data
