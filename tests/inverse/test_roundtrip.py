"""The round-trip selector: candidates scored by how well the code regenerated from them agrees
with the original on the same calls (scripted backend, real sandbox)."""

from __future__ import annotations

import pytest

from xinstruct.core.records import Record
from xinstruct.inverse.roundtrip import RoundTrip, agreement, main_name, roundtrip_order
from xinstruct.inverse.templates import load_prompt
from xinstruct.sandbox import Limits, available_languages

ORIGINAL = "def helper(x):\n    return x\n\n\ndef double(x):\n    return helper(x) * 2\n"


def reply(req, i):
    user = req.messages[-1]["content"]
    if "different calls of" in user:
        return "1)\ndouble(0)\nprint(double(2))\ndouble(-3)\ndouble(2.5)\n```"  # after the prefilled `double(`
    if "triples" in user:
        return "```python\ndef double(x):\n    return x * 3\n```"
    if "doubles" in user:
        return "Here:\n```python\ndef double(x):\n    return x + x\n```"
    return "```python\ndef double(x):\n    return x * 2 if x > 0 else 0\n```"


def record(language: str = "python", code: str = ORIGINAL) -> Record:
    cands = [{"instruction": "Write a Python function that triples a number.", "score": 0.9},
             {"instruction": None, "score": None, "rejected": "refers_to_prompt"},
             {"instruction": "Write a Python function that doubles a number.", "score": 0.6},
             {"instruction": "Write a Python function that returns twice a positive number, else 0.", "score": 0.7}]
    return Record(id="r1", data={"code": code, "language": language, "candidates": cands})


@pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")
def test_candidates_are_scored_by_the_agreement_of_their_regenerated_code(scripted_backend, tmp_path):
    from xinstruct.sandbox import Sandbox

    step = RoundTrip(scripted_backend(reply=reply), Sandbox(cache_dir=tmp_path), load_prompt("roundtrip"),
                     calls=6, seed=0, limits=Limits(timeout=60))  # generous: CI machines are shared
    (out,) = list(step.run([record()]))
    cands = out.data["candidates"]
    assert out.data.get("roundtrip_fallback") is None, out.data.get("roundtrip_original")
    assert out.data["roundtrip_calls"] == ["double(1)", "double(0)", "double(-3)", "double(2.5)"]
    assert [c.get("roundtrip") for c in cands] == [0.25, None, 1.0, 0.75]  # x*3 agrees only on 0
    best = max((c for c in cands if c["instruction"]), key=roundtrip_order)
    assert "doubles a number" in best["instruction"]  # not the judge's favourite (0.9)
    assert step.stats["scored"] == 1


@pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")
def test_a_window_sends_several_snippets_in_one_call_and_scores_each_as_alone(scripted_backend, tmp_path):
    from xinstruct.sandbox import Sandbox

    def step(window, backend):
        return RoundTrip(backend, Sandbox(cache_dir=tmp_path), load_prompt("roundtrip"), calls=6, seed=0,
                         limits=Limits(timeout=60), window=window)

    def records():
        return [record(), record("java", "class A { static int f(int x) { return x; } }"), record()]

    batches: list[int] = []

    class Counting(scripted_backend):
        def generate(self, requests):
            batches.append(len(requests))
            return super().generate(requests)

    alone = list(step(1, scripted_backend(reply=reply)).run(records()))
    together_step = step(2, Counting(reply=reply))
    together = list(together_step.run(records()))
    assert batches == [4, 4]  # calls + 3 usable candidates of snippet 1 (java plans none), then snippet 3
    assert [r.data.get("roundtrip_fallback") for r in together] == [None, "language", None]
    assert [[c.get("roundtrip") for c in r.data["candidates"]] for r in together] == \
        [[c.get("roundtrip") for c in r.data["candidates"]] for r in alone]
    assert together_step.stats["scored"] == 2 and together_step.stats["fallback_pyes.language"] == 1
    assert all(r.data["candidates"][2]["roundtrip_code"].startswith("def double") for r in (together[0], together[2]))


@pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")
def test_a_self_check_with_a_wrong_expected_value_does_not_sink_a_right_function(scripted_backend, tmp_path):
    from xinstruct.sandbox import Sandbox

    def chatty(req, i):
        if "doubles" in req.messages[-1]["content"]:  # right, then the model's own check, wrongly expected
            return ("def double(x):\n    return x + x\n\ndef check():\n    assert double(2) == 5\n\ncheck()\n"
                    "print('ok')\n```")
        return reply(req, i)

    step = RoundTrip(scripted_backend(reply=chatty), Sandbox(cache_dir=tmp_path), load_prompt("roundtrip"),
                     calls=6, seed=0, limits=Limits(timeout=60))
    (out,) = list(step.run([record()]))
    doubles = out.data["candidates"][2]
    assert doubles["roundtrip"] == 1.0, doubles  # the check crashed the capture before: agreement 0
    assert "\ncheck()" not in doubles["roundtrip_code"] and "def double" in doubles["roundtrip_code"]


def test_languages_without_a_harness_fall_back_to_the_judge(scripted_backend, tmp_path):
    from xinstruct.sandbox import Sandbox

    step = RoundTrip(scripted_backend(reply=reply), Sandbox(cache_dir=tmp_path), load_prompt("roundtrip"),
                     calls=6, seed=0)
    (out,) = list(step.run([record("java", "class A { static int f(int x) { return x; } }")]))
    assert out.data["roundtrip_fallback"] == "language"
    assert all("roundtrip" not in c for c in out.data["candidates"])
    assert step.stats["fallback_pyes.language"] == 1


def test_agreement_counts_only_calls_where_the_original_returns_a_value():
    assert agreement(["1", "!ValueError", None, "4"], ["1", "!ValueError", "3", "5"], [0, 1, 2, 3]) == 0.5
    assert main_name(ORIGINAL, "python") == "double"


@pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")
def test_select_roundtrip_in_the_pipeline_overrules_the_judge(scripted_backend, tmp_path):
    import json

    from xinstruct.inverse.config import InverseConfig
    from xinstruct.inverse.pipeline import run_inverse
    from xinstruct.llm.factory import BackendConfig
    from xinstruct.readers import ReaderConfig

    data = tmp_path / "code.jsonl"
    data.write_text(json.dumps({"code": ORIGINAL, "language": "python"}) + "\n")

    turns = iter(range(1000))

    def summarize_or_code(req, i):
        if "problem description" in req.messages[-1]["content"]:  # the summarize prompt: alternate
            return [" function that triples a number.", " function that doubles a number."][next(turns) % 2]
        return reply(req, i)

    def judge(req):  # prefers the wrong instruction, as the 0.5B judge often does
        triples = any("triples" in m["content"] for m in req.messages)
        return {c: (-0.1 if c.strip().lower() == "yes" else -3.0) if triples else -1.0 for c in req.candidates}

    for select, expected in (("best", "triples"), ("roundtrip", "doubles")):
        backend = scripted_backend(reply=summarize_or_code, judge=judge)
        summary = run_inverse(data, tmp_path / select, InverseConfig(samples=4, select=select), BackendConfig(),
                              ReaderConfig(), backend=backend)
        (row,) = [json.loads(x) for x in (tmp_path / select / "data.jsonl").read_text().splitlines()]
        assert expected in row["instruction"], (select, row["instruction"])
        if select == "roundtrip":
            assert {c["roundtrip"] for c in row["candidates"]} == {0.25, 1.0}
            assert summary["roundtrip"] == {"scored": 1}


@pytest.mark.model
@pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")
def test_roundtrip_on_the_real_model(llamacpp_backend, tmp_path):
    """The real model writes the calls and the code again; a faithful instruction must score at
    least as well as one describing other behaviour."""
    from xinstruct.sandbox import Sandbox

    step = RoundTrip(llamacpp_backend, Sandbox(cache_dir=tmp_path), load_prompt("roundtrip"), calls=4, seed=0,
                     max_tokens=160, limits=Limits(timeout=60), window=2)  # both snippets decode together
    recs = [Record(id=f"real{k}", data={"code": ORIGINAL, "language": "python", "candidates": [
        {"instruction": "Write a Python function `double(x)` that returns x multiplied by 2.", "score": 0.5},
        {"instruction": "Write a Python function `double(x)` that returns x plus 100.", "score": 0.9},
    ]}) for k in range(2)]
    for out in step.run(recs):
        assert out.data["roundtrip_calls"], out.data  # calls parsed from the real reply
        assert out.data.get("roundtrip_fallback") is None, out.data.get("roundtrip_original")
        faithful, other = (c["roundtrip"] for c in out.data["candidates"])
        assert faithful == 1.0 and other < faithful, out.data["candidates"]
    assert step.stats["scored"] == 2
