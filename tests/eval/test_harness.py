"""Harness tests through the real sandbox: canonical answers score 100 %, wrong ones 0 %, missing
toolchains are reported apart, runs resume; plus one end-to-end CLI run on the real embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xinstruct.core.languages import display_name
from xinstruct.eval.benchmarks import load_tasks, parse_benchmark
from xinstruct.eval.cli import eval_command
from xinstruct.eval.config import EvalConfig
from xinstruct.eval.pipeline import run_eval
from xinstruct.llm.factory import BackendConfig


def _canonical_replies(benchmark: str, wrong: bool = False) -> dict[str, str]:
    """prompt -> what a perfect (or a wrong) model would write after the prefilled fence."""
    tasks = load_tasks(parse_benchmark(benchmark))
    if wrong:
        return {t.prompt.strip(): t.prompt + "    return 12345\n" for t in tasks}
    return {t.prompt.strip(): t.prompt + (t.canonical or "") for t in tasks}


def _scripted_from(scripted_backend, table: dict[str, str]):
    def reply(req, i):
        user = req.messages[0]["content"]
        prompt = user.split("```", 1)[1].split("\n", 1)[1].rsplit("\n```", 1)[0]
        return table[prompt.strip()] + "\n```\nThis works because ..."

    return scripted_backend(reply=reply)


@pytest.fixture
def data_env(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    return benchmarks_dir


@pytest.mark.parametrize(
    ("benchmark", "limit"),
    [("humaneval+", 6), ("mbpp+", 6), ("humaneval", 4), ("humaneval-x:java", 3), ("humaneval-x:go", 2),
     ("humaneval-x:rust", 2), ("humaneval-x:cpp", 2)],
)
def test_canonical_solutions_pass_through_the_harness(data_env, scripted_backend, tmp_path, benchmark, limit):
    backend = _scripted_from(scripted_backend, _canonical_replies(benchmark))
    cfg = EvalConfig(benchmark=[benchmark], limit=limit)
    summary = run_eval(cfg, BackendConfig(), tmp_path / "run", backend=backend)
    row = summary["benchmarks"][0]
    assert row["tasks"] == limit and row["not_runnable"] == 0
    assert row["pass@1"] == 100.0, row["verdicts"]
    if benchmark in ("humaneval+", "mbpp+"):
        assert row["base_pass@1"] == 100.0


def test_wrong_answers_fail_and_rows_are_complete(data_env, scripted_backend, tmp_path):
    backend = _scripted_from(scripted_backend, _canonical_replies("humaneval+", wrong=True))
    out = tmp_path / "run"
    summary = run_eval(EvalConfig(benchmark=["humaneval+"], limit=3), BackendConfig(), out, backend=backend)
    assert summary["benchmarks"][0]["pass@1"] == 0.0
    rows = [json.loads(line) for line in (out / "shards" / "results-humanevalplus-00000.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    for r in rows:
        s = r["samples"][0]
        assert r["prompt"] and s["raw_answer"].startswith("Below is a Python script") and "return 12345" in s["code"]
        assert s["verdict"] in ("failed", "runtime_error") and s["exec_seconds"] > 0
    t = summary["throughput"]
    assert t["tasks_this_run"] == 3 and t["problems_per_minute"] > 0 and 0 <= t["generation_share"] <= 1


def test_missing_toolchain_is_reported_apart(data_env, scripted_backend, tmp_path):
    from xinstruct.sandbox import available_languages

    if "swift" in available_languages():
        pytest.skip("swift is installed here")
    backend = scripted_backend(reply=lambda req, i: "    return 1\n}\n```")
    summary = run_eval(EvalConfig(benchmark=["multipl-e:swift"], limit=2), BackendConfig(), tmp_path / "r",
                       backend=backend)
    row = summary["benchmarks"][0]
    assert row["not_runnable"] == 2 and row["scored"] == 0 and "pass@1" not in row
    assert "swift" in json.dumps(row["not_runnable_reasons"])


def test_resume_skips_finished_tasks_and_reuses_llm_calls(data_env, scripted_backend, tmp_path):
    table = _canonical_replies("mbpp+")
    out = tmp_path / "run"
    first = _scripted_from(scripted_backend, table)
    run_eval(EvalConfig(benchmark=["mbpp+"], limit=2), BackendConfig(), out, backend=first)
    assert len(first.generate_calls) == 2
    second = _scripted_from(scripted_backend, table)
    summary = run_eval(EvalConfig(benchmark=["mbpp+"], limit=3), BackendConfig(), out, backend=second)
    assert len(second.generate_calls) == 1  # only the new task reached the model
    assert summary["benchmarks"][0]["tasks"] == 3
    assert summary["throughput"]["tasks_this_run"] == 1


def test_cli_unknown_benchmark_and_missing_out(data_env):
    runner = CliRunner()
    res = runner.invoke(eval_command, ["--benchmark", "multipl-e:cobol", "--out", "/tmp/x-never"])
    assert res.exit_code != 0 and "available" in str(res.exception)
    res = runner.invoke(eval_command, ["--benchmark", "humaneval+"])
    assert res.exit_code != 0 and "--out" in res.output


def test_instruct_prompt_wording() -> None:
    from xinstruct.eval.benchmarks import Task
    from xinstruct.eval.prompts import build_request
    from xinstruct.llm.base import SamplingParams

    t = Task("multipl-e:cpp", "x", "cpp", "long f(long x) {\n", "f", "splice", "}\n")
    req = build_request(t, "instruct", SamplingParams())
    assert req.messages[0]["content"].startswith(f"Please provide a self-contained {display_name('cpp')} program")
    assert req.prefix.endswith("```cpp\n") and "\n```" in req.params.stop


@pytest.mark.model
@pytest.mark.slow
def test_real_model_end_to_end_cli_and_resume(data_env, borrowed_llamacpp, tmp_path, monkeypatch):
    """Greedy HumanEval+ on the embedded model through the CLI; the second run makes no LLM call."""
    import xinstruct.llm.factory as factory

    monkeypatch.setattr(factory, "make_backend", lambda cfg, model=None: borrowed_llamacpp)
    out = tmp_path / "he"
    args = ["--benchmark", "humaneval+", "--tasks", "HumanEval/2", "--max-tokens", "128", "--out", str(out)]
    res = CliRunner().invoke(eval_command, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    row = summary["benchmarks"][0]
    assert row["tasks"] == 1 and row["not_runnable"] == 0 and row["pass@1"] is not None
    assert summary["throughput"]["llm_new_calls"] == 1
    rows = [json.loads(x) for x in (out / "shards" / "results-humanevalplus-00000.jsonl").read_text().splitlines()]
    assert {r["task_id"] for r in rows} == {"HumanEval/2"}
    assert all("def " in r["samples"][0]["code"] for r in rows)
    res = CliRunner().invoke(eval_command, args, catch_exceptions=False)
    assert res.exit_code == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["throughput"]["llm_new_calls"] == 0 and again["throughput"]["tasks_this_run"] == 0
    assert again["benchmarks"][0]["pass@1"] == row["pass@1"]


@pytest.fixture(scope="module")
def templateless_gguf(embedded_model, tmp_path_factory) -> Path:
    """The embedded model with its chat template removed: what a base model's GGUF looks like."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("base") / "no-template.gguf"
    tool = Path(sys.executable).parent / "gguf-new-metadata"
    subprocess.run([str(tool), "--force", "--remove-metadata", "tokenizer.chat_template", str(embedded_model.path), str(out)],
                   check=True, capture_output=True)  # fmt: skip
    return out


