"""What one browsable sample is, per stage: where its rows live and the fields filters use.

A sample is a snippet (inverse), a proposed sample (agents) or a task (eval). Rows are kept where
they are; the index stores only each row's file and byte offset, and a page reads that one line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xinstruct.report.rundata import Run

MAX_TEXT = 20_000
"""Characters of a row that full-text search indexes (the start of a huge line is enough to find it)."""


@dataclass
class Fields:
    """A sample's filterable fields and search text."""

    sid: str
    language: str | None
    verdict: str | None
    score: float | None
    round: int | None
    selected: bool
    title: str
    text: str


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def inverse_fields(row: dict[str, Any]) -> Fields:
    cands = [c for c in row.get("candidates") or [] if isinstance(c, dict)]
    sel = [i for i in row.get("selected") or [] if isinstance(i, int) and i < len(cands)]
    scores = [_num(cands[i].get("score")) for i in sel] or [_num(c.get("score")) for c in cands]
    score = max((s for s in scores if s is not None), default=None)
    chosen = cands[sel[0]].get("instruction") if sel else None
    title = str(chosen or row.get("original_instruction") or row.get("code") or row.get("detail") or "")
    text = "\n".join(str(x) for x in [row.get("code"), row.get("original_instruction"),
                                       *(c.get("instruction") for c in cands)] if x)
    status = row.get("status")
    verdict = ("selected" if sel else str(row.get("unselected_reason") or "not selected")) if status == "ok" else str(status)
    return Fields(str(row.get("id")), row.get("language"), verdict, score, None, bool(sel), title, text)


def agents_fields(row: dict[str, Any], kept: set[str]) -> Fields:
    scores = row.get("scores") if isinstance(row.get("scores"), dict) else {}
    text = "\n".join(str(row.get(k) or "") for k in ("instruction", "solution", "tests"))
    rnd = row.get("round")
    return Fields(str(row.get("id")), row.get("language"), row.get("verdict"), _num(scores.get("total")),
                  rnd if isinstance(rnd, int) else None, str(row.get("id")) in kept, str(row.get("instruction") or ""), text)


def eval_fields(row: dict[str, Any]) -> Fields:
    samples = [s for s in row.get("samples") or [] if isinstance(s, dict)]
    verdicts = Counter(str(s.get("verdict")) for s in samples)
    n = row.get("n") or len(samples)
    passed = row.get("passed") or 0
    text = "\n".join([str(row.get("prompt") or ""), *(str(s.get("code") or "") for s in samples)])
    return Fields(f"{row.get('benchmark')}/{row.get('task_id')}", row.get("language"),
                  verdicts.most_common(1)[0][0] if verdicts else None, passed / n if n else None, None, passed > 0,
                  f"{row.get('benchmark')} {row.get('task_id')}", text)


def rows_with_offsets(path: Path) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
    """(line number, byte offset, row or None when the line is not a JSON object) of a JSONL file."""
    with open(path, "rb") as fh:
        offset = 0
        for n, raw in enumerate(fh, 1):
            here, offset = offset, offset + len(raw)
            if not raw.strip() or not raw.endswith(b"\n"):
                continue
            try:
                row = json.loads(raw.decode("utf-8", errors="replace"))
            except json.JSONDecodeError:
                row = None
            yield n, here, row if isinstance(row, dict) else None


def read_row(path: Path, offset: int) -> dict[str, Any]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        row = json.loads(fh.readline().decode("utf-8", errors="replace"))
    if not isinstance(row, dict):
        raise ValueError(f"{path}: offset {offset} is not a JSON object")
    return row


def sources(run: Run) -> tuple[list[Path], Callable[[dict[str, Any]], Fields]]:
    """The files holding the run's samples and how to read one row's fields."""
    shards = run.path / "shards"
    if run.stage == "inverse":
        return sorted(shards.glob("results-*.jsonl")), inverse_fields
    if run.stage == "eval":
        return sorted(shards.glob("results-*.jsonl")), eval_fields
    if run.stage == "agents":
        kept = {str(r.get("id")) for r in run.file_rows("sft.jsonl")}
        return sorted(shards.glob("events-*.jsonl")), lambda row: agents_fields(row, kept)
    raise ValueError(f"{run.path}: a '{run.stage}' run has no samples to browse (inverse, agents and eval runs do)")
