"""Preference data (Ds4): K sampled responses per kept query, judged by the query's own tests.

Pairs are in TRL's conversational DPO format: ``prompt`` [user], ``chosen`` / ``rejected``
[assistant]. Each failing response is paired with a passing one (sampled responses first, the
kept reference solution when none of them passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xinstruct.agents.collaborate import Team
from xinstruct.agents.profiles import get_profile
from xinstruct.agents.tasks import CodeTask, profile_vars
from xinstruct.agents.verify import run_tests
from xinstruct.core.fences import fence

DPO_TEMPERATURE = 0.9


def user_message(instruction: str, language: str) -> str:
    return f"{instruction.strip()}\n\nWrite the solution in {get_profile(language).display}."


def build_pairs(
    sample_id: str,
    instruction: str,
    language: str,
    reference: str,
    responses: Sequence[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Pairs from ``(code, verdict)`` responses; no failing response, or nothing passing, gives none."""
    passing = [code for code, verdict in responses if verdict == "passed"]
    failing = [(code, verdict) for code, verdict in responses if verdict != "passed"]
    chosen_pool = list(dict.fromkeys(passing)) or [reference]
    prompt = [{"role": "user", "content": user_message(instruction, language)}]
    pairs = []
    for i, (code, verdict) in enumerate(failing):
        chosen = chosen_pool[i % len(chosen_pool)]
        if chosen.strip() == code.strip():
            continue
        pairs.append({
            "id": f"{sample_id}:{i}",
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": fence(chosen, language)}],
            "rejected": [{"role": "assistant", "content": fence(code, language)}],
            "language": language,
            "source_id": sample_id,
            "rejected_verdict": verdict,
            "chosen_is_reference": not passing,
        })
    return pairs


def dpo_unit(team: Team, row: dict[str, Any], unit: str) -> dict[str, Any]:
    """Sample K responses for a kept row, run them against its tests, and pair them."""
    lang = row["language"]
    profile = get_profile(lang)
    task = CodeTask("solution", profile)
    k = team.cfg.dpo_samples
    texts = team.caller.complete(
        task.format_input({**profile_vars(profile), "instruction": row["instruction"]}),
        keys=(unit, "responses"), max_tokens=team.cfg.solution_tokens, temperature=DPO_TEMPERATURE, n=k,
    )
    codes = [task.format_output(t)["solution"] for t in texts]
    runnable = [(i, c) for i, c in enumerate(codes) if c]
    verdicts = run_tests(team.sandbox, lang, [(c, row["tests"]) for _, c in runnable], team.limits)
    responses: list[tuple[str, str]] = [
        (code, v["verdict"]) for (_, code), v in zip(runnable, verdicts, strict=True)
    ]
    pairs = build_pairs(row["id"], row["instruction"], lang, row["solution"], responses)
    return {
        "id": unit, "source_id": row["id"], "language": lang, "sampled": k, "unparseable": k - len(runnable),
        "verdicts": [v for _, v in responses], "pairs": pairs,
    }
