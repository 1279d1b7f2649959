"""Run directories: the one run protocol every stage (inverse, agents, eval, train) follows.

A run directory is the unit of resumption. ``run.json`` records everything needed to reproduce
or audit the run in one shape for every stage: stage, resolved config (secrets removed),
fingerprint of the settings that change outputs, input identity, prompt hashes, model identity,
seed and package versions. A stage opens the run *before* it builds anything expensive (a model
load, a pull), so a resume with other settings is refused at once.

Results are appended one JSON line at a time with fsync; a torn last line from a crash is cut
off when the shard is reopened, and ids already present are skipped, so a resumed run neither
redoes nor duplicates work. Whole-file outputs (datasets, the skip log, the summary) are written
atomically through the same object.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import sys
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from xinstruct.core.errors import ConfigError, StorageError
from xinstruct.core.hashing import file_sha256

SECRET_KEYS = frozenset({"api_key"})
"""Config fields never written to a manifest."""

MODEL_KEYS = ("sha256", "served_model", "api")
"""The parts of a model identity that change outputs: the weights (local models), or the model a
server serves and the API it is asked through (the openai backend). Where a model lives (path,
base URL) is recorded but may change between a run and its resume."""

_PACKAGES = ("xinstruct", "llama_cpp_python", "transformers", "torch", "trl", "peft", "datasets", "httpx", "numpy")


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change results (absent ones omitted)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return out


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file + fsync + rename so readers never see half a file."""
    write_jsonl_lines(path, [text])


def atomic_write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as Parquet via a temp file and rename; a refused write is a StorageError naming ``path``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    table = pa.Table.from_pylist(rows)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # pyarrow's IOError is an OSError
        tmp.unlink(missing_ok=True)
        raise StorageError(path, exc.strerror or str(exc)) from exc


def atomic_write_parquet_batches(path: Path, batches: Iterable[list[dict[str, Any]]], schema: Any) -> None:
    """Write row batches as one Parquet file (a row group per batch) via a temp file and rename, so
    no more than one batch is in memory; ``schema`` is the whole file's (:func:`parquet_schema`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for batch in batches:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        os.replace(tmp, path)
    except OSError as exc:  # pyarrow's IOError is an OSError
        tmp.unlink(missing_ok=True)
        raise StorageError(path, exc.strerror or str(exc)) from exc


def parquet_schema(batches: Iterable[list[dict[str, Any]]]) -> Any:
    """The schema ``pa.Table.from_pylist`` infers for all the rows of ``batches`` together,
    found one batch at a time (each batch's inferred schema, unified; a null column takes the
    type a later batch gives it)."""
    import pyarrow as pa

    schema = None
    for batch in batches:
        if batch:
            found = pa.Table.from_pylist(batch).schema
            schema = found if schema is None else pa.unify_schemas([schema, found], promote_options="permissive")
    return schema


def write_jsonl_lines(path: Path, pieces: Iterable[str]) -> int:
    """Write ``pieces`` to ``path`` atomically (temp file, fsync, rename); returns their count.

    When the disk refuses (full, quota, read-only) the temp file is removed and a StorageError names
    ``path``: the old file, if any, stays as it was.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for piece in pieces:
                fh.write(piece)
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(path, exc.strerror or str(exc)) from exc
    return n


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def model_key(identity: dict[str, Any] | None) -> dict[str, Any]:
    """What of a model identity a resume must match (:data:`MODEL_KEYS`).

    Backends name the weights' hash ``model_sha256`` (their cache-key identity), model references
    ``sha256``; both mean the same thing here.
    """
    ident = identity or {}
    return {
        "sha256": ident.get("sha256") or ident.get("model_sha256"),
        "served_model": ident.get("served_model"),
        "api": ident.get("api"),
    }


def redact(config: Any) -> Any:
    """A config dict without secrets (API keys), at any depth."""
    if isinstance(config, dict):
        return {k: redact(v) for k, v in config.items() if k not in SECRET_KEYS}
    if isinstance(config, list):
        return [redact(v) for v in config]
    return config


