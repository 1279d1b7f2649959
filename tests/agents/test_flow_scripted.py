"""Whole-loop logic with a scripted backend and the real sandbox (python only, fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.pipeline import AgentsRun
from xinstruct.core.config import build_config
from xinstruct.sandbox import available_languages

from .helpers import python_reply, role

pytestmark = pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")


def seed_file(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "seed.jsonl"
    rows = [{"language": "python", "code": f"def g{i}(x):\n    return x + {i}\n"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_full_loop_counts_are_consistent(tmp_path, scripted_backend):
    cfg = build_config(AgentsConfig, {"languages": "python", "rounds": 2, "dpo_samples": 2, "mode": "centralized"})
    backend = scripted_backend(reply=python_reply)
    summary = AgentsRun(cfg, seed_file(tmp_path), tmp_path / "run", backend).execute()
    row = summary["per_language"]["python"]
    assert row["proposed"] == 3 + 2
    assert row["proposed"] == row["kept"] + row["rejected_total"]
    assert row["passed"] >= row["kept"]
    sft = [json.loads(x) for x in (tmp_path / "run" / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == row["kept"] > 0
    assert all(r["verdict"] == "passed" and r["source"] == "xinstruct-agents" for r in sft)
    assert sft[0]["messages"][0]["role"] == "user" and "```python" in sft[0]["messages"][1]["content"]
    mem = json.loads((tmp_path / "run" / "memory" / "python.json").read_text())
    assert 0 < len(mem["items"]) <= cfg.memory_size


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _strip_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.parametrize("mode", ["centralized", "parallel"])
def test_killed_run_resumes_without_duplicates_or_redone_calls(tmp_path, scripted_backend, mode):
    from xinstruct.core.cache import hash_key

    from .helpers import Crash, crashing_after

    values = {"languages": "python,bash", "rounds": 2, "dpo_samples": 2, "mode": mode, "memory_size": 2}
    cfg = build_config(AgentsConfig, values)
    seeds = seed_file(tmp_path, 4)
    reference = AgentsRun(cfg, seeds, tmp_path / "ref", scripted_backend(reply=python_reply)).execute()

    first = scripted_backend(reply=crashing_after(17))
    with pytest.raises(Crash):
        AgentsRun(build_config(AgentsConfig, values), seeds, tmp_path / "run", first).execute()
    second = scripted_backend(reply=python_reply)
    summary = AgentsRun(build_config(AgentsConfig, values), seeds, tmp_path / "run", second).execute()

    done_before = {hash_key(r.to_dict()) for r in first.generate_calls[:17]}
    redone = [r for r in second.generate_calls if hash_key(r.to_dict()) in done_before]
    assert second.generate_calls and not redone
    events = _rows(tmp_path / "run" / "shards" / "events-00000.jsonl")
    assert len(events) == len({e["id"] for e in events})
    for name in ("sft.jsonl", "rejected.jsonl", "dpo.jsonl"):
        assert _strip_time(_rows(tmp_path / "run" / name)) == _strip_time(_rows(tmp_path / "ref" / name)), name
    same = {k: v for k, v in summary["totals"].items() if k != "new_tokens"}
    assert same == {k: v for k, v in reference["totals"].items() if k != "new_tokens"}
    assert (tmp_path / "run" / "memory" / "python.json").read_text() == (tmp_path / "ref" / "memory" / "python.json").read_text()


def test_lineage_names_the_agents_and_languages_that_inspired_a_sample(tmp_path, scripted_backend):
    cfg = build_config(AgentsConfig, {"languages": "python,bash", "rounds": 1, "dpo_samples": 0, "critics": 1})
    AgentsRun(cfg, seed_file(tmp_path), tmp_path / "run", scripted_backend(reply=python_reply)).execute()
    rows = _rows(tmp_path / "run" / "sft.jsonl") + _rows(tmp_path / "run" / "rejected.jsonl")
    seeds = {r["id"] for r in rows if r["stage"].startswith("seed")}
    r1 = next(r for r in rows if r["id"] == "r1:python")
    assert [p["agent"] for p in r1["parents"]] == ["python", "bash"]
    own = r1["parents"][0]
    assert own["kind"] == "memory" and own["id"] in seeds and own["language"] == "python"
    # bash has no snippets and nothing in memory: its example is a seed snippet from the shared inputs
    assert r1["parents"][1]["kind"] == "snippet" and r1["parents"][1]["language"] == "python"
    assert r1["critiques"] and r1["critiques"][0]["agent"] == "bash"
    assert r1["evolution"] in {"difficulty", "constraints", "reasoning", "data_structure", "port"}


def test_failing_tests_get_one_rewrite_from_the_sandbox_output(tmp_path, scripted_backend):
    from .helpers import role, wrong_first_tests_reply

    values = {"languages": "python", "rounds": 1, "dpo_samples": 0, "mode": "parallel"}
    backend = scripted_backend(reply=wrong_first_tests_reply)
    summary = AgentsRun(build_config(AgentsConfig, values), seed_file(tmp_path), tmp_path / "run", backend).execute()
    row = summary["per_language"]["python"]
    sft = _rows(tmp_path / "run" / "sft.jsonl")
    assert row["passed"] == row["passed_after_repair"] == len(sft) > 0 and row["passed_first_try"] == 0
    assert all(r["first_verdict"] == "failed" and r["repairs"] == 1 and "== 4" in r["tests"] for r in sft)
    repairs = [r for r in backend.generate_calls if role(r) == "repair"]
    assert repairs and all("AssertionError" in r.messages[-1]["content"] and "== 5" in r.messages[-1]["content"]
                           for r in repairs)

    strict = {**values, "repair_rounds": 0}
    summary = AgentsRun(build_config(AgentsConfig, strict), seed_file(tmp_path), tmp_path / "strict",
                        scripted_backend(reply=wrong_first_tests_reply)).execute()
    row = summary["per_language"]["python"]
    assert row["passed"] == 0 and row["rejected"]["failed"] == row["proposed"]


class BatchRecordingBackend:
    """A scripted backend that also records how many requests each call carried."""

    def __init__(self, scripted_backend) -> None:
        self.inner = scripted_backend(reply=python_reply)
        self.kind = self.inner.kind
        self.sizes: list[int] = []

    def identity(self):
        return self.inner.identity()

    def generate(self, requests):
        self.sizes.append(len(requests))
        yield from self.inner.generate(requests)

    def first_token_logprobs(self, requests):
        yield from self.inner.first_token_logprobs(requests)

    def retries_by_kind(self):
        return {}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("mode", ["centralized", "parallel"])
def test_concurrent_units_batch_their_calls_and_give_the_sequential_rows(tmp_path, scripted_backend, mode):
    values = {"languages": "python,bash", "rounds": 2, "dpo_samples": 0, "mode": mode, "memory_size": 2}
    seeds = seed_file(tmp_path, 4)
    one = BatchRecordingBackend(scripted_backend)
    AgentsRun(build_config(AgentsConfig, {**values, "concurrency": 1}), seeds, tmp_path / "one", one).execute()
    many = BatchRecordingBackend(scripted_backend)
    AgentsRun(build_config(AgentsConfig, {**values, "concurrency": 8}), seeds, tmp_path / "many", many).execute()
    assert set(one.sizes) == {1} and max(many.sizes) > 1
    for name in ("sft.jsonl", "rejected.jsonl"):
        assert _strip_time(_rows(tmp_path / "many" / name)) == _strip_time(_rows(tmp_path / "one" / name)), name


def test_decontaminate_drops_benchmark_inputs_and_samples(tmp_path, scripted_backend, benchmarks_dir, monkeypatch):
    """A seed snippet that is a HumanEval+ solution is skipped before any call; a generated sample
    whose solution carries a benchmark's text is rejected as ``benchmark_overlap``."""
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark
    from xinstruct.readers import ReaderConfig

    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    task = load_tasks(parse_benchmark("humaneval+"))[0]
    seed = seed_file(tmp_path, n=2)
    with seed.open("a") as f:
        f.write(json.dumps({"language": "python", "code": task.prompt + task.canonical}) + "\n")

    def leaking(req, i):  # every solution carries the benchmark's function after its own
        text = python_reply(req, i)
        return text + "\n" + task.prompt + task.canonical if role(req) == "solution" else text

    cfg = build_config(AgentsConfig, {"languages": "python", "rounds": 1, "dpo_samples": 0})
    backend = scripted_backend(reply=leaking)
    summary = AgentsRun(cfg, seed, tmp_path / "run", backend,
                        reader_cfg=ReaderConfig(decontaminate=["humaneval+"])).execute()
    assert summary["skipped_inputs"]["decontaminate.benchmark_overlap"] == 1
    row = summary["per_language"]["python"]
    assert row["proposed"] == 2 + 1  # the benchmark snippet never became a seed sample
    assert row["rejected"].get("benchmark_overlap", 0) == row["passed"] > 0 and row["kept"] == 0
    rejected = _rows(tmp_path / "run" / "rejected.jsonl")
    assert all(task.entry_point in r["solution"] for r in rejected if r["reason"] == "benchmark_overlap")


