"""Run directories: manifest, append-only result shards, summary.

A run directory is the unit of resumption. ``run.json`` records everything needed to reproduce
or audit the run (resolved config, model identity, prompt hashes, package versions, seed).
Results are appended one JSON line at a time with fsync; a torn last line from a crash is cut
off when the shard is reopened, and ids already present are skipped, so a resumed run neither
redoes nor duplicates work.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from xinstruct.core.errors import ConfigError

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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


class ShardWriter:
    """Append-only JSONL with one fsync per record; repairs a torn tail on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held open for appends)

    def _repair(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

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


class RunDir:
    """One pipeline run's directory; refuses to mix outputs made with different settings."""

    def __init__(self, path: str | Path, stage: str) -> None:
        self.path = Path(path)
        self.stage = stage

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
        overwrite: bool = False,
    ) -> bool:
        """Create or reopen the run; returns True when resuming. Raises on a settings mismatch."""
        self.path.mkdir(parents=True, exist_ok=True)
        resumed = False
        if self.manifest_path.exists():
            previous = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            old_fp = previous.get("fingerprint", {})
            if previous.get("stage") != self.stage:
                raise ConfigError(f"{self.path}: holds a '{previous.get('stage')}' run, not '{self.stage}'; use another --out")
            changed = sorted(k for k in set(old_fp) | set(fingerprint) if old_fp.get(k) != fingerprint.get(k))
            if previous.get("model", {}) and model and previous["model"].get("sha256") != model.get("sha256"):
                changed.append("model")
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
            "config": config,
            "fingerprint": fingerprint,
            "model": model,
            "prompts": prompts,
            "seed": seed,
            "versions": package_versions(),
        }
        atomic_write_json(self.manifest_path, manifest)
        return resumed

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

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        for shard in sorted((self.path / "shards").glob(f"{name}-*.jsonl")):
            yield from read_jsonl(shard)

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.path / "summary.json"
        atomic_write_json(path, summary)
        return path


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write a whole JSONL file atomically; returns the row count."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    n = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return n
