"""Scripted replies that play each agents task by recognising its prompt (pipeline-logic tests only)."""

from __future__ import annotations

import re
import zlib

from xinstruct.llm.base import GenerateRequest

GOOD_SCORE = '4, "relevance": 4, "difficulty": 3, "correctness": 5, "clarity": 4, "comments": 2, "ease_of_learning": 4, "total": 4'


def role(req: GenerateRequest) -> str:
    user = req.messages[-1]["content"]
    if req.prefix.startswith('{"consistency"'):
        return "score"
    if "These tests did not pass" in user:
        return "repair"
    if "Write 3 to 5 unit tests" in user:
        return "tests"
    if "suggest one concrete improvement" in user:
        return "critique"
    if "different calls of" in user:
        return "calls"
    if req.prefix.startswith("```"):
        return "solution"
    return "instruction"


def continuing(req: GenerateRequest, tests: str) -> str:
    """``tests`` (text after Python's ``assert `` scaffold) minus what the prompt's reply prefix
    already holds (the prefilled call of the solution's function)."""
    given = req.prefix.split("\n", 1)[-1]
    extra = given[len("assert "):] if given.startswith("assert ") else ""
    return tests[len(extra):] if extra and tests.startswith(extra) else tests


def python_reply(req: GenerateRequest, i: int) -> str:
    """Valid Python: a function named after the prompt's hash, tests that pass, parseable scores."""
    user = req.messages[-1]["content"]
    r = role(req)
    if r == "score":
        return GOOD_SCORE
    if r == "critique":
        return "Handle the empty list as well."
    if r == "solution":
        name = "f_" + str(zlib.crc32(user.encode()) % 10_000)
        return f"def {name}(x):\n    return x * 2\n"
    if r in ("tests", "repair"):
        name = re.search(r"def (f_\d+)", user)
        fn = name.group(1) if name else "missing"
        return continuing(req, f"{fn}(2) == 4\nassert {fn}(0) == 0\n")
    words = " ".join(w for w in re.findall(r"[a-z]+", user)[:12])
    return f"Write a function that doubles a number, variant {zlib.crc32(user.encode()) % 997} ({words})."


class Crash(RuntimeError):
    """Stands for a kill in the middle of a run."""


def crashing_after(n: int, reply=python_reply):
    """A reply function that raises on its (n+1)-th call."""
    count = {"calls": 0}

    def inner(req: GenerateRequest, i: int) -> str:
        count["calls"] += 1
        if count["calls"] > n:
            raise Crash(f"killed after {n} calls")
        return reply(req, i)

    return inner


def wrong_first_tests_reply(req: GenerateRequest, i: int) -> str:
    """Like ``python_reply``, but first tests expect a wrong value; the repair gets it right."""
    if role(req) == "tests":
        name = re.search(r"def (f_\d+)", req.messages[-1]["content"])
        return continuing(req, f"{name.group(1) if name else 'missing'}(2) == 5\n")
    return python_reply(req, i)


def varied_scores_reply(req: GenerateRequest, i: int) -> str:
    """Like ``python_reply``, but samples of the rounds (whose task names the team's memory) score 5
    and seed samples 3, so the rounds' samples evict the seeds from a full memory."""
    if role(req) == "score":
        total = 5 if "memory" in req.messages[-1]["content"] else 3
        return GOOD_SCORE.rsplit('"total": ', 1)[0] + f'"total": {total}'
    return python_reply(req, i)
