"""The real embedded model and the real sandbox, through the CLI: a tiny run, then a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xinstruct.cli import cli
from xinstruct.sandbox import Job, Sandbox, available_languages

pytestmark = [pytest.mark.model, pytest.mark.slow]

ARGS = [
    "--languages", "python,bash", "--rounds", "1", "--memory-size", "4", "--limit", "2", "--mode", "parallel",
    "--dpo-samples", "1", "--instruction-tokens", "64", "--solution-tokens", "128", "--tests-tokens", "96",
    "--score-tokens", "64", "--seed", "3",
]


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, embedded_model):
    pytest.importorskip("llama_cpp")
    if not {"python", "bash"} <= set(available_languages()):
        pytest.skip("needs python and bash in the sandbox")
    out = tmp_path_factory.mktemp("agents") / "run"
    seed = Path(__file__).resolve().parents[2] / "examples" / "agents" / "seed.jsonl"
    result = CliRunner().invoke(cli, ["agents", str(seed), "--out", str(out), *ARGS], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seed, out


def test_files_and_consistent_counts(tiny_run):
    _, out = tiny_run
    for name in ("sft.jsonl", "rejected.jsonl", "dpo.jsonl", "summary.json", "run.json",
                 "memory/python.json", "memory/bash.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["proposed"] == 2 + 2  # two seed snippets + one round of two agents
    sft, rejected = _rows(out / "sft.jsonl"), _rows(out / "rejected.jsonl")
    for lang, row in summary["per_language"].items():
        assert row["proposed"] == row["kept"] + row["rejected_total"], lang
        assert row["kept"] <= row["passed"] and row["admitted"] <= row["kept"] and row["memory_size"] <= 4
        assert row["kept"] == sum(1 for r in sft if r["language"] == lang)
        assert row["rejected_total"] == sum(1 for r in rejected if r["language"] == lang)
        assert row["passed"] == row["passed_first_try"] + row["passed_after_repair"], lang
    for r in sft + rejected:  # a failing first verdict got one test rewrite (--repair-rounds 1)
        if r.get("first_verdict") in ("failed", "runtime_error", "compile_error"):
            assert r["repairs"] == 1 or "repair1" in r.get("raw", {}), r["id"]
    for r in rejected:
        assert r["reason"]
        if r["verdict"] not in (None, "passed"):
            assert r["reason"] == r["verdict"]
    for pair in _rows(out / "dpo.jsonl"):
        assert pair["prompt"][0]["role"] == "user" and pair["chosen"][0]["role"] == pair["rejected"][0]["role"] == "assistant"


def test_kept_rows_pass_when_rerun_in_the_sandbox(tiny_run):
    _, out = tiny_run
    sft = _rows(out / "sft.jsonl")
    sandbox = Sandbox(use_cache=False)
    for row in sft:
        assert row["verdict"] == "passed" and row["source"] == "xinstruct-agents"
        assert row["messages"][0]["role"] == "user" and row["tests"] in row["messages"][1]["content"]
        assert sandbox.run(Job(row["language"], row["solution"], tests=row["tests"])).verdict.value == "passed"


def test_rerun_resumes_from_cache_with_identical_rows(tiny_run):
    seed, out = tiny_run
    before = (out / "sft.jsonl").read_text(), (out / "rejected.jsonl").read_text()
    result = CliRunner().invoke(cli, ["agents", str(seed), "--out", str(out), *ARGS], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["llm_calls"]["new"] == 0
    assert ((out / "sft.jsonl").read_text(), (out / "rejected.jsonl").read_text()) == before
    shown = CliRunner().invoke(cli, ["agents", "memory", str(out), "--language", "python"])
    assert shown.exit_code == 0 and "python memory" in shown.output


def test_verify_agreement_on_the_real_model(tmp_path, embedded_model):
    """Seed stage only, two Python snippets: K solutions and the model's calls really run in the
    sandbox, and each row that got that far carries evidence matching what was decided."""
    pytest.importorskip("llama_cpp")
    if "python" not in available_languages():
        pytest.skip("needs python in the sandbox")
    seed = Path(__file__).resolve().parents[2] / "examples" / "agents" / "seed.jsonl"
    out = tmp_path / "run"
    args = ["--languages", "python", "--rounds", "0", "--limit", "2", "--dpo-samples", "0", "--no-reflection",
            "--verify", "agreement", "--solutions", "3", "--calls", "4", "--min-votes", "2",
            "--instruction-tokens", "96", "--solution-tokens", "384", "--tests-tokens", "128", "--seed", "3"]
    result = CliRunner().invoke(cli, ["agents", str(seed), "--out", str(out), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [r for r in _rows(out / "sft.jsonl") + _rows(out / "rejected.jsonl") if r.get("agreement")]
    assert rows, "no sample reached verification"
    for row in rows:
        ev = row["agreement"]
        assert len(ev["solutions"]) == 3 and ev["calls"], ev  # calls parsed from the real model's reply
        assert all(len(s["outputs"]) == len(ev["calls"]) for s in ev["solutions"])
        if ev["decision"] == "agreed":
            assert len(ev["clusters"][0]["members"]) >= 2 and row["verdict"] == "passed"
            # the kept tests were written from the agreed outputs and pass on the kept solution
            assert Sandbox().run(Job("python", row["solution"], tests=row["tests"])).verdict == "passed"
        else:
            assert row["verdict"] == "no_agreement" and row["reason"] == "no_agreement"
