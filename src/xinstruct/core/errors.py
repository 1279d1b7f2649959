"""Errors a user can act on: each names what was wrong and where."""

from __future__ import annotations


class XInstructError(Exception):
    """Base for errors reported to the user without a traceback."""


class ConfigError(XInstructError):
    """An option or config file value is invalid."""


class InputError(XInstructError):
    """Input data is unusable; carries the file and (when known) the line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = path or ""
        if path and line is not None:
            where = f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class BackendError(XInstructError):
    """An LLM backend failed after its retries; finished work is kept."""


class StorageError(XInstructError):
    """A run's file could not be written (disk full, quota, read-only); nothing half-written is kept."""

    def __init__(self, path: str | object, reason: str) -> None:
        self.path = str(path)
        super().__init__(
            f"{path}: cannot write ({reason}); free space or use another --out, then run the same command "
            "again: finished work is kept and the run resumes"
        )


class ModelError(XInstructError):
    """A model could not be found, pulled or verified."""
