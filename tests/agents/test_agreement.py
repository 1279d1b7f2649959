"""Verification by agreement: clustering and decision rules (pure), and the agents loop with
``--verify agreement|both`` (scripted backend, real sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinstruct.agents.agreement import cluster_solutions, decide, main_function
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.pipeline import AgentsRun
from xinstruct.core.config import build_config
from xinstruct.core.errors import ConfigError
from xinstruct.sandbox.capture import Capture

from .helpers import continuing, python_reply, role


def cap(*outputs, unstable=(), verdict="passed"):
    return Capture(list(outputs), verdict, unstable=list(unstable))


def test_solutions_cluster_by_outputs_on_stable_calls_only():
    caps = [cap("1", "2", "x"), cap("1", "2", "y"), cap("1", "3", "z", unstable=[2]), cap(None, None, None)]
    clusters = cluster_solutions(caps, 3, tests_pass=[False, True, False, True])
    assert [c.members for c in clusters] == [[0, 1], [2]]  # call 2 is unstable; 3 never ran
    assert clusters[0].outputs == ["1", "2", None] and clusters[0].tests_passed == 1


def test_decision_rules():
    big = [cap("1", "4"), cap("1", "4"), cap("1", "4"), cap("2", "5")]
    d = decide(cluster_solutions(big, 2), min_votes=3)
    assert d.kept and d.solution == 0 and d.reason == "agreed"
    assert decide(cluster_solutions(big, 2), min_votes=4).reason == "too_few_votes"
    tie = [cap("1", "4"), cap("1", "4"), cap("2", "5"), cap("2", "5")]
    assert decide(cluster_solutions(tie, 2), min_votes=2).reason == "tied_clusters"
    # the model's own tests break the tie (dual agreement)
    d = decide(cluster_solutions(tie, 2, [False, False, True, False]), min_votes=2, dual=True)
    assert d.kept and d.solution == 2
    assert decide(cluster_solutions(big, 2, [False] * 4), min_votes=3, dual=True).reason == "tests_disagree"
    errors = [cap("!ValueError", "4"), cap("!ValueError", "4"), cap("!ValueError", "4")]
    assert decide(cluster_solutions(errors, 2), min_votes=3).reason == "too_few_checks"  # one value to test
    assert decide([], min_votes=1).reason == "no_runnable_solution"


def test_the_calls_exercise_the_function_the_instruction_names():
    code = "def helper(x):\n    return x\n\ndef total(xs):\n    return sum(map(helper, xs))\n"
    assert main_function(code, "Write `total(xs)` that sums a list.", "python") == "total"
    assert main_function(code, "Sum a list.", "python") == "helper"


def test_config_checks_the_agreement_options():
    with pytest.raises(ConfigError):
        build_config(AgentsConfig, {"solutions": 3, "min_votes": 4})
    with pytest.raises(ConfigError):
        build_config(AgentsConfig, {"verify": "votes"})


def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed.jsonl"
    rows = [{"language": "python", "code": f"def g{i}(x):\n    return x + {i}\n"} for i in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def agreeing_reply(wrong_votes: int):
    """Solution 0 doubles; of the extra solutions, ``wrong_votes`` add 2 instead. The model's own
    tests expect a wrong value (7), which today's verification trusts."""

    def reply(req, i):
        r = role(req)
        if r == "calls":
            return "2)\nf_1(0)\nf_1(5)\nprint(f_1(1))\nf_1(-3)\n"
        if r in ("tests", "repair"):
            return continuing(req, "f_1(2) == 7\n")
        if r == "solution":
            body = "x + 2" if req.params.n > 1 and i < wrong_votes else "x * 2"
            return f"def f_1(x):\n    return {body}\n"
        return python_reply(req, i)

    return reply


@pytest.mark.parametrize("mode", ["agreement", "both"])
def test_agreeing_solutions_are_kept_with_tests_written_from_their_outputs(tmp_path, scripted_backend, mode):
    values = {"languages": "python", "rounds": 0, "dpo_samples": 0, "verify": mode, "solutions": 5,
              "min_votes": 3, "repair_rounds": 0}
    backend = scripted_backend(reply=agreeing_reply(wrong_votes=1))
    summary = AgentsRun(build_config(AgentsConfig, values), seed_file(tmp_path), tmp_path / "run", backend).execute()
    rows = [json.loads(x) for x in (tmp_path / "run" / "sft.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()]
    if mode == "both":  # the model's tests (expecting 7) fail every solution: no dual agreement
        assert rows == [] and summary["per_language"]["python"]["rejected"]["no_agreement"] == 2
        assert all(r["agreement"]["decision"] == "tests_disagree" for r in rejected)
        return
    assert len(rows) == 2 and all(r["tests_verdict"] == "failed" for r in rows)
    for row in rows:
        ev = row["agreement"]
        assert ev["decision"] == "agreed" and ev["kept_solution"] == 0
        assert [len(c["members"]) for c in ev["clusters"]] == [4, 1]
        assert len(ev["calls"]) == 4  # the print(...) line is not a call
        assert "== 7" in row["model_tests"] and "== 7" not in row["tests"]
        assert "'10'" in row["tests"] or "== '10'" in row["tests"]  # f(5) == 10, from the agreed outputs


def test_disagreeing_solutions_are_rejected_with_their_evidence(tmp_path, scripted_backend):
    values = {"languages": "python", "rounds": 0, "dpo_samples": 0, "verify": "agreement", "solutions": 5,
              "min_votes": 4, "repair_rounds": 0}
    backend = scripted_backend(reply=agreeing_reply(wrong_votes=2))
    AgentsRun(build_config(AgentsConfig, values), seed_file(tmp_path), tmp_path / "run", backend).execute()
    assert (tmp_path / "run" / "sft.jsonl").read_text() == ""
    rejected = [json.loads(x) for x in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == 2
    for row in rejected:
        assert row["verdict"] == "no_agreement" and row["reason"] == "no_agreement"
        assert row["agreement"]["decision"] == "too_few_votes"
        assert [len(c["members"]) for c in row["agreement"]["clusters"]] == [3, 2]


def test_languages_without_a_capture_harness_keep_the_verdict_of_their_tests(tmp_path, scripted_backend):
    from xinstruct.agents.calls import Caller
    from xinstruct.agents.collaborate import Agent, Team, verify_by_agreement
    from xinstruct.agents.memory import Memory
    from xinstruct.agents.profiles import get_profile
    from xinstruct.sandbox import Sandbox

    cfg = build_config(AgentsConfig, {"languages": "go", "verify": "agreement"})
    backend = scripted_backend()
    team = Team(cfg, Caller(backend, 0), Sandbox(cache_dir=tmp_path), {}, [])
    sample = {"id": "s", "instruction": "Add two ints.", "solution": "func add(a, b int) int { return a + b }",
              "tests": "...", "verdict": "passed", "raw": {}}
    verify_by_agreement(team, Agent(get_profile("go"), Memory("go", 1, 0.7)), sample)
    assert sample["verdict"] == "passed" and sample["agreement"]["decision"] == "no_harness_for_language"
    assert backend.generate_calls == []
