"""The LLM call cache of a cluster run: one SQLite segment per actor, one writer each.

SQLite's locking is not to be trusted on shared (network) file systems, so no two processes
write one file: each actor writes ``cache/segment-<uuid>.sqlite`` (rollback journal, no WAL) and
reads, read-only, the run's ``llm-cache.sqlite`` and every segment that existed when it started
(a replaced actor finds the calls its predecessor finished). :func:`merge_segments` folds the
segments into ``llm-cache.sqlite``; the driver does it after a run, ``xinstruct cache merge`` after
an interrupted one. So a local run's cache seeds a cluster run and a merged cluster cache seeds a
local one: the keys are the same (``llm/cached.py``).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinstruct.core.cache import CallCache

SEGMENTS = "cache"
MAIN = "llm-cache.sqlite"


def segment_paths(run_path: Path) -> list[Path]:
    return sorted((run_path / SEGMENTS).glob("segment-*.sqlite"))


def _open_readonly(path: Path, *, immutable: bool) -> sqlite3.Connection:
    # the main cache may be in WAL mode (a local run's): nothing writes it during a cluster run, so
    # it is opened immutable (no -shm needed); segments use the rollback journal and normal locks
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"file:{path}?{flags}", uri=True, check_same_thread=False)


class SegmentCache(CallCache):
    """A :class:`CallCache` writing its own segment and reading the run's earlier calls too."""

    def __init__(self, run_path: str | Path) -> None:
        run_path = Path(run_path)
        earlier = segment_paths(run_path)
        super().__init__(run_path / SEGMENTS / f"segment-{uuid.uuid4().hex}.sqlite", wal=False)
        self._readers = [_open_readonly(p, immutable=False) for p in earlier]
        main = run_path / MAIN
        if main.exists():
            self._readers.insert(0, _open_readonly(main, immutable=True))
        self.stored = 0
        """Calls this actor made and stored (counted under the lock: an actor's threads share it)."""

    def get(self, key: str) -> Any | None:
        with self._lock:
            for db in (self._db, *self._readers):
                row = db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    self.hits += 1
                    return json.loads(row[0])
            self.misses += 1
        return None

    def put(self, key: str, kind: str, request: Any, response: Any) -> None:
        super().put(key, kind, request, response)
        with self._lock:
            self.stored += 1

    def close(self) -> None:
        with self._lock:
            for db in self._readers:
                db.close()
        super().close()


@dataclass
class MergeReport:
    segments: int
    rows: int
    """Calls stored across the segments (a call stored twice counts twice)."""
    added: int
    """Calls new to the main cache."""
    unreadable: list[str] = field(default_factory=list)
    """Segments SQLite could not read (a machine crashed while one was written), renamed
    ``*.unreadable`` and left out; their calls are made again when needed."""


def merge_segments(run_path: str | Path) -> MergeReport:
    """Fold every segment into ``llm-cache.sqlite`` and delete it; run it when no actor writes."""
    run_path = Path(run_path)
    paths = segment_paths(run_path)
    main = CallCache(run_path / MAIN)
    rows = added = 0
    unreadable: list[str] = []
    try:
        for path in paths:
            before = len(main)
            try:
                src = sqlite3.connect(str(path))  # read-write: a killed writer's hot journal is rolled back
                try:
                    batch = src.execute("SELECT key, kind, request, response, created FROM calls").fetchall()
                finally:
                    src.close()
            except sqlite3.DatabaseError as exc:
                unreadable.append(f"{path.name}: {exc}")
                path.rename(path.with_name(path.name + ".unreadable"))
                continue
            with main._lock:
                main._db.executemany("INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?)", batch)
            rows += len(batch)
            added += len(main) - before
            path.unlink()
            path.with_name(path.name + "-journal").unlink(missing_ok=True)
    finally:
        main.close()
    return MergeReport(len(paths), rows, added, unreadable)
