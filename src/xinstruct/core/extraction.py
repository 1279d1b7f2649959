"""The code a record carries, found the same way for every stage (inverse, agents).

A code record (``code`` field) is taken as it is. An instruction row gives its response's first
fenced block; an untagged block is labelled from the instruction's language hint when it parses
as that language, else as Python when it looks like Python. A response without a fence counts as
code only when a parser accepts it (``core/code_detect.py``), so prose never becomes a snippet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xinstruct.core.code_detect import detect_unfenced, language_hint, looks_like_python, parses_as
from xinstruct.core.fences import first_fenced_block


@dataclass(frozen=True)
class Snippet:
    code: str
    language: str | None
    """As the record or the fence tag names it, or as detected (None: unknown)."""


def is_utf8_text(text: str) -> bool:
    """False for a string with a lone surrogate (JSON's ``"\\ud800"``), which no prompt can encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def snippet_of(data: Mapping[str, Any]) -> Snippet | str:
    """The record's code and language, or the reason it has none (``unparseable_unfenced``,
    ``lone_surrogate``: text no prompt or parser can encode).

    A code record's code is returned untouched (its bytes are what a stage prompts with); code
    found in a response has its surrounding blank lines removed.
    """
    if "code" in data:
        return Snippet(data["code"], data.get("language")) if is_utf8_text(str(data["code"])) else "lone_surrogate"
    response = str(data.get("response") or "")
    instruction = str(data.get("instruction") or "")
    if not (is_utf8_text(response) and is_utf8_text(instruction)):
        return "lone_surrogate"
    block = first_fenced_block(response)
    if block is not None:
        language = block.language
        if language is None and not block.tag:
            hint = language_hint(instruction)
            language = hint if hint and parses_as(block.code, hint) else (
                "python" if looks_like_python(block.code) else hint
            )
        return Snippet(block.code.strip("\n"), language)
    language = detect_unfenced(response.strip(), language_hint(instruction))
    if language is None:
        return "unparseable_unfenced"
    return Snippet(response.strip(), language)
