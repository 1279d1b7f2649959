"""The two LLM tasks of Inverse-Instruct as pure ``format_input`` / ``format_output`` pairs.

They hold no backend: a step builds requests with ``format_input`` and parses replies with
``format_output``. A reply that cannot be used keeps its row, with nulls and the raw text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xinstruct.core.fences import fence
from xinstruct.core.instructions import clean_instruction
from xinstruct.core.languages import display_name
from xinstruct.core.prompts import PromptFile
from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import MISSING_LOGPROB, Message


def _language_label(language: str | None) -> str:
    return display_name(language) if language else ""


@dataclass(frozen=True)
class SummarizeTask:
    """Code snippet -> candidate instruction, with a prefilled "Write a <language>" reply start."""

    prompt: PromptFile

    def prefix(self, language: str | None, seed: int, record_id: str, index: int) -> str:
        """The paper's random reply prefix, drawn per candidate from the record's identity."""
        verbs = self.prompt.data["prefixes"]
        verb = verbs[derive_seed(seed, "prefix", record_id, index) % len(verbs)]
        label = _language_label(language)
        text = self.prompt.data.get("prefix_template", "{verb} {language}").format(verb=verb, language=label)
        return text.rstrip() if label else verb

    def format_input(self, code: str, language: str | None) -> list[Message]:
        user = self.prompt.data["user"].format(fenced_code=fence(code, language), code=code, language=_language_label(language))
        messages: list[Message] = []
        if self.prompt.data.get("system"):
            messages.append({"role": "system", "content": self.prompt.data["system"]})
        messages.append({"role": "user", "content": user})
        return messages

    def format_output(self, prefix: str, text: str) -> dict[str, Any]:
        """The instruction is the prefix plus the continuation, cleaned (``core/instructions.py``).

        A rejected or empty candidate keeps its row: ``instruction`` null, ``rejected`` the
        reason, ``raw`` the reply as generated (without the prefix).
        """
        body = text.split("```")[0]
        if not body.strip():
            return {"instruction": None, "raw": text, "rejected": "empty", "rule": None, "edits": []}
        cleaned = clean_instruction(prefix + body)
        return {"instruction": cleaned.text, "raw": text, "rejected": cleaned.reason, "rule": cleaned.rule,
                "edits": list(cleaned.edits)}


@dataclass(frozen=True)
class JudgeTask:
    """(instruction, code) -> p(Yes) / (p(Yes) + p(No)) from the first reply token."""

    prompt: PromptFile

    @property
    def yes(self) -> tuple[str, ...]:
        return tuple(self.prompt.data["yes_tokens"])

    @property
    def no(self) -> tuple[str, ...]:
        return tuple(self.prompt.data["no_tokens"])

    def candidates(self) -> tuple[str, ...]:
        return self.yes + self.no

    def format_input(self, instruction: str, code: str, language: str | None) -> list[Message]:
        user = self.prompt.data["user"].format(
            instruction=instruction, fenced_code=fence(code, language), code=code, language=_language_label(language)
        )
        messages: list[Message] = []
        if self.prompt.data.get("system"):
            messages.append({"role": "system", "content": self.prompt.data["system"]})
        messages.append({"role": "user", "content": user})
        return messages

    def format_output(self, logprobs: dict[str, float]) -> dict[str, Any]:
        """Case and leading-space variants are summed; a variant the backend did not return is -100."""

        def mass(variants: tuple[str, ...]) -> float:
            return sum(math.exp(logprobs.get(v, MISSING_LOGPROB)) for v in variants)

        p_yes, p_no = mass(self.yes), mass(self.no)
        total = p_yes + p_no
        score = p_yes / total if total > 0 else None
        return {"score": score, "p_yes": p_yes, "p_no": p_no}
