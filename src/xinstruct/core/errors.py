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


class ModelError(XInstructError):
    """A model could not be found, pulled or verified."""
