"""Small generator steps that do not know where they run (local, sharded, resumed).

A step takes an iterable of records and yields records. Sharding is by ``rank``/``world_size``
over stable record ids, so any number of workers split the same input without coordination.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from xinstruct.core.records import Record


class SkipLog:
    """Every skipped input or dropped record, by reason, with where it came from.

    Nothing is lost silently: counts go into the run summary and every entry can be written out
    (``skipped.jsonl``) so a user can find the file and line behind each count.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.entries: list[dict[str, Any]] = []

    def add(self, stage: str, reason: str, *, file: str | None = None, line: int | None = None,
            record_id: str | None = None, detail: str = "") -> None:
        self.counts[f"{stage}.{reason}"] += 1
        self.entries.append(
            {"stage": stage, "reason": reason, "file": file, "line": line, "id": record_id, "detail": detail[:500]}
        )

    def merge(self, other: SkipLog) -> None:
        self.counts.update(other.counts)
        self.entries.extend(other.entries)


class SpilledSkipLog(SkipLog):
    """A :class:`SkipLog` whose entries wait in a temporary file, not in memory: for a pass over
    an input of any size, where every dropped record (a duplicate, a too-short snippet) is one
    entry. ``entries`` reads them back in the order they came; counts stay in memory."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - lives as long as the log

    @property
    def entries(self) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.seek(0, os.SEEK_END)

    def add(self, stage: str, reason: str, *, file: str | None = None, line: int | None = None,
            record_id: str | None = None, detail: str = "") -> None:
        self.counts[f"{stage}.{reason}"] += 1
        entry = {"stage": stage, "reason": reason, "file": file, "line": line, "id": record_id, "detail": detail[:500]}
        self._file.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def merge(self, other: SkipLog) -> None:
        self.counts.update(other.counts)
        for entry in other.entries:
            self._file.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")


def reasons(skips: SkipLog) -> str:
    """``reason: count`` of every skip, most frequent first, for one-line messages."""
    return ", ".join(f"{k}: {v}" for k, v in skips.counts.most_common()) or "no rows"


class Step:
    """Base class: override :meth:`run`. Counts go to ``self.stats``; drops are logged by reason."""

    name: str = "step"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.skips = SkipLog()

    def drop(self, record: Record, reason: str, detail: str = "") -> None:
        """Count a dropped record by reason and remember where it came from."""
        self.stats[f"dropped.{reason}"] += 1
        self.skips.add(
            self.name, reason, file=record.provenance.get("file"), line=record.provenance.get("line"),
            record_id=record.id, detail=detail,
        )

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        raise NotImplementedError

    def __call__(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        return self.run(records, rank=rank, world_size=world_size)


def shard_of(record_id: str, world_size: int) -> int:
    """Stable shard index of an id (not Python's salted ``hash``)."""
    digest = hashlib.blake2b(record_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % world_size


class Shard(Step):
    """Keeps the records that belong to ``rank``."""

    name = "shard"

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for record in records:
            if world_size <= 1 or shard_of(record.id, world_size) == rank:
                yield record


def chain(steps: Iterable[Step], records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
    """Compose steps lazily: each step pulls from the previous one."""
    stream: Iterable[Record] = records
    for step in steps:
        stream = step.run(stream, rank=rank, world_size=world_size)
    yield from stream
