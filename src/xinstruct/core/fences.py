"""Markdown code fences in model replies and corpus responses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from xinstruct.core.languages import normalize_language

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)(?:^[ \t]*(?P<close>(?P=fence))[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class FencedBlock:
    tag: str
    """The info string's first word as written (``c++``, ``Python``), '' when untagged."""
    language: str | None
    """Canonical language name of the tag (None when untagged or unknown)."""
    code: str
    closed: bool


def fenced_blocks(text: str) -> list[FencedBlock]:
    """All fenced blocks in order; an unclosed final fence (truncated reply) is returned with closed=False."""
    out = []
    for m in _FENCE.finditer(text):
        info = m.group("info").strip()
        tag = info.split()[0] if info else ""
        body = m.group("body")
        closed = m.group("close") is not None
        out.append(FencedBlock(tag=tag, language=normalize_language(tag), code=body.rstrip("\n"), closed=closed))
    return out


def first_fenced_block(text: str) -> FencedBlock | None:
    blocks = fenced_blocks(text)
    return blocks[0] if blocks else None


def fence(code: str, language: str | None) -> str:
    """Wrap code in a fence long enough not to collide with backticks inside it."""
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language or ''}\n{code.rstrip()}\n{ticks}"
