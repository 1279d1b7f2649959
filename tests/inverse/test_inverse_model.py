"""Inverse-Instruct against the real embedded model through the real CLI."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xinstruct.cli import cli
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig

pytestmark = pytest.mark.model
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"


def test_cli_end_to_end_on_the_embedded_model(tmp_path, embedded_model, benchmarks_dir, monkeypatch):
    # a HumanEval+ solution in front of the demo rows: --decontaminate drops it before --limit counts
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark

    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    task = load_tasks(parse_benchmark("humaneval+"))[0]
    leaked = {"instruction": "Finish it.", "output": f"```python\n{task.prompt}{task.canonical}```"}
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(leaked) + "\n" + EXAMPLE.read_text())
    out = tmp_path / "run"
    args = [
        "inverse", str(data), "--out", str(out), "--samples", "2", "--max-tokens", "48",
        "--limit", "2", "--with-original", "--seed", "7", "--decontaminate", "humaneval+",
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_by_reason"]["decontaminate.benchmark_overlap"] == 1
    assert summary["dataset_rows"] == 2 and summary["candidates_generated"] == 4
    assert summary["llm_calls"] == {"new": 8, "cached": 0, "retries": {}}
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["messages"][0]["content"].split()[0] in {"Write", "Create", "Implement", "Develop", "Design", "Build", "I"}
        assert "Python" in row["messages"][0]["content"]
        scores = [c["score"] for c in row["candidates"]]
        assert all(0.0 < s < 1.0 for s in scores)
        assert row["score"] == max(scores)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["model"]["sha256"] == embedded_model.sha256
    assert set(manifest["prompts"]) == {"summarize", "judge"}
    assert "llama_cpp_python" in manifest["versions"] or "llama-cpp-python" in json.dumps(manifest["versions"])

    # the datasets library reads both exports
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("json", data_files=str(out / "train_two_stage.jsonl"), split="train")
    assert ds["stage"] == [1, 1, 2, 2]
    pq = datasets.load_dataset("parquet", data_files=str(out / "data.parquet"), split="train")
    assert pq[0]["messages"][1]["role"] == "assistant"

    # running the same command again redoes nothing
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0
    summary2 = json.loads((out / "summary.json").read_text())
    assert summary2["llm_calls"]["new"] == 0
    assert (out / "data.jsonl").read_text() == json.dumps(rows[0], ensure_ascii=False) + "\n" + json.dumps(rows[1], ensure_ascii=False) + "\n"


def test_same_seed_same_output_with_a_fresh_cache(tmp_path, llamacpp_backend):
    cfg = InverseConfig(samples=2, max_tokens=32, limit=1, seed=3)
    for name in ("a", "b"):
        run_inverse(EXAMPLE, tmp_path / name, cfg, BackendConfig(), ReaderConfig(), backend=llamacpp_backend)
    a = (tmp_path / "a" / "data.jsonl").read_text()
    assert a == (tmp_path / "b" / "data.jsonl").read_text()
    other = InverseConfig(samples=2, max_tokens=32, limit=1, seed=4)
    run_inverse(EXAMPLE, tmp_path / "c", other, BackendConfig(), ReaderConfig(), backend=llamacpp_backend)
    assert (tmp_path / "c" / "data.jsonl").read_text() != a


def test_perplexity_selection_uses_real_logprobs(tmp_path, llamacpp_backend):
    cfg = InverseConfig(samples=2, max_tokens=32, limit=1, select="perplexity")
    run_inverse(EXAMPLE, tmp_path / "p", cfg, BackendConfig(), ReaderConfig(), backend=llamacpp_backend)
    row = json.loads((tmp_path / "p" / "data.jsonl").read_text().splitlines()[0])
    ppl = [c["perplexity"] for c in row["candidates"]]
    assert all(p is not None and p > 1.0 for p in ppl)
    assert row["candidates"][row["selected_index"]]["perplexity"] == min(ppl)
