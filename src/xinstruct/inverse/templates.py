"""Inverse-Instruct's prompt templates (YAML beside this module), read by the loader in ``core.prompts``."""

from __future__ import annotations

from pathlib import Path

from xinstruct.core.prompts import PromptFile, load_prompt_file


def load_prompt(name: str, override: str | Path | None = None) -> PromptFile:
    """The packaged prompt ``name`` (summarize, judge, roundtrip) or a user's YAML file with the same keys."""
    return load_prompt_file("xinstruct.inverse", name, override, required=("user",))
