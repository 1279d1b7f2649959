"""Inverse-Instruct on a local Ray cluster: the same files as a local run, also after actors die."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from xinstruct.core.errors import BackendError
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig
from xinstruct.scale.config import ScaleConfig
from xinstruct.scale.segments import segment_paths

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"
OUTPUTS = ("data.jsonl", "data.parquet", "skipped.jsonl")


@pytest.fixture(autouse=True)
def _ship_this_module(ray_cluster):
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def reply(req, i):
    return f" Write thing {req.params.seed % 7}" if req.params.seed % 5 else ""  # some empty candidates too


def judge(req):
    import math

    p = 0.1 + (len(req.messages[-1]["content"]) % 9) / 10
    return {"Yes": math.log(p), "No": math.log(1 - p)}


def ray_run(scripted_backend, out, cfg, scale, backend=None):
    from xinstruct.inverse.ray_run import run_inverse_ray

    backend = backend or scripted_backend(reply=reply, judge=judge)
    return run_inverse_ray(EXAMPLE, out, cfg, BackendConfig(), ReaderConfig(), scale, backend=backend)


def same_files(a: Path, b: Path) -> None:
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture
def local_run(tmp_path, scripted_backend):
    cfg = InverseConfig(samples=3, select="best")
    summary = run_inverse(EXAMPLE, tmp_path / "local", cfg, BackendConfig(), ReaderConfig(),
                          backend=scripted_backend(reply=reply, judge=judge))
    return cfg, tmp_path / "local", summary


class DyingBackend:
    """Scripted answers; the first actor to make its ``after``-th call dies (a marker file makes
    it happen once per test, not again in the actor Ray starts instead)."""

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
                raise BackendError("engine died")
            yield i, result

    def first_token_logprobs(self, requests):
        return self.inner.first_token_logprobs(requests)

    def close(self):
        pass


def test_ray_run_is_byte_identical_to_the_local_run_and_resumes_with_nothing_to_do(tmp_path, scripted_backend, local_run):
    cfg, local, reference = local_run
    scale = ScaleConfig(executor="ray", ray_actors=2, ray_batch_size=3)
    summary = ray_run(scripted_backend, tmp_path / "ray", cfg, scale)
    same_files(local, tmp_path / "ray")
    assert summary["dataset_rows"] == reference["dataset_rows"] == 20
    assert summary["skipped_by_reason"] == reference["skipped_by_reason"]
    assert summary["llm_calls"] == reference["llm_calls"]  # every call once, none from the cache
    assert summary["duplicate_results"] == 0
    assert summary["executor"]["cache_merge"]["rows"] == summary["executor"]["cache_merge"]["added"] == reference["llm_calls"]["new"]
    assert not segment_paths(tmp_path / "ray")  # merged into llm-cache.sqlite
    blocks = list((tmp_path / "ray" / "shards").glob("results-ray-*.jsonl"))
    assert len(blocks) >= 7  # 20 snippets in batches of at most 3

    again = ray_run(scripted_backend, tmp_path / "ray", cfg, scale)
    assert again["resumed"] is True
    assert again["llm_calls"] == {"new": 0, "cached": 0, "retries": {}}  # every id finished: no actor ran
    same_files(local, tmp_path / "ray")


def test_a_killed_actor_loses_nothing_and_redoes_only_unfinished_calls(tmp_path, scripted_backend, local_run):
    cfg, local, reference = local_run
    total = reference["llm_calls"]["new"]
    # 1. the actor's process is killed and Ray may not replace it: the run fails
    dying = DyingBackend(scripted_backend(reply=reply, judge=judge), tmp_path / "killed", after=12, how="kill")
    with pytest.raises(Exception, match=r"(?i)actor|worker|died"):
        ray_run(scripted_backend, tmp_path / "ray", cfg, ScaleConfig(ray_actors=2, ray_batch_size=2, ray_max_restarts=0),
                backend=dying)
    assert (tmp_path / "killed").exists()
    done_before = len({r["id"] for r in _rows(tmp_path / "ray")})
    assert 0 < done_before < 20
    # 2. the rerun finishes it, and an engine that fails in it ends its actor, which Ray replaces
    failing = DyingBackend(scripted_backend(reply=reply, judge=judge), tmp_path / "failed", after=3, how="raise")
    summary = ray_run(scripted_backend, tmp_path / "ray", cfg, ScaleConfig(ray_actors=2, ray_batch_size=2), backend=failing)
    assert (tmp_path / "failed").exists()
    same_files(local, tmp_path / "ray")
    assert summary["resumed"] is True
    # the killed run's other actor may finish its block after the rerun has read the finished ids
    # (Ray kills the pool's actors asynchronously), so a snippet may be finished twice: the
    # assembly uses its first row and counts the other, and the dataset never holds it twice
    ids = [r["id"] for r in _rows(tmp_path / "ray")]
    assert len(set(ids)) == summary["snippets_finished"] == 20
    assert summary["duplicate_results"] == len(ids) - 20
    data = [json.loads(line)["id"] for line in (tmp_path / "ray" / "data.jsonl").read_text().splitlines()]
    assert len(data) == len(set(data)) == reference["dataset_rows"]
    merged = summary["executor"]["cache_merge"]
    # every call of the job is in the merged cache exactly once (a call that actor made again is
    # a row of its segment that adds nothing)
    assert merged["added"] <= merged["rows"]
    assert merged["added"] == len(_cache(tmp_path / "ray")) == total


def _rows(run: Path):
    from xinstruct.core.runs import RunDir

    return list(RunDir(run, "inverse").rows("results"))


def _cache(run: Path):
    from xinstruct.core.cache import CallCache

    return _Len(CallCache(run / "llm-cache.sqlite"))


class _Len:
    def __init__(self, cache) -> None:
        self.n = len(cache)
        cache.close()

    def __len__(self) -> int:
        return self.n


def test_a_bad_record_is_counted_and_the_job_goes_on(tmp_path, scripted_backend):
    cfg = InverseConfig(samples=2, limit=6)

    def judge_or_fail(req):
        if "palindrome" in req.messages[-1]["content"]:
            raise ValueError("this record breaks the judge")
        return judge(req)

    backend = scripted_backend(reply=lambda req, i: " Write a function that checks a palindrome" if req.params.seed % 3 == 0
                               else " Write thing", judge=judge_or_fail)
    summary = ray_run(scripted_backend, tmp_path / "ray", cfg, ScaleConfig(ray_actors=2, ray_batch_size=2), backend=backend)
    failed = summary["skipped_by_reason"].get("llm.failed.ValueError", 0)
    assert 0 < failed < 6
    assert summary["snippets_finished"] == 6
    assert summary["dataset_rows"] == 6 - failed
    skipped = [json.loads(line) for line in (tmp_path / "ray" / "skipped.jsonl").read_text().splitlines()]
    assert sum(s["reason"] == "failed.ValueError" and "breaks the judge" in s["detail"] for s in skipped) == failed


@pytest.mark.model
def test_the_embedded_model_runs_in_ray_actors(tmp_path, embedded_model):
    pytest.importorskip("llama_cpp", reason="needs the llamacpp extra")
    from xinstruct.inverse.ray_run import run_inverse_ray

    cfg = InverseConfig(samples=2, max_tokens=32, limit=2)
    backend_cfg = BackendConfig(threads=1, parallel=2, n_ctx=2048)
    summary = run_inverse_ray(EXAMPLE, tmp_path / "run", cfg, backend_cfg, ReaderConfig(),
                              ScaleConfig(ray_actors=2, ray_batch_size=2))
    assert summary["snippets_finished"] == 2
    kept = summary["cleaning"]["kept"]  # each kept candidate is judged once; each snippet sampled twice
    assert summary["llm_calls"]["new"] == summary["executor"]["cache_merge"]["added"] == 2 * 2 + kept
    rows = [json.loads(line) for line in (tmp_path / "run" / "data.jsonl").read_text().splitlines()]
    assert rows, summary["skipped_by_reason"]
    for row in rows:
        assert row["instruction"].strip()
        assert 0.0 <= row["score"] <= 1.0
        assert row["messages"][1]["content"].startswith("```")
    # a rerun finds every snippet finished and the merged cache holds the calls
    again = run_inverse_ray(EXAMPLE, tmp_path / "run", cfg, backend_cfg, ReaderConfig(), ScaleConfig(ray_actors=2, ray_batch_size=2))
    assert again["llm_calls"]["new"] == 0
    assert (tmp_path / "run" / "data.jsonl").read_text().splitlines() == [json.dumps(r, ensure_ascii=False) for r in rows]
