"""Per-call seeds derived from the run seed and a record's identity.

A shared random stream would make a resumed run differ from an uninterrupted one; hashing the
identity gives every (record, candidate) the same seed whatever order or subset runs.
"""

from __future__ import annotations

import hashlib


def derive_seed(run_seed: int, *keys: object) -> int:
    """A 31-bit seed from the run seed and any identifying keys."""
    text = "\x1f".join([str(run_seed), *(str(k) for k in keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
