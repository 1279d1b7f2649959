"""An agents run on a local Ray cluster: the files of a local run, also after an actor is killed."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.pipeline import AgentsRun
from xinstruct.core.config import build_config
from xinstruct.core.errors import BackendError
from xinstruct.sandbox import available_languages
from xinstruct.scale.config import ScaleConfig
from xinstruct.scale.segments import segment_paths

from . import helpers
from .helpers import python_reply

pytestmark = pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")

OUTPUTS = ("sft.jsonl", "rejected.jsonl", "dpo.jsonl", "skipped.jsonl", "memory_history.jsonl",
           "memory/python.json", "memory/bash.json")
VALUES = {"languages": "python,bash", "rounds": 2, "dpo_samples": 2, "memory_size": 2,
          "exec_timeout": 120.0}
"""``exec_timeout``: the scripted programs take milliseconds, but a loaded machine starting Ray workers
once timed out two at the default 10 s, and a verdict that differs makes the runs differ."""


@pytest.fixture(autouse=True)
def _ship_test_modules(ray_cluster):
    for module in (sys.modules[__name__], helpers):
        ray_cluster.cloudpickle.register_pickle_by_value(module)


def seed_file(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "seed.jsonl"
    rows = [{"language": "python", "code": f"def g{i}(x):\n    return x + {i}\n"} for i in range(n)]
    rows.append({"language": "bash", "code": "echo $(( $1 + 1 ))\n"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def without_timings(summary: dict) -> dict:
    out = {k: v for k, v in summary.items() if k not in ("wall_seconds", "hub_folder", "executor")}
    out["per_language"] = {lang: {k: v for k, v in row.items() if k != "seconds"}
                           for lang, row in summary["per_language"].items()}
    return out


def same_files(a: Path, b: Path) -> None:
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def events(run: Path) -> list[dict]:
    from xinstruct.core.runs import RunDir

    return list(RunDir(run, "agents").rows("events")) + list(RunDir(run, "agents").rows("dpo"))


def ray_run(tmp_path: Path, mode: str, scale: ScaleConfig, backend) -> dict:
    from xinstruct.agents.ray_run import AgentsRayRun

    cfg = build_config(AgentsConfig, {**VALUES, "mode": mode})
    return AgentsRayRun(cfg, seed_file(tmp_path), tmp_path / "ray", backend, scale=scale).execute()


def local_run(tmp_path: Path, mode: str, scripted_backend) -> dict:
    cfg = build_config(AgentsConfig, {**VALUES, "mode": mode})
    return AgentsRun(cfg, seed_file(tmp_path), tmp_path / "local", scripted_backend(reply=python_reply)).execute()


@pytest.mark.parametrize("mode", ["centralized", "parallel"])
def test_ray_run_is_byte_identical_to_the_local_run(tmp_path, scripted_backend, mode):
    reference = local_run(tmp_path, mode, scripted_backend)
    # half a CPU per actor leaves one of the cluster's two for the sandbox tasks
    scale = ScaleConfig(executor="ray", ray_actors=2, ray_batch_size=2, ray_cpus_per_actor=0.5)
    summary = ray_run(tmp_path, mode, scale, scripted_backend(reply=python_reply))
    same_files(tmp_path / "local", tmp_path / "ray")
    assert without_timings(summary) == without_timings(reference)
    assert summary["totals"]["kept"] > 0 and summary["totals"]["rejected_total"] > 0 and summary["dpo_rows"] > 0
    assert summary["executor"]["sandbox"] == "tasks"
    assert summary["executor"]["cache_merge"]["added"] == reference["llm_calls"]["new"]
    assert not segment_paths(tmp_path / "ray")  # merged into llm-cache.sqlite

    again = ray_run(tmp_path, mode, scale, scripted_backend(reply=python_reply))
    assert again["llm_calls"] == {"new": 0, "cached": 0, "retries": {}}  # every unit finished: no actor call
    same_files(tmp_path / "local", tmp_path / "ray")


class DyingBackend:
    """Scripted answers; the first actor to make its ``after``-th call dies, or its engine does (a
    marker file makes it happen once per test, not again in the actor Ray starts instead)."""

    def __init__(self, inner, marker: Path, after: int, how: str) -> None:
        self.inner, self.marker, self.after, self.how = inner, marker, after, how
        self.kind = inner.kind
        self.calls = 0

    def identity(self):
        return self.inner.identity()

    def retries_by_kind(self):
        return self.inner.retries_by_kind()

    def generate(self, requests):
        for i, result in self.inner.generate(requests):
            self.calls += 1
            if self.calls >= self.after and not self.marker.exists():
                self.marker.touch()
                if self.how == "kill":
                    os._exit(9)  # the process is gone, as when a node loses it
                self.dead = True
            if getattr(self, "dead", False):  # a dead engine fails every call of this process
                raise BackendError("engine died")
            yield i, result

    def first_token_logprobs(self, requests):
        return self.inner.first_token_logprobs(requests)

    def close(self):
        pass


def stored_calls(run: Path) -> int:
    total = 0
    for path in segment_paths(run):
        db = sqlite3.connect(str(path))  # read-write: a killed writer's hot journal is rolled back
        total += db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        db.close()
    return total


def test_a_killed_actor_loses_nothing_and_the_rerun_makes_only_unfinished_calls(tmp_path, scripted_backend):
    mode = "centralized"
    reference = local_run(tmp_path, mode, scripted_backend)
    total = reference["llm_calls"]["new"]
    units = len(events(tmp_path / "local"))
    # an actor's process is killed and Ray may not replace it: the run fails midway
    dying = DyingBackend(scripted_backend(reply=python_reply), tmp_path / "killed", after=total // 3, how="kill")
    with pytest.raises(Exception, match=r"(?i)actor|worker|died"):
        ray_run(tmp_path, mode, ScaleConfig(ray_actors=2, ray_batch_size=2, ray_max_restarts=0), dying)
    assert (tmp_path / "killed").exists()
    finished = len(events(tmp_path / "ray"))
    assert 0 < finished < units
    made_before = stored_calls(tmp_path / "ray")  # calls made and stored before the kill, not merged yet
    assert 0 < made_before < total

    summary = ray_run(tmp_path, mode, ScaleConfig(ray_actors=2, ray_batch_size=2), scripted_backend(reply=python_reply))
    same_files(tmp_path / "local", tmp_path / "ray")
    same = {k: v for k, v in summary["totals"].items() if k != "new_tokens"}  # replayed calls are not new
    assert same == {k: v for k, v in reference["totals"].items() if k != "new_tokens"}
    ids = [e["id"] for e in events(tmp_path / "ray")]
    assert len(ids) == len(set(ids)) == units  # no unit twice
    # the rerun made only the calls the first run had not: together they made the job's calls once
    assert summary["llm_calls"]["new"] + made_before == total
    # the finished calls of units the kill interrupted came from the segments
    assert summary["llm_calls"]["cached"] > 0
    merged = summary["executor"]["cache_merge"]
    assert merged["rows"] == merged["added"] == total  # every call of the job is in the cache exactly once


def test_an_engine_failure_ends_its_actor_which_ray_replaces(tmp_path, scripted_backend):
    mode = "parallel"
    reference = local_run(tmp_path, mode, scripted_backend)
    total = reference["llm_calls"]["new"]
    failing = DyingBackend(scripted_backend(reply=python_reply), tmp_path / "failed", after=5, how="raise")
    summary = ray_run(tmp_path, mode, ScaleConfig(ray_actors=2, ray_batch_size=2), failing)
    assert (tmp_path / "failed").exists()
    same_files(tmp_path / "local", tmp_path / "ray")
    ids = [e["id"] for e in events(tmp_path / "ray")]
    assert len(ids) == len(set(ids)) == len(events(tmp_path / "local"))
    merged = summary["executor"]["cache_merge"]
    assert merged["rows"] == merged["added"] == total  # the retried batch made none of its finished calls again
    # the calls the dead actor made are in its segment but not in its lost batch's counts
    assert summary["llm_calls"]["new"] < total and summary["llm_calls"]["cached"] > 0, summary["llm_calls"]