def input_identity(*paths: str | Path) -> list[dict[str, Any]]:
    """Where a run's input came from and, for files, what it held (a directory has no one digest)."""
    out = []
    for p in paths:
        path = Path(p)
        out.append({"path": str(path.resolve()), "sha256": file_sha256(path) if path.is_file() else None})
    return out


class ShardWriter:
    """Append-only JSONL with one fsync per record; repairs a torn tail on open.

    A row is written unbuffered and synced before ``write`` returns. When the disk refuses it
    (full, quota), the file is cut back to where the row began and a StorageError names the shard,
    so no half row is left even in the file, and every row in it is a finished one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._repair()
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(path, exc.strerror or str(exc)) from exc

    def _repair(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)

    def write(self, row: dict[str, Any]) -> None:
        data = (json.dumps(row, ensure_ascii=False, default=str) + "\n").encode()
        start = os.fstat(self._fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):  # shrinking a file needs no space; best effort all the same
                os.ftruncate(self._fd, start)
            raise StorageError(self.path, exc.strerror or str(exc)) from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a shard; a torn final line (crash mid-write) is ignored."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            if line.strip():
                yield json.loads(line)


class OrderedRows:
    """The rows of result shards in the order of ``key`` (stable: shard, then line), the first row
    of each id kept and the others counted as ``duplicates``. Re-iterable; it holds per row only
    where the row is (shard, byte offset) and its key, and per id the row kept, so outputs of any
    size are assembled in input order without loading the rows."""

    def __init__(self, shards: Sequence[Path], key: str = "order") -> None:
        import numpy as np

        self.shards = list(shards)
        keys, files, offsets = array("q"), array("q"), array("q")
        kept: dict[str, int] = {}
        # a row's id and key are its first two fields as ShardWriter writes them: read only those
        head = re.compile(rb'\{"id": ("(?:[^"\\]|\\.)*"), "' + re.escape(key.encode()) + rb'": (-?\d+)[,}]')
        for f, shard in enumerate(self.shards):
            with open(shard, "rb") as fh:
                pos = 0
                for line in fh:
                    if not line.endswith(b"\n"):
                        break  # a torn final line (crash mid-write), as read_jsonl
                    if line.strip():
                        if m := head.match(line):
                            rid, k = json.loads(m.group(1)), int(m.group(2))
                        else:
                            row = json.loads(line)
                            rid, k = row["id"], row[key]
                        first = kept.get(rid)
                        if first is None or k < keys[first]:
                            kept[rid] = len(keys)
                        keys.append(k)
                        files.append(f)
                        offsets.append(pos)
                    pos += len(line)
        self.duplicates = len(keys) - len(kept)
        keep = np.zeros(len(keys), dtype=bool)
        keep[np.fromiter(kept.values(), dtype=np.int64, count=len(kept))] = True
        del kept
        perm = np.argsort(np.frombuffer(keys, dtype=np.int64) if keys else np.zeros(0, np.int64), kind="stable")
        self._perm = perm[keep[perm]]
        self._files = np.frombuffer(files, dtype=np.int64) if files else np.zeros(0, np.int64)
        self._offsets = np.frombuffer(offsets, dtype=np.int64) if offsets else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._perm)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.at(range(len(self._perm)))

    def at(self, positions: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The rows at these positions of the order (ascending positions read the shards forward)."""
        fh, current = None, -1
        try:
            for k in positions:
                i = self._perm[k]
                f = int(self._files[i])
                if f != current:
                    if fh is not None:
                        fh.close()
                    fh, current = open(self.shards[f], "rb"), f  # noqa: SIM115 - closed below
                fh.seek(int(self._offsets[i]))
                yield json.loads(fh.readline())
        finally:
            if fh is not None:
                fh.close()


