"""The catalog of registered models (``catalog.toml``) and where pulled models are installed.

Apart from resolution (``registry``) and download (``pull``) so both can use it without importing
each other.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: what file it is and which PyPI chunks hold it."""

    name: str
    description: str
    file: str
    size: int
    sha256: str
    chunks: tuple[tuple[str, str], ...]
    default: bool = False


def models_dir() -> Path:
    """Where pulled models live: $XDG_CACHE_HOME/xinstruct/models (default ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xinstruct" / "models"


def hash_memo() -> Path:
    """Where model files' sha256 digests are remembered (see ``core.hashing.file_sha256``)."""
    return models_dir() / "hashes.json"


def known_models() -> dict[str, ModelSpec]:
    text = resources.files("xinstruct.models").joinpath("catalog.toml").read_text(encoding="utf-8")
    catalog = tomllib.loads(text)["models"]
    return {
        name: ModelSpec(
            name=name,
            description=entry["description"],
            file=entry["file"],
            size=int(entry["size"]),
            sha256=entry["sha256"],
            chunks=tuple((pkg, member) for pkg, member in entry["chunks"]),
            default=bool(entry.get("default", False)),
        )
        for name, entry in catalog.items()
    }


def _default_name() -> str:
    return next(name for name, spec in known_models().items() if spec.default)


DEFAULT_MODEL = _default_name()


def installed_path(spec: ModelSpec) -> Path:
    return models_dir() / spec.file
