"""Resolution of a user's ``--model`` (a registered name, a GGUF file, a Hugging Face directory) into a
model on disk with its identity; the catalog itself is ``catalog.py``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from xinstruct.core.errors import ModelError
from xinstruct.core.hashing import file_sha256
from xinstruct.models import pull as downloads  # a module, so tests can stand in for the download
from xinstruct.models.catalog import DEFAULT_MODEL, hash_memo, installed_path, known_models


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: enough to load it and to name it in a run manifest or cache key."""

    name: str
    path: Path
    format: str  # "gguf" or "hf"
    sha256: str

    def identity(self) -> dict[str, str]:
        return {"name": self.name, "path": str(self.path), "format": self.format, "sha256": self.sha256}


def _sha256(path: Path) -> str:
    return file_sha256(path, memo=hash_memo())


def _hf_dir_hash(path: Path) -> str:
    """Identity of a Hugging Face model directory: hash of its config and weight files' hashes."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.is_file() and (f.suffix in (".safetensors", ".bin", ".json", ".gguf") or f.name == "tokenizer.model"):
            h.update(f.name.encode())
            h.update(_sha256(f).encode())
    return h.hexdigest()


def resolve_model(spec: str | None, *, pull: bool = True) -> ModelRef:
    """Turn a registered name, a GGUF path or a Hugging Face directory into a ModelRef.

    The default model is pulled on first use (with a progress bar) when ``pull`` is true.
    """
    name = spec or DEFAULT_MODEL
    catalog = known_models()
    if name in catalog:
        entry = catalog[name]
        path = installed_path(entry)
        if not path.exists():
            if not pull:
                raise ModelError(f"model '{name}' is not installed; run: xinstruct models pull {name}")
            downloads.pull_model(entry)
        return ModelRef(name=name, path=path, format="gguf", sha256=entry.sha256)
    path = Path(name).expanduser()
    if path.is_file():
        with open(path, "rb") as fh:
            header = fh.read(24)  # magic, version (u32), tensor count (u64), metadata count (u64)
        magic = header[:4]
        if magic != b"GGUF":
            raise ModelError(f"{path}: not a GGUF file (magic {magic!r}); name a .gguf file or a Hugging Face model directory")
        if len(header) < 24 or int.from_bytes(header[4:8], "little") not in (1, 2, 3) or not any(header[8:16]):
            raise ModelError(f"{path}: truncated or corrupt GGUF header (no tensors); download the file again")
        return ModelRef(name=path.stem, path=path.resolve(), format="gguf", sha256=_sha256(path))
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path}: a directory without config.json is not a Hugging Face model directory")
        return ModelRef(name=path.name, path=path.resolve(), format="hf", sha256=_hf_dir_hash(path))
    raise ModelError(
        f"unknown model '{name}': not a registered name ({', '.join(catalog)}), nor an existing GGUF file or model directory"
    )
