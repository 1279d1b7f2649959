from __future__ import annotations

from xinstruct.agents.dpo import build_pairs


def test_pairs_in_trl_conversational_format():
    pairs = build_pairs("s1", "Double x.", "python", "REF", [("A", "passed"), ("B", "failed"), ("C", "compile_error")])
    assert len(pairs) == 2
    p = pairs[0]
    assert set(p) >= {"prompt", "chosen", "rejected"}
    assert p["prompt"] == [{"role": "user", "content": "Double x.\n\nWrite the solution in Python."}]
    assert p["chosen"][0]["role"] == "assistant" and "A" in p["chosen"][0]["content"]
    assert "B" in p["rejected"][0]["content"] and p["rejected_verdict"] == "failed"
    assert "C" in pairs[1]["rejected"][0]["content"] and not p["chosen_is_reference"]


def test_reference_is_chosen_when_no_sample_passes_and_no_pairs_without_failures():
    pairs = build_pairs("s1", "Double x.", "python", "REF", [("B", "failed")])
    assert len(pairs) == 1 and "REF" in pairs[0]["chosen"][0]["content"] and pairs[0]["chosen_is_reference"]
    assert build_pairs("s1", "Double x.", "python", "REF", [("A", "passed"), ("A2", "passed")]) == []
    assert build_pairs("s1", "Double x.", "python", "REF", []) == []
