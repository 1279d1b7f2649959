"""The one loader of prompt files: YAML shipped in a stage's ``prompts/`` folder, or a user's file.

Every stage records the hash of the exact text it read in its run manifest, so a changed prompt is
visible (and refused on resume) whichever stage it belongs to.
"""

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


def load_prompt_file(package: str, name: str, override: str | Path | None = None, *,
                     required: tuple[str, ...] = ()) -> PromptFile:
    """``prompts/<name>.yaml`` of ``package`` (e.g. ``xinstruct.inverse``), or the user's file
    ``override`` in its place; ``required`` keys must be present (a typo'd file fails here, not mid-run)."""
    if override:
        path = Path(override)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read prompt file: {exc}") from exc
    else:
        text = resources.files(package).joinpath(f"prompts/{name}.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{override or name}: invalid prompt YAML: {exc}") from exc
    if not isinstance(data, dict) or any(k not in data for k in required):
        needs = " and ".join(f"a '{k}' template" for k in required) or "a YAML mapping"
        raise ConfigError(f"{override or name}: a prompt file needs {needs}")
    return PromptFile(name=name, text=text, data=data)
