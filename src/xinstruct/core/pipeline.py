"""Small generator steps that do not know where they run (local, sharded, resumed).

A step takes an iterable of records and yields records. Sharding is by ``rank``/``world_size``
over stable record ids, so any number of workers split the same input without coordination.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from xinstruct.core.records import Record


class Step:
    """Base class: override :meth:`run`. Counts go to ``self.stats``; drops are counted by reason."""

    name: str = "step"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.dropped: list[tuple[str, str, dict[str, Any]]] = []

    def drop(self, record: Record, reason: str) -> None:
        """Count a skipped record by reason and keep its id so nothing is silently lost."""
        self.stats[f"dropped.{reason}"] += 1
        self.dropped.append((record.id, reason, record.provenance))

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
