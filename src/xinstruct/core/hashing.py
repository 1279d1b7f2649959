"""sha256 of a file, the identity a run manifest or a model reference records."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def file_sha256(path: Path, *, memo: Path | None = None, chunk: int = 1 << 22) -> str:
    """sha256 of the bytes of ``path``. With ``memo`` (a JSON file), digests are remembered by
    (path, size, mtime), so a 500 MB model is not rehashed by every run that names it."""
    if memo is None:
        return _digest(path, chunk)
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        known = {}
    if key in known:
        return str(known[key])
    digest = _digest(path, chunk)
    known[key] = digest
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, memo)
    return digest


def _digest(path: Path, chunk: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
