"""An arm's training rows: picked from the data file, decontaminated, described.

Decontamination happens here, on each arm's rows, rather than on the corpus: the rows are what the
model sees (a generated instruction can overlap a benchmark its snippet did not), and a changed
benchmark list then re-filters rows instead of regenerating the data. The arm's training phase is
fingerprinted by the filtered rows themselves, so a change that drops nothing new retrains nothing.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError
from xinstruct.core.fences import first_fenced_block
from xinstruct.core.records import Record
from xinstruct.data.decontam import Decontaminator, DropContaminated

STAGES = {"generated": 1, "original": 2}


def select_rows(path: Path, which: str) -> list[tuple[int, dict[str, Any]]]:
    """An arm's training rows with their row numbers in ``path``: all of a two-stage file, its generated
    (stage 1) or original (stage 2) rows, or every row of a file the arm names instead."""
    from xinstruct.train.data import read_rows

    rows = list(read_rows(path))
    wanted = STAGES.get(which)
    if wanted is not None:
        rows = [(n, r) for n, r in rows if r.get("stage") == wanted]
    if not rows:
        raise InputError(f"no {which} rows to train on", str(path))
    return rows


def _turns(row: dict[str, Any], role: str) -> str:
    messages = row.get("messages")
    if isinstance(messages, list):
        return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict) and m.get("role") == role)
    return str(row.get("instruction" if role == "user" else "response") or "")


def decontaminate_rows(rows: Sequence[tuple[int, dict[str, Any]]], dec: Decontaminator | None,
                       source: Path) -> tuple[list[dict[str, Any]], DropContaminated | None]:
    """The rows sharing no n-gram with the benchmarks (user and assistant turns checked together),
    and the step that dropped the others (its ``skips`` name each dropped row by file and row)."""
    if dec is None:
        return [r for _, r in rows], None
    step = DropContaminated(dec, fields=("instruction", "response"))
    records = [Record(id=str(r.get("id", n)), data={"instruction": _turns(r, "user"), "response": _turns(r, "assistant")},
                      provenance={"file": str(source), "line": n, "index": i}) for i, (n, r) in enumerate(rows)]
    kept = {rec.provenance["index"] for rec in step(records)}
    return [r for i, (_, r) in enumerate(rows) if i in kept], step


def _language(row: dict[str, Any]) -> str:
    if row.get("language"):
        return str(row["language"])
    block = first_fenced_block(_turns(row, "assistant"))
    return (block.language if block is not None else None) or "unknown"


def describe(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Row count, mean instruction/response length in characters, languages (most frequent first)."""
    if not rows:
        return {"rows": 0, "mean_instruction_chars": None, "mean_response_chars": None, "languages": {}}
    return {
        "rows": len(rows),
        "mean_instruction_chars": round(statistics.fmean(len(_turns(r, "user")) for r in rows), 1),
        "mean_response_chars": round(statistics.fmean(len(_turns(r, "assistant")) for r in rows), 1),
        "languages": dict(Counter(_language(r) for r in rows).most_common()),
    }


def data_card(rows: Sequence[dict[str, Any]], *, source: str, file: Path, select: str, rows_in: int,
              step: DropContaminated | None, against: Sequence[str]) -> dict[str, Any]:
    """What ``arms/<arm>/data.json`` holds and the report's "Generated data" table shows."""
    stages = sorted({r["stage"] for r in rows if isinstance(r.get("stage"), int)})
    return {
        "source": source, "file": str(file), "select": select, "rows_before_decontamination": rows_in,
        "decontamination": {
            "against": list(against),
            "dropped": step.stats["dropped.benchmark_overlap"] if step else 0,
            "dropped_rows": [f"{e['file']}:row {e['line']} ({e['id']})" for e in step.skips.entries[:20]] if step else [],
        },
        **describe(rows),
        "stages": {str(s): describe([r for r in rows if r.get("stage") == s]) for s in stages},
    }
