"""Evaluation on a local Ray cluster: the tasks' verdicts equal the local run's, through the real sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

from xinstruct.core.runs import RunDir
from xinstruct.eval.benchmarks import load_tasks, parse_benchmark
from xinstruct.eval.config import EvalConfig
from xinstruct.eval.harness import shard_name
from xinstruct.eval.pipeline import run_eval
from xinstruct.llm.factory import BackendConfig
from xinstruct.scale.config import ScaleConfig


def replies(benchmark: str) -> dict[str, str]:
    """Canonical answers for even tasks, a wrong one for odd tasks: both verdicts are met."""
    tasks = load_tasks(parse_benchmark(benchmark))
    return {t.prompt.strip(): t.prompt + (t.canonical or "" if k % 2 == 0 else "    return 12345\n")
            for k, t in enumerate(tasks)}


def backend_for(scripted_backend, table):
    def reply(req, i):
        user = req.messages[0]["content"]
        prompt = user.split("```", 1)[1].split("\n", 1)[1].rsplit("\n```", 1)[0]
        return table[prompt.strip()] + "\n```\n"

    return scripted_backend(reply=reply)


def verdicts(run: Path, benchmark: str) -> dict[str, list[str]]:
    rows = list(RunDir(run, "eval").rows(shard_name(benchmark)))
    assert len(rows) == len({r["id"] for r in rows})  # no task twice
    return {r["id"]: [s["verdict"] for s in r["samples"]] for r in rows}


def test_eval_on_ray_gives_the_local_verdicts_and_resumes(benchmarks_dir, monkeypatch, scripted_backend, tmp_path, ray_cluster):
    from xinstruct.eval.ray_run import run_eval_ray

    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    bench = "humaneval+"
    table = replies(bench)
    cfg = EvalConfig(benchmark=[bench], limit=6)
    local = run_eval(cfg, BackendConfig(), tmp_path / "local", backend=backend_for(scripted_backend, table))
    scale = ScaleConfig(executor="ray", ray_actors=2, ray_batch_size=2)
    summary = run_eval_ray(cfg, BackendConfig(), tmp_path / "ray", scale, backend=backend_for(scripted_backend, table))
    assert verdicts(tmp_path / "ray", bench) == verdicts(tmp_path / "local", bench)
    keys = ("tasks", "scored", "pass@1", "base_pass@1", "verdicts")
    assert {k: summary["benchmarks"][0][k] for k in keys} == {k: local["benchmarks"][0][k] for k in keys}
    assert summary["benchmarks"][0]["pass@1"] == 50.0
    assert summary["throughput"]["tasks_this_run"] == 6
    assert summary["throughput"]["llm_new_calls"] == local["throughput"]["llm_new_calls"] == 6
    assert list((tmp_path / "ray" / "shards").glob(f"{shard_name(bench)}-ray-*.jsonl"))

    again = run_eval_ray(cfg, BackendConfig(), tmp_path / "ray", scale, backend=backend_for(scripted_backend, table))
    assert again["throughput"]["tasks_this_run"] == 0
    assert again["benchmarks"] == summary["benchmarks"]

