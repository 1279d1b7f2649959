"""A SQLite index of a run's samples: filters and full-text search page through it, so a run of
100K rows is never held in memory; the rows themselves stay in the run's files."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinstruct.browse.samples import MAX_TEXT, read_row, rows_with_offsets, sources
from xinstruct.report.rundata import Run

_SCHEMA = """
CREATE TABLE samples (rowid INTEGER PRIMARY KEY, sid TEXT, language TEXT, verdict TEXT, score REAL,
                      round INTEGER, selected INTEGER, title TEXT, file INTEGER, offset INTEGER);
CREATE TABLE files (file INTEGER PRIMARY KEY, path TEXT);
CREATE VIRTUAL TABLE fts USING fts5(text, content='', tokenize='unicode61');
"""


@dataclass
class Query:
    """What the list page asks for; every field optional."""

    q: str = ""
    language: str = ""
    verdict: str = ""
    min_score: float | None = None
    max_score: float | None = None
    round: int | None = None
    selected: str = ""  # "", "yes", "no"
    page: int = 1


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


@dataclass
class Index:
    run: Run
    db: sqlite3.Connection
    page_size: int = 50
    unreadable: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, run: Run, path: Path, page_size: int = 50) -> Index:
        """Index every sample of ``run`` into a new SQLite file at ``path`` (streamed, batched)."""
        files, fields_of = sources(run)
        db = sqlite3.connect(str(path), check_same_thread=False)
        db.executescript(_SCHEMA)
        index = cls(run, db, page_size)
        rowid = 0
        batch: list[tuple[Any, ...]] = []
        texts: list[tuple[int, str]] = []
        for fno, f in enumerate(files):
            db.execute("INSERT INTO files VALUES (?, ?)", (fno, str(f)))
            for _line, offset, row in rows_with_offsets(f):
                if row is None:
                    index.unreadable[f"{f.name}: not a JSON object"] += 1
                    continue
                fl = fields_of(row)
                rowid += 1
                batch.append((rowid, fl.sid, fl.language, fl.verdict, fl.score, fl.round, int(fl.selected),
                              fl.title[:300], fno, offset))
                texts.append((rowid, fl.text[:MAX_TEXT]))
                if len(batch) >= 2000:
                    index._flush(batch, texts)
        index._flush(batch, texts)
        db.executescript("CREATE INDEX ix_lang ON samples(language); CREATE INDEX ix_verdict ON samples(verdict); "
                         "CREATE INDEX ix_sid ON samples(sid);")
        db.commit()
        db.execute("PRAGMA query_only = ON")  # the app only reads from here on
        return index

    def _flush(self, batch: list[tuple[Any, ...]], texts: list[tuple[int, str]]) -> None:
        self.db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        self.db.executemany("INSERT INTO fts(rowid, text) VALUES (?, ?)", texts)
        batch.clear()
        texts.clear()

    def choices(self, column: str) -> list[str]:
        if column not in ("language", "verdict", "round"):
            raise ValueError(column)
        return [str(r[0]) for r in self.db.execute(
            f"SELECT DISTINCT {column} FROM samples WHERE {column} IS NOT NULL ORDER BY {column}")]

    def search(self, query: Query) -> Page:
        where, args = [], []
        if query.q.strip():
            # a phrase query: the user's words are matched as text, never as FTS syntax
            where.append("rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            args.append('"' + query.q.strip().replace('"', '""') + '"')
        for col in ("language", "verdict"):
            if value := getattr(query, col):
                where.append(f"{col} = ?")
                args.append(value)
        if query.min_score is not None:
            where.append("score >= ?")
            args.append(query.min_score)
        if query.max_score is not None:
            where.append("score <= ?")
            args.append(query.max_score)
        if query.round is not None:
            where.append("round = ?")
            args.append(query.round)
        if query.selected in ("yes", "no"):
            where.append("selected = ?")
            args.append(int(query.selected == "yes"))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.db.execute(f"SELECT COUNT(*) FROM samples {clause}", args).fetchone()[0]
        pages = max(1, -(-total // self.page_size))
        page = min(max(1, query.page), pages)
        cur = self.db.execute(
            f"SELECT rowid, sid, language, verdict, score, round, selected, title FROM samples {clause} "
            "ORDER BY rowid LIMIT ? OFFSET ?", [*args, self.page_size, (page - 1) * self.page_size])
        cols = [d[0] for d in cur.description]
        return Page([dict(zip(cols, r, strict=True)) for r in cur], total, page, pages)

    def row(self, rowid: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(index fields, the full row read from its file) of one sample, or None."""
        hit = self.db.execute(
            "SELECT s.rowid, sid, language, verdict, score, round, selected, title, f.path, offset "
            "FROM samples s JOIN files f USING (file) WHERE s.rowid = ?", (rowid,)).fetchone()
        if hit is None:
            return None
        keys = ("rowid", "sid", "language", "verdict", "score", "round", "selected", "title")
        return dict(zip(keys, hit[:8], strict=True)), read_row(Path(hit[8]), hit[9])

    def by_sid(self, sid: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        hit = self.db.execute("SELECT rowid FROM samples WHERE sid = ? LIMIT 1", (sid,)).fetchone()
        return None if hit is None else self.row(hit[0])

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
