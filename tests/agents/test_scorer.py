from __future__ import annotations

import pytest

from xinstruct.agents.calls import Caller
from xinstruct.agents.profiles import get_profile
from xinstruct.agents.scorer import merits_and_faults, parse_scores, score_sample
from xinstruct.agents.tasks import CodeTask, TestsTask, parse_instruction

ROW = {"instruction": "Double x.", "solution": "def f(x):\n    return 2 * x", "tests": "assert f(1) == 2",
       "verdict": "failed", "verdict_message": "AssertionError"}


def test_parse_scores_json_and_loose_forms():
    s = parse_scores('{"consistency": 5, "relevance": 4, "difficulty": 2, "total": 4}')
    assert s == {"consistency": 5.0, "relevance": 4.0, "difficulty": 2.0, "total": 4.0}
    loose = parse_scores('{"consistency": 5, relevance: 3, "clarity": "4", "comments": 9')
    assert loose is not None and loose["relevance"] == 3.0 and loose["comments"] == 5.0
    assert loose["total"] == round((5 + 3 + 4 + 5) / 4, 2)
    assert parse_scores("I think it is good.") is None


def test_malformed_output_is_retried_with_another_seed_then_stored_raw(scripted_backend):
    backend = scripted_backend(reply=lambda req, i: "looks fine to me")
    out = score_sample(Caller(backend, 7), get_profile("python"), ROW, "u1", max_tokens=64, retries=1)
    assert out["scores"] is None and "looks fine" in out["raw"] and out["attempts"] == 2
    seeds = [c.params.seed for c in backend.generate_calls]
    assert len(seeds) == 2 and seeds[0] != seeds[1]
    assert "did NOT pass" in backend.generate_calls[0].messages[-1]["content"]


def test_retry_succeeds_on_second_attempt(scripted_backend):
    replies = iter(["garbage", '5, "total": 3'])
    backend = scripted_backend(reply=lambda req, i: next(replies))
    out = score_sample(Caller(backend, 7), get_profile("python"), ROW, "u1", max_tokens=64)
    assert out["scores"] == {"consistency": 5.0, "total": 3.0} and out["attempts"] == 2


def test_merits_and_faults():
    merits, faults = merits_and_faults({"clarity": 5, "comments": 1, "difficulty": 3, "total": 3})
    assert merits == ["clarity"] and faults == ["comments"]


def test_code_and_tests_parsing_is_null_safe():
    java = get_profile("java")
    code = CodeTask("solution", java).format_output("    static int f(int x) { return x; }\n}\npublic class Main {}")
    assert code["solution"].startswith("import java.util.*;") and "public class Main" not in code["solution"]
    wrong = CodeTask("solution", java).format_output("```python\ndef f(): pass\n```")
    assert wrong["solution"] is None and wrong["error"] == "wrong_language"
    tests = TestsTask(get_profile("python")).format_output(" f(1) == 2\nassert f(2) == 4\n```\ntrailing")
    assert tests["tests"] == "assert f(1) == 2\nassert f(2) == 4"
    assert TestsTask(get_profile("python")).format_output("")["tests"] is None
    assert parse_instruction("Task: Write `add(a, b)` returning the sum.\n```python\nx\n```") == "Write `add(a, b)` returning the sum."
    assert parse_instruction("ok") is None


def test_solution_loses_appended_tests_and_instruction_its_list_number():
    py = get_profile("python")
    reply = "def f(x):\n    return x\n\n# Unit tests to check the function\ndef test_f():\n    assert f(1) == 1\n"
    assert CodeTask("solution", py).format_output(reply)["solution"] == "def f(x):\n    return x"
    assert parse_instruction("3. (Python) Write `f(x)` that returns x.") == "Write `f(x)` that returns x."


def test_expected_ratings_weigh_the_digits_at_each_value() -> None:
    import math

    from xinstruct.agents.scorer import PREFIX, ScoreTask, expected_ratings
    from xinstruct.llm.base import Completion

    lp = math.log
    pieces = ["5", ', "', "relevance", '":', " ", "4", ', "', "total", '": ', "5"]
    tops = [{"5": lp(0.5), "4": lp(0.5)}, {}, {}, {}, {}, {"4": lp(0.9), "1": lp(0.05), " ": lp(0.05)}, {}, {}, {},
            {"5": lp(0.2), "3": lp(0.2)}]
    c = Completion(text="".join(pieces), finish_reason="stop", tokens=len(pieces), pieces=pieces, top_logprobs=tops)
    got = expected_ratings(PREFIX, c)
    assert got == {"consistency": 4.5, "relevance": round((4 * 0.9 + 0.05) / 0.95, 3), "total": 4.0}
    scores = ScoreTask(get_profile("python")).format_output(c.text, c)["scores"]
    assert scores == got  # the written digits (5, 4, 5) are replaced by their expectations
    assert ScoreTask(get_profile("python")).format_output(c.text)["scores"] == {"consistency": 5.0, "relevance": 4.0, "total": 5.0}


@pytest.mark.model
def test_expected_scores_rank_a_failing_sample_below_a_passing_one(llamacpp_backend) -> None:
    """On the real model the written digits tie (5 for a correct and for a wrong, failing solution);
    their expectations do not."""
    task = "Write a function add(a, b) that returns the sum of a and b."
    tests = "assert add(1, 2) == 3\nassert add(0, 0) == 0"
    good = {"instruction": task, "solution": "def add(a, b):\n    return a + b", "tests": tests, "verdict": "passed"}
    bad = {"instruction": task, "solution": "def add(a, b):\n    return a * b - 7", "tests": tests, "verdict": "failed",
           "verdict_message": "AssertionError: assert add(1, 2) == 3"}
    caller, py = Caller(llamacpp_backend, 0), get_profile("python")
    exp = {name: score_sample(caller, py, row, name, 96)["scores"] for name, row in (("good", good), ("bad", bad))}
    written = {name: score_sample(caller, py, row, name, 96, expected=False)["scores"]
               for name, row in (("good", good), ("bad", bad))}
    assert written["good"]["correctness"] == written["bad"]["correctness"] == 5.0
    assert exp["good"]["correctness"] > exp["bad"]["correctness"] + 0.5, exp
    assert exp["good"]["total"] > exp["bad"]["total"] + 0.5, exp
    assert all(1.0 <= v <= 5.0 for s in exp.values() for v in s.values())
