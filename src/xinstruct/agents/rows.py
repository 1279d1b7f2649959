"""Output rows of an agents run: SFT rows of kept samples, and rejected samples with their reason."""

from __future__ import annotations

from typing import Any

from xinstruct.agents.dpo import user_message
from xinstruct.core.fences import fence

SOURCE = "xinstruct-agents"


def sft_row(sample: dict[str, Any]) -> dict[str, Any]:
    lang = sample["language"]
    answer = f"{fence(sample['solution'], lang)}\n\nUnit tests:\n\n{fence(sample['tests'], lang)}"
    return {
        "id": sample["id"],
        "messages": [
            {"role": "user", "content": user_message(sample["instruction"], lang)},
            {"role": "assistant", "content": answer},
        ],
        **{k: sample.get(k) for k in (
            "instruction", "solution", "tests", "language", "agent", "round", "stage", "evolution",
            "critiques", "parents", "scores", "verdict", "first_verdict", "repairs", "tests_verdict",
            "model_tests", "agreement",
        )},
        "source": SOURCE,
    }


def rejected_row(sample: dict[str, Any], reason: str) -> dict[str, Any]:
    keep = ("id", "stage", "round", "agent", "language", "instruction", "solution", "tests", "parents",
            "evolution", "verdict", "verdict_message", "first_verdict", "repairs", "scores", "score_raw", "raw",
            "tests_verdict", "model_tests", "agreement")
    return {**{k: sample.get(k) for k in keep}, "reason": reason, "source": SOURCE}
