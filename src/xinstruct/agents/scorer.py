"""Reflection scorer: the model rates a sample 1-5 on seven criteria and a total, as JSON.

The execution verdict is given to the scorer as a fact. Unparseable output is retried once with
another derived seed, then stored raw with a null score, so a bad reply never stops the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xinstruct.agents.calls import Caller, Rendered
from xinstruct.agents.profiles import Profile
from xinstruct.agents.tasks import clip, profile_vars, render

DIMENSIONS: tuple[str, ...] = (
    "consistency", "relevance", "difficulty", "correctness", "clarity", "comments", "ease_of_learning",
)
SCORE_KEYS: tuple[str, ...] = (*DIMENSIONS, "total")
_PAIR = re.compile(r'"?([a-z_]+)"?\s*[:=]\s*"?(\d+(?:\.\d+)?)')


def execution_fact(verdict: str | None, message: str = "") -> str:
    if verdict == "passed":
        return "the solution passed all its unit tests in the sandbox."
    if verdict is None:
        return "the solution was not executed."
    detail = f" ({message[:120]})" if message else ""
    return f"the solution did NOT pass its unit tests: {verdict}{detail}."


def parse_scores(text: str) -> dict[str, float] | None:
    """Scores from a JSON-ish reply; None when no criterion could be read."""
    start = text.find("{")
    body = text[start:] if start >= 0 else text
    end = body.find("}")
    body = body[: end + 1] if end >= 0 else body + "}"
    found: dict[str, Any] = {}
    try:
        loaded = json.loads(body)
        if isinstance(loaded, dict):
            found = loaded
    except json.JSONDecodeError:
        found = {m.group(1): m.group(2) for m in _PAIR.finditer(body)}
    scores: dict[str, float] = {}
    for key in SCORE_KEYS:
        value = found.get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        scores[key] = min(5.0, max(1.0, number))
    dims = [scores[k] for k in DIMENSIONS if k in scores]
    if not dims and "total" not in scores:
        return None
    if "total" not in scores:
        scores["total"] = round(sum(dims) / len(dims), 2)
    return scores


@dataclass(frozen=True)
class ScoreTask:
    profile: Profile

    def format_input(self, row: Mapping[str, Any]) -> Rendered:
        values = {
            **profile_vars(self.profile),
            "instruction": clip(str(row["instruction"]), 800),
            "solution": clip(str(row["solution"]), 1500),
            "tests": clip(str(row.get("tests") or ""), 800),
            "execution": execution_fact(row.get("verdict"), str(row.get("verdict_message") or "")),
        }
        return render("score", values, stop=("}",))

    def format_output(self, text: str, row: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raw = '{"consistency": ' + text + "}"
        return {"scores": parse_scores(raw), "raw": raw}


def score_sample(
    caller: Caller, profile: Profile, row: Mapping[str, Any], key: str, max_tokens: int, retries: int = 1
) -> dict[str, Any]:
    """Score with up to ``retries`` re-asks (new derived seed, some temperature) on unparseable output."""
    task = ScoreTask(profile)
    rendered = task.format_input(row)
    out: dict[str, Any] = {"scores": None, "raw": ""}
    for attempt in range(retries + 1):
        text = caller.complete(
            rendered, keys=("score", key, attempt), max_tokens=max_tokens, temperature=0.0 if attempt == 0 else 0.7
        )[0]
        out = task.format_output(text)
        out["attempts"] = attempt + 1
        if out["scores"] is not None:
            return out
    return out


def merits_and_faults(scores: Mapping[str, float] | None) -> tuple[list[str], list[str]]:
    """Criteria rated high (>=4) and low (<=2): what the next prompt should keep and avoid."""
    if not scores:
        return [], []
    merits = [k.replace("_", " ") for k in DIMENSIONS if scores.get(k, 0) >= 4]
    faults = [k.replace("_", " ") for k in DIMENSIONS if 0 < scores.get(k, 0) <= 2]
    return merits, faults