@pytest.mark.model
@pytest.mark.slow
def test_base_style_runs_a_model_without_chat_template(data_env, templateless_gguf, tmp_path):
    """--prompt-style base sends the raw benchmark prompt (no template) and stops at the task's stop
    tokens; a chat prompt to the same template-less model is refused with a clear message."""
    from xinstruct.core.errors import BackendError
    from xinstruct.llm.base import GenerateRequest, SamplingParams
    from xinstruct.llm.llamacpp import LlamaCppBackend
    from xinstruct.models.registry import resolve_model

    backend = LlamaCppBackend(resolve_model(str(templateless_gguf)), n_ctx=2048, parallel=2)
    try:
        with pytest.raises(BackendError, match="no chat template"):
            list(backend.generate([GenerateRequest(({"role": "user", "content": "hi"},), SamplingParams(max_tokens=4))]))
        cfg = EvalConfig(benchmark=["humaneval"], prompt_style="base", tasks=["HumanEval/2", "HumanEval/7"], max_tokens=96)
        summary = run_eval(cfg, BackendConfig(model=str(templateless_gguf)), tmp_path / "base", backend=backend)
    finally:
        backend.close()
    row = summary["benchmarks"][0]
    assert row["tasks"] == 2 and row["not_runnable"] == 0
    rows = [json.loads(x) for x in (tmp_path / "base" / "shards" / "results-humaneval-00000.jsonl").read_text().splitlines()]
    for r in rows:
        sample = r["samples"][0]
        assert r["prompt"] in sample["code"]  # the program is the prompt continued (imports may lead)
        body = sample["code"].split(r["prompt"], 1)[1]
        assert body.strip() and "\ndef " not in body and "\nprint(" not in body  # cut at the stop tokens
    assert row["pass@1"] is not None


@pytest.mark.model
def test_continue_style_multipl_e_java_on_the_real_model(data_env, borrowed_llamacpp, tmp_path, monkeypatch):
    """The Qwen2.5-Coder report's MultiPL-E chat prompt: the model is asked to complete the given Java
    code; its fenced answer is spliced into the prompt and compiled and run with the tests."""
    import xinstruct.llm.factory as factory
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark
    from xinstruct.eval.prompts import build_request
    from xinstruct.llm.base import SamplingParams

    task = load_tasks(parse_benchmark("multipl-e:java"))[0]
    req = build_request(task, "continue", SamplingParams(max_tokens=64))
    assert req.messages[0]["content"].startswith("Please continue to complete the function")
    assert task.prompt.strip() in req.messages[0]["content"] and req.prefix == "```java\n"
    monkeypatch.setattr(factory, "make_backend", lambda cfg, model=None: borrowed_llamacpp)
    out = tmp_path / "java"
    args = ["--benchmark", "multipl-e:java", "--limit", "2", "--prompt-style", "continue", "--max-tokens", "384",
            "--out", str(out)]
    res = CliRunner().invoke(eval_command, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    row = json.loads((out / "summary.json").read_text())["benchmarks"][0]
    assert row["tasks"] == 2 and row["not_runnable"] == 0 and row["pass@1"] is not None
    rows = [json.loads(x) for x in next((out / "shards").glob("results-*.jsonl")).read_text().splitlines()]
    for r in rows:
        sample = r["samples"][0]
        assert sample["verdict"] in ("passed", "failed", "compile_error", "runtime_error", "timeout"), sample
        assert "class Problem" in sample["code"] and "public static void main" in sample["code"], sample["code"]
