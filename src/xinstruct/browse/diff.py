"""A word-level diff of two texts as (kind, text) pieces; the page escapes and colours them."""

from __future__ import annotations

import difflib
import re


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Pieces of kind ``same``, ``del`` (only in ``old``) and ``add`` (only in ``new``)."""
    a, b = re.findall(r"\s+|\S+", old), re.findall(r"\s+|\S+", new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("add", "".join(b[j1:j2])))
    return out
