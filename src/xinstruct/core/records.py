"""The one record type that flows through every pipeline step."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Record:
    """A unit of work: a stable id, the payload fields and where it came from.

    ``id`` must be stable across runs (derived from the source, not from a counter over a
    shuffled stream) because resumption and per-record seeds are keyed on it.
    """

    id: str
    data: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Record:
        return cls(id=row["id"], data=dict(row.get("data", {})), provenance=dict(row.get("provenance", {})))