class RunDir:
    """One pipeline run's directory; refuses to mix outputs made with different settings."""

    def __init__(self, path: str | Path, stage: str) -> None:
        self.path = Path(path)
        self.stage = stage
        self.resumed = False

    @property
    def manifest_path(self) -> Path:
        return self.path / "run.json"

    @property
    def cache_path(self) -> Path:
        return self.path / "llm-cache.sqlite"

    def shard_path(self, name: str, rank: int = 0) -> Path:
        return self.path / "shards" / f"{name}-{rank:05d}.jsonl"

    def open(
        self,
        *,
        config: dict[str, Any],
        fingerprint: dict[str, Any],
        model: dict[str, Any] | None,
        prompts: dict[str, str],
        seed: int | None,
        input: list[dict[str, Any]] | None = None,
        overwrite: bool = False,
    ) -> bool:
        """Create or reopen the run; returns True when resuming. Raises on a settings mismatch.

        Call it before building the model: ``model`` is the identity the backend will have
        (``llm.factory.BackendPlan.identity``), known without loading or pulling anything.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        resumed = False
        if self.manifest_path.exists():
            previous = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            old_fp = previous.get("fingerprint", {})
            if previous.get("stage") != self.stage:
                raise ConfigError(f"{self.path}: holds a '{previous.get('stage')}' run, not '{self.stage}'; use another --out")
            changed = sorted(k for k in set(old_fp) | set(fingerprint) if old_fp.get(k) != fingerprint.get(k))
            old_model, new_model = model_key(previous.get("model")), model_key(model)
            changed += [f"model.{k}" for k in MODEL_KEYS if old_model[k] != new_model[k]]
            if changed and not overwrite:
                raise ConfigError(
                    f"{self.path}: was made with other settings ({', '.join(changed)}); "
                    "use a new --out, or --overwrite to start it afresh"
                )
            if changed and overwrite:
                self.clear()
            else:
                resumed = True
        manifest = {
            "stage": self.stage,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": sys.argv,
            "config": redact(config),
            "fingerprint": fingerprint,
            "input": input,
            "model": model,
            "prompts": prompts,
            "seed": seed,
            "versions": package_versions(),
        }
        atomic_write_json(self.manifest_path, manifest)
        self.resumed = resumed
        return resumed

    def manifest(self) -> dict[str, Any]:
        """``run.json`` as written by :meth:`open`."""
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def clear(self) -> None:
        """Remove outputs of an earlier run (the LLM call cache is kept: its keys are exact)."""
        for sub in ("shards",):
            d = self.path / sub
            if d.exists():
                for f in d.iterdir():
                    f.unlink()
        for f in self.path.glob("*.jsonl"):
            f.unlink()

    def done_ids(self, name: str, rank: int = 0) -> set[str]:
        return {row["id"] for row in read_jsonl(self.shard_path(name, rank))}

    def writer(self, name: str, rank: int = 0) -> ShardWriter:
        return ShardWriter(self.shard_path(name, rank))

    def shards(self, name: str) -> list[Path]:
        return sorted((self.path / "shards").glob(f"{name}-*.jsonl"))

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        for shard in self.shards(name):
            yield from read_jsonl(shard)

    def ordered_rows(self, name: str, key: str = "order") -> OrderedRows:
        """Every shard's rows by ``key``, first per id (:class:`OrderedRows`)."""
        return OrderedRows(self.shards(name), key)

    def write_rows(self, name: str, rows: Iterable[dict[str, Any]]) -> int:
        """A whole output file ``<name>.jsonl`` (datasets rebuilt from the shards), atomically."""
        return write_jsonl_atomic(self.path / f"{name}.jsonl", rows)

    def write_skips(self, entries: Iterable[dict[str, Any]]) -> int:
        """``skipped.jsonl``: every skipped input or dropped record, with where it came from."""
        return self.write_rows("skipped", entries)

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.path / "summary.json"
        atomic_write_json(path, summary)
        return path


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write a whole JSONL file atomically; returns the row count."""
    return write_jsonl_lines(path, (json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))
