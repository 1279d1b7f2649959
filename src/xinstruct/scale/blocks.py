"""The files a cluster run shares between driver and actors: the snippets it reads and the
result blocks the actors write.

``snippets/`` holds the driver stage's output (Parquet: ``id``, input ``order`` and the record as
JSON), so actors read work instead of the driver shipping it. Each batch an actor finishes is one
result file named by a hash of its ids and written atomically: a batch Ray retries (its actor
died after writing) rewrites the same file with the same rows, and a rerun skips every id found
in any result file, so no id is lost or finished twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xinstruct.core.records import Record
from xinstruct.core.runs import RunDir, write_jsonl_atomic

SNIPPETS = "snippets"


def write_snippets(run: RunDir, records: Iterable[tuple[Record, int]], *, per_file: int) -> Path:
    """The records still to do (each with its input order) as Parquet files of ``per_file`` records
    (so the work splits into as many blocks), written as they come: one file's records are held."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = run.path / SNIPPETS
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()

    def flush(part: list[tuple[Record, int]], k: int) -> None:
        table = pa.table({
            "id": [r.id for r, _ in part],
            "order": [order for _, order in part],
            "record": [json.dumps(r.to_dict(), ensure_ascii=False) for r, _ in part],
        })
        tmp = out / f".part-{k:05d}.parquet.tmp-{os.getpid()}"
        pq.write_table(table, tmp)
        os.replace(tmp, out / f"part-{k:05d}.parquet")

    part: list[tuple[Record, int]] = []
    files = 0
    for item in records:
        part.append(item)
        if len(part) == max(1, per_file):
            flush(part, files)
            part, files = [], files + 1
    if part:
        flush(part, files)
    return out


def read_snippets(ray: Any, path: Path) -> Any:
    """The snippet files as a Ray dataset, one block per file.

    The driver reads them (they are small beside the model work) instead of ``read_parquet``'s
    tasks: those need a CPU each, and with every CPU held by a model actor they would never run.
    Each file goes to the object store as it is read (which spills to disk when full), so the
    driver holds one file at a time, not all the work.
    """
    import pyarrow.parquet as pq

    return ray.data.from_arrow_refs([ray.put(pq.read_table(p)) for p in sorted(path.glob("part-*.parquet"))])


def block_name(name: str, ids: Iterable[str]) -> str:
    digest = hashlib.blake2b("\n".join(ids).encode(), digest_size=10).hexdigest()
    return f"{name}-ray-{digest}"


def write_block(run: RunDir, name: str, rows: list[dict[str, Any]]) -> Path:
    """One finished batch as ``shards/<name>-ray-<hash of its ids>.jsonl``, atomically."""
    path = run.path / "shards" / f"{block_name(name, (r['id'] for r in rows))}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(path, rows)
    return path