def test_task_statements_rejected_by_cleaning_are_counted_by_reason(tmp_path, scripted_backend):
    def reply(req, i):
        if role(req) == "instruction":
            return "Explain what the original code snippet above does and improve it."
        return python_reply(req, i)

    values = {"languages": "python", "rounds": 1, "dpo_samples": 0, "mode": "parallel"}
    summary = AgentsRun(build_config(AgentsConfig, values), seed_file(tmp_path), tmp_path / "run",
                        scripted_backend(reply=reply)).execute()
    rejected = summary["per_language"]["python"]["rejected"]
    assert rejected.get("no_instruction.refers_to_prompt", 0) >= 1
    assert "no_instruction" not in rejected


def test_unfenced_responses_seed_the_agents(tmp_path, scripted_backend):
    """Instruction rows whose responses are raw, unfenced code once died with ZeroDivisionError
    in collaborate.example: extraction now takes unfenced code that parses."""
    path = tmp_path / "raw.jsonl"
    rows = [{"instruction": f"Add {i}.", "response": f"def add{i}(x):\n    return x + {i}"} for i in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = build_config(AgentsConfig, {"languages": "python", "rounds": 1, "dpo_samples": 0})
    summary = AgentsRun(cfg, path, tmp_path / "run", scripted_backend(reply=python_reply)).execute()
    assert summary["inputs"] == 2 and summary["per_language"]["python"]["proposed"] == 2 + 1


def test_input_without_usable_code_stops_before_the_model(tmp_path, scripted_backend):
    from xinstruct.core.errors import InputError

    path = tmp_path / "prose.jsonl"
    path.write_text("".join(json.dumps({"instruction": "Why?", "response": f"Because of reason {i}."}) + "\n"
                            for i in range(3)) + json.dumps({"code": "fn main() {}", "language": "rust"}) + "\n")
    backend = scripted_backend(reply=python_reply)
    cfg = build_config(AgentsConfig, {"languages": "python,java", "rounds": 1})
    with pytest.raises(InputError) as info:
        AgentsRun(cfg, path, tmp_path / "run", backend).execute()
    message = str(info.value)
    assert message.startswith(f"{path}: no code in python, java to seed the agents (")
    assert "agents.no_code: 3" in message and "agents.language_not_selected: 1" in message and "--languages" in message
    assert backend.generate_calls == [] and not (tmp_path / "run").exists()


@pytest.mark.skipif("javascript" not in available_languages(), reason="needs the javascript sandbox")
def test_agent_without_snippets_is_reported_and_the_others_go_on(tmp_path, scripted_backend):
    from rich.console import Console

    console = Console(record=True, width=200)
    cfg = build_config(AgentsConfig, {"languages": "python,javascript", "rounds": 1, "dpo_samples": 0})
    summary = AgentsRun(cfg, seed_file(tmp_path, 2), tmp_path / "run", scripted_backend(reply=python_reply),
                        console=console).execute()
    assert "javascript: no javascript snippets in the input" in console.export_text()
    assert summary["skipped_inputs"]["agents.agent_without_snippets"] == 1
    py, js = summary["per_language"]["python"], summary["per_language"]["javascript"]
    assert (py["seed_snippets"], js["seed_snippets"]) == (2, 0)
    assert py["kept"] > 0 and js["proposed"] >= 1  # javascript still took part, seeded from python's snippets


def test_memory_history_follows_the_memory_and_a_resumed_run_adds_no_duplicates(tmp_path, scripted_backend):
    from .helpers import Crash, crashing_after, varied_scores_reply

    values = {"languages": "python", "rounds": 4, "dpo_samples": 0, "mode": "centralized", "memory_size": 2}
    seeds = seed_file(tmp_path, 4)
    ref_backend = scripted_backend(reply=varied_scores_reply)
    summary = AgentsRun(build_config(AgentsConfig, values), seeds, tmp_path / "ref", ref_backend).execute()
    rows = _rows(tmp_path / "ref" / "memory_history.jsonl")
    assert [(r["language"], r["round"]) for r in rows] == [("python", n) for n in range(5)]
    held: set[str] = set()
    for r in rows:  # each row's items are the previous ones, minus what was evicted, plus what entered
        held = (held - set(r["evicted"])) | {e["id"] for e in r["entered"]}
        assert held == {i["id"] for i in r["items"]} and len(held) <= r["size"] == 2
        assert [i["total"] for i in r["items"]] == sorted((i["total"] for i in r["items"]), reverse=True)
    final = json.loads((tmp_path / "ref" / "memory" / "python.json").read_text())
    assert [i["id"] for i in rows[-1]["items"]] == [i["id"] for i in final["items"]]
    row = summary["per_language"]["python"]
    assert sum(len(r["entered"]) for r in rows) == row["admitted"]
    assert sum(len(r["too_similar"]) for r in rows) == row["not_admitted"].get("too_similar", 0)
    assert sum(len(r["below_floor"]) for r in rows) == row["not_admitted"].get("below_memory_floor", 0)
    assert sum(len(r["evicted"]) for r in rows) > 0 and any(r["round"] > 0 for r in rows if r["entered"])

    calls = len(ref_backend.generate_calls)
    with pytest.raises(Crash):
        AgentsRun(build_config(AgentsConfig, values), seeds, tmp_path / "run",
                  scripted_backend(reply=crashing_after(calls * 3 // 4, varied_scores_reply))).execute()
    partial = _rows(tmp_path / "run" / "memory_history.jsonl")
    assert 0 < len(partial) < len(rows)
    for _ in range(2):  # resume the killed run, then run the finished one again
        AgentsRun(build_config(AgentsConfig, values), seeds, tmp_path / "run",
                  scripted_backend(reply=varied_scores_reply)).execute()
        assert _rows(tmp_path / "run" / "memory_history.jsonl") == rows


def test_no_memory_writes_no_memory_history(tmp_path, scripted_backend):
    values = {"languages": "python", "rounds": 1, "dpo_samples": 0, "memory": False}
    AgentsRun(build_config(AgentsConfig, values), seed_file(tmp_path), tmp_path / "run",
              scripted_backend(reply=python_reply)).execute()
    assert (tmp_path / "run" / "sft.jsonl").exists() and not (tmp_path / "run" / "memory_history.jsonl").exists()
