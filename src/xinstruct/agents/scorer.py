"""Reflection scorer: the model rates a sample 1-5 on seven criteria and a total, as JSON.

The execution verdict is given to the scorer as a fact. Unparseable output is retried once with
another derived seed, then stored raw with a null score, so a bad reply never stops the run.

Each rating is read as the expectation of the digit the model writes there (G-Eval's
probability-weighted score): with the digits 1-5 weighted by their probabilities at that token,
a model that writes "5" to almost everything still ranks samples, where the written digit would
tie them all (the embedded 0.5B model wrote total 5 for 14 of 14 seed samples, 12 of which
failed their tests). ``scorer="sampled"`` keeps the written digits.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xinstruct.agents.calls import Caller, Rendered
from xinstruct.agents.profiles import Profile
from xinstruct.agents.tasks import clip, profile_vars, render
from xinstruct.llm.base import Completion

DIMENSIONS: tuple[str, ...] = (
    "consistency", "relevance", "difficulty", "correctness", "clarity", "comments", "ease_of_learning",
)
SCORE_KEYS: tuple[str, ...] = (*DIMENSIONS, "total")
_PAIR = re.compile(r'"?([a-z_]+)"?\s*[:=]\s*"?(\d+(?:\.\d+)?)')
_KEY_BEFORE_VALUE = re.compile(r'"?([a-z_]+)"?\s*:\s*"?$')
TOP_LOGPROBS = 10
"""Candidates per token asked for: enough that the digits 1-5 are among them wherever one is written."""
PREFIX = '{"consistency": '


def expected_ratings(prefix: str, completion: Completion) -> dict[str, float]:
    """Per criterion, the probability-weighted mean of the digits 1-5 at the token where its
    value was written (renormalised over the digits among the top candidates)."""
    out: dict[str, float] = {}
    text = prefix
    for piece, top in zip(completion.pieces or [], completion.top_logprobs or [], strict=False):
        key = _KEY_BEFORE_VALUE.search(text)
        if key and piece.strip()[:1].isdigit():
            weights = {int(t.strip()): math.exp(v) for t, v in top.items() if t.strip() in ("1", "2", "3", "4", "5")}
            if weights:
                out[key.group(1)] = round(sum(k * w for k, w in weights.items()) / sum(weights.values()), 3)
        text += piece
    return out


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

    def format_output(self, text: str, completion: Completion | None = None) -> dict[str, Any]:
        raw = PREFIX + text + "}"
        scores = parse_scores(raw)
        if scores is not None and completion is not None and completion.top_logprobs:
            expected = expected_ratings(PREFIX, completion)
            scores = {k: expected.get(k, v) for k, v in scores.items()}
            if "total" not in expected:  # the written total averaged the written digits: average again
                dims = [scores[k] for k in DIMENSIONS if k in scores]
                scores["total"] = round(sum(dims) / len(dims), 3) if dims else scores["total"]
        return {"scores": scores, "raw": raw}


def score_sample(
    caller: Caller, profile: Profile, row: Mapping[str, Any], key: str, max_tokens: int, retries: int = 1,
    expected: bool = True,
) -> dict[str, Any]:
    """Score with up to ``retries`` re-asks (new derived seed, some temperature) on unparseable output;
    ``expected`` reads each rating as the expectation over the digits (see the module docstring)."""
    task = ScoreTask(profile)
    rendered = task.format_input(row)
    out: dict[str, Any] = {"scores": None, "raw": ""}
    for attempt in range(retries + 1):
        completion = caller.completions(
            rendered, keys=("score", key, attempt), max_tokens=max_tokens, temperature=0.0 if attempt == 0 else 0.7,
            top_logprobs=TOP_LOGPROBS if expected else 0,
        )[0]
        out = task.format_output(completion.text, completion)
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
