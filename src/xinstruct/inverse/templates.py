"""Prompt templates are data files (YAML beside this module); their hashes go into the manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from xinstruct.core.errors import ConfigError


@dataclass(frozen=True)
class PromptFile:
    name: str
    text: str
    data: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def load_prompt(name: str, override: str | Path | None = None) -> PromptFile:
    """The packaged prompt ``name`` (summarize, judge) or a user's YAML file with the same keys."""
    if override:
        path = Path(override)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read prompt file: {exc}") from exc
    else:
        text = resources.files("xinstruct.inverse").joinpath(f"prompts/{name}.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{override or name}: invalid prompt YAML: {exc}") from exc
    if not isinstance(data, dict) or "user" not in data:
        raise ConfigError(f"{override or name}: a prompt file needs a 'user' template")
    return PromptFile(name=name, text=text, data=data)
