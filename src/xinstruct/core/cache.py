"""Crash-safe cache of LLM calls (SQLite in WAL mode).

Keys hash exactly what determines a call's output: backend kind and model identity, messages,
reply prefix, sampling parameters and seed. Batch size, concurrency and timing are not part of
the key, so a resumed run with other throughput settings still hits every finished call.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xinstruct.core.errors import StorageError


def hash_key(payload: Any) -> str:
    """Stable sha256 of a JSON-serialisable payload."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """SQLite's refusals to write (disk full, I/O error, read-only) as a StorageError naming the cache;
    the failed transaction is rolled back by SQLite, so no half call is ever stored."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StorageError(path, f"SQLite: {exc}") from exc


class CallCache:
    """Persistent key/value store for finished LLM calls; every put is committed at once."""

    def __init__(self, path: str | Path, *, wal: bool = True) -> None:
        """``wal=False`` is for a file on a shared (network) file system, which gives WAL no
        shared memory between processes: a rollback journal, and no fsync per commit (with one,
        a call costs ~13 ms here instead of ~0.4). A killed process loses nothing committed (the
        OS holds it); a crash of the machine may lose the file, whose calls are then redone.
        Only a file one process writes (a cluster actor's segment, ``scale/segments.py``) uses it."""
        self.path = Path(path)
        self._lock = threading.Lock()
        with _writing(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            if wal:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            else:
                self._db.execute("PRAGMA journal_mode=TRUNCATE")
                self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, kind TEXT, request TEXT, response TEXT, created REAL)"
            )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, kind: str, request: Any, response: Any) -> None:
        with self._lock, _writing(self.path):
            self._db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?)",
                (key, kind, json.dumps(request, ensure_ascii=False), json.dumps(response, ensure_ascii=False), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
