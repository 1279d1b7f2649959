"""Render a model's own chat template so any backend can prefill the assistant reply.

OpenAI-style chat endpoints cannot continue a partial assistant message portably, so the
prompt is rendered here (from the GGUF metadata or ``tokenizer_config.json``) and sent as text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2.sandbox import ImmutableSandboxedEnvironment

from xinstruct.core.errors import ModelError
from xinstruct.llm.base import Message


def _raise(message: str) -> None:
    raise ModelError(f"chat template: {message}")


@dataclass(frozen=True)
class ChatTemplate:
    source: str
    bos_token: str = ""
    eos_token: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def render(self, messages: Sequence[Message], prefix: str = "") -> str:
        """The prompt text for ``messages`` with the generation prompt, then ``prefix``; no messages
        means a raw completion of ``prefix``."""
        if not messages:
            return prefix
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        text = env.from_string(self.source).render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=True,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )
        return text + prefix

    @classmethod
    def from_gguf(cls, path: str | Path) -> ChatTemplate:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        field = reader.fields.get("tokenizer.chat_template")
        if field is None:
            raise ModelError(f"{path}: GGUF has no tokenizer.chat_template; name a chat model")
        return cls(source=str(field.contents()))

    @classmethod
    def from_hf_dir(cls, path: str | Path) -> ChatTemplate:
        p = Path(path)
        cfg_path = p / "tokenizer_config.json"
        jinja_path = p / "chat_template.jinja"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.exists() else {}
        source = jinja_path.read_text(encoding="utf-8") if jinja_path.exists() else cfg.get("chat_template")
        if not source:
            raise ModelError(f"{p}: no chat template (tokenizer_config.json or chat_template.jinja)")

        def tok(name: str) -> str:
            value = cfg.get(name) or ""
            return value.get("content", "") if isinstance(value, dict) else str(value)

        return cls(source=source, bos_token=tok("bos_token"), eos_token=tok("eos_token"))
