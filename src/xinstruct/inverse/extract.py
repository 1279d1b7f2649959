"""Step 1: the code of each response (first fenced block; unfenced code only if it parses)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from xinstruct.core.fences import first_fenced_block
from xinstruct.core.pipeline import Step
from xinstruct.core.records import Record
from xinstruct.inverse.parse import detect_unfenced, language_hint, looks_like_python, parses_as


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
        self._seen: set[str] = set()

    def _code_of(self, record: Record) -> tuple[str, str | None] | str:
        data = record.data
        if "code" in data:
            return data["code"], data.get("language")
        response = data.get("response", "")
        block = first_fenced_block(response)
        if block is not None:
            language = block.language
            if language is None and not block.tag:
                hint = language_hint(data.get("instruction", ""))
                language = hint if hint and parses_as(block.code, hint) else (
                    "python" if looks_like_python(block.code) else hint
                )
            return block.code, language
        language = detect_unfenced(response.strip(), language_hint(data.get("instruction", "")))
        if language is None:
            return "unparseable_unfenced"
        return response.strip(), language

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        s = self.settings
        for record in records:
            self.stats["seen"] += 1
            found = self._code_of(record)
            if isinstance(found, str):
                self.drop(record, found)
                continue
            code, language = found
            code = code.strip("\n")
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
            digest = hashlib.sha256(_normalized(code).encode()).hexdigest()
            if digest in self._seen:
                self.drop(record, "duplicate")
                continue
            self._seen.add(digest)
            record.data["code"] = code
            record.data["language"] = language
            record.data["code_sha256"] = digest
            self.stats["kept"] += 1
            yield record
