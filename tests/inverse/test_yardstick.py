"""yardstick.json, the round-trip benchmark's figures: built from per-task verdicts, written atomically
to each path, read back by ``--report`` (no model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xinstruct.core.errors import InputError
from xinstruct.inverse import yardstick

REPO = Path(__file__).resolve().parents[2]

PASSED = {  # 3 HumanEval + 3 MBPP tasks
    "original": {"HumanEval/0": True, "HumanEval/1": True, "HumanEval/2": False, "MBPP/7": True, "MBPP/9": False, "MBPP/11": True},
    "selected": {"HumanEval/0": True, "HumanEval/1": False, "HumanEval/2": True, "MBPP/7": True, "MBPP/9": True, "MBPP/11": False},
    "random": {"HumanEval/0": False, "HumanEval/1": False, "HumanEval/2": False, "MBPP/7": True, "MBPP/9": False, "MBPP/11": False},
}


def test_build_counts_conditions_contrasts_and_tasks() -> None:
    y = yardstick.build(PASSED, argv=["inverse_roundtrip.py", "--out", "/tmp/my run"], samples=10, slice_name="tune")
    assert y["benchmark"] == "inverse_roundtrip" and y["command"] == "inverse_roundtrip.py --out '/tmp/my run'"
    assert y["samples"] == 10 and y["slice"] == "tune" and y["seeds"] == {"humaneval": 3, "mbpp": 3}
    assert y["conditions"] == {"original": {"passed": 4, "total": 6}, "selected": {"passed": 4, "total": 6},
                               "random": {"passed": 1, "total": 6}}
    sel_rnd = y["contrasts"][0]
    assert (sel_rnd["a"], sel_rnd["b"]) == ("selected", "random")
    assert (sel_rnd["both"], sel_rnd["only_a"], sel_rnd["only_b"], sel_rnd["neither"]) == (1, 3, 0, 2)
    assert sel_rnd["p"] == pytest.approx(0.25)  # 3 vs 0 discordant: 2 / 2**3
    assert [(c["a"], c["b"]) for c in y["contrasts"]] == [("selected", "random"), ("selected", "original"), ("random", "original")]
    assert y["per_task"][3] == {"task_id": "MBPP/7", "source": "mbpp", "original": True, "selected": True, "random": True}
    mbpp = yardstick.subset(y, "mbpp")
    assert mbpp["conditions"]["selected"] == {"passed": 2, "total": 3}
    with_rt = yardstick.build({**PASSED, "roundtrip": dict(PASSED["original"])}, argv=["x"], samples=10, slice_name="measure")
    assert "roundtrip" in with_rt["conditions"] and ("roundtrip", "random") in {(c["a"], c["b"]) for c in with_rt["contrasts"]}
    assert with_rt["per_task"][0]["roundtrip"] is True


def test_build_refuses_missing_or_mismatched_conditions() -> None:
    with pytest.raises(ValueError, match="did not run"):
        yardstick.build({"original": PASSED["original"], "selected": PASSED["selected"]}, argv=[], samples=1, slice_name="tune")
    short = {**PASSED, "random": {"HumanEval/0": True}}
    with pytest.raises(ValueError, match="covers other tasks"):
        yardstick.build(short, argv=[], samples=1, slice_name="tune")


def test_write_to_both_places_and_report_reads_it_back(tmp_path: Path) -> None:
    y = yardstick.build(PASSED, argv=["inverse_roundtrip.py"], samples=10, slice_name="measure")
    out, run = tmp_path / "out" / "yardstick.json", tmp_path / "out" / "inverse" / "yardstick.json"
    yardstick.write([out, run], y)
    assert json.loads(out.read_text()) == json.loads(run.read_text()) == yardstick.read(out)
    assert not list(tmp_path.rglob(".*tmp*"))  # atomic: no temp file left behind
    shown = subprocess.run([sys.executable, str(REPO / "benchmarks" / "inverse_roundtrip.py"), "--report", "--out", str(out.parent)],
                           capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"})
    assert "4/6" in shown.stdout and "selected" in shown.stdout and "0.25" in shown.stdout


def test_read_names_the_file_of_a_wrong_shape(tmp_path: Path) -> None:
    bad = tmp_path / "yardstick.json"
    bad.write_text('{"benchmark": "other"}')
    with pytest.raises(InputError, match=r"yardstick.json: not an inverse_roundtrip yardstick"):
        yardstick.read(bad)
    bad.write_text("{\n oops")
    with pytest.raises(InputError, match=r"yardstick.json:2: not JSON"):
        yardstick.read(bad)
    with pytest.raises(InputError, match="no yardstick here"):
        yardstick.read(tmp_path / "missing.json")


ANSWER_WITH_A_WRONG_SELF_CHECK = '''```python
def string_sequence(n):
    return ' '.join(str(i) for i in range(n + 1))

# Check function to verify the correctness of the solution
def check_function():
    assert string_sequence(0) == "", "Test case 2 failed"

check_function()
```
This code defines `string_sequence` ...'''


def test_the_benchmark_tests_the_function_not_the_models_own_checks(tmp_path):
    """HumanEval/15 of the 2026-12-07 run: a right function failed its hidden tests because the answer
    also called a self-check with a wrong expected value; the benchmark now sanitizes as the eval does."""
    from xinstruct.sandbox import Job, Limits, Sandbox, available_languages

    if "python" not in available_languages():
        pytest.skip("needs the python sandbox")
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from inverse_roundtrip import HEADER, code_of
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    tests = "def check(candidate):\n    assert candidate(0) == '0'\n    assert candidate(3) == '0 1 2 3'\n\ncheck(string_sequence)\n"
    sandbox = Sandbox(cache_dir=tmp_path)
    verdicts = [sandbox.run(Job("python", HEADER + code, tests=tests, limits=Limits(timeout=60))).verdict.value
                for code in (code_of(ANSWER_WITH_A_WRONG_SELF_CHECK, "string_sequence"),
                             code_of(ANSWER_WITH_A_WRONG_SELF_CHECK, "string_sequence", sanitize=False))]
    assert verdicts == ["passed", "failed"]
