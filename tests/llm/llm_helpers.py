"""Checks shared by the backends' tests."""

from __future__ import annotations

from xinstruct.llm.base import Completion


def check_top_logprobs(c: Completion, k: int) -> None:
    """Greedy completion with ``top_logprobs=k``: one entry per token, the text is what the pieces
    spell, and each chosen piece is the likeliest of its position's candidates."""
    assert c.pieces is not None and c.top_logprobs is not None
    assert len(c.pieces) == len(c.top_logprobs) >= c.tokens > 0
    assert "".join(c.pieces).startswith(c.text)
    for piece, top in zip(c.pieces, c.top_logprobs, strict=True):
        assert 0 < len(top) <= k and all(v <= 1e-6 for v in top.values()), top
        assert piece in top and top[piece] >= max(top.values()) - 1e-3, (piece, top)
