"""Step 1: the code of each record (``core/extraction.py``), filtered by length, language and duplicates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from xinstruct.core.extraction import snippet_of
from xinstruct.core.pipeline import Step
from xinstruct.core.records import Record


@dataclass(frozen=True)
class ExtractSettings:
    min_chars: int = 20
    max_chars: int = 6000
    min_lines: int = 1
    max_lines: int = 200
    languages: tuple[str, ...] = ()
    """Keep only these canonical languages (empty: all)."""


def _normalized(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


class ExtractCode(Step):
    """Adds ``code`` and ``language`` to each record; drops and counts what has no usable code."""

    name = "extract"

    def __init__(self, settings: ExtractSettings) -> None:
        super().__init__()
        self.settings = settings
        self._seen: set[bytes] = set()

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        s = self.settings
        for record in records:
            self.stats["seen"] += 1
            found = snippet_of(record.data)
            if isinstance(found, str):
                self.drop(record, found)
                continue
            code, language = found.code.strip("\n"), found.language
            if not code.strip():
                self.drop(record, "empty_code")
                continue
            if s.languages and language not in s.languages:
                self.drop(record, "language_filtered", detail=str(language))
                continue
            n_lines = code.count("\n") + 1
            if len(code) < s.min_chars or n_lines < s.min_lines:
                self.drop(record, "too_short", detail=f"{len(code)} chars, {n_lines} lines")
                continue
            if len(code) > s.max_chars or n_lines > s.max_lines:
                self.drop(record, "too_long", detail=f"{len(code)} chars, {n_lines} lines")
                continue
            h = hashlib.sha256(_normalized(code).encode())
            if (key := h.digest()) in self._seen:  # 32 bytes a snippet, not the 64-character hex
                self.drop(record, "duplicate")
                continue
            self._seen.add(key)
            digest = h.hexdigest()
            record.data["code"] = code
            record.data["language"] = language
            record.data["code_sha256"] = digest
            self.stats["kept"] += 1
            yield record
