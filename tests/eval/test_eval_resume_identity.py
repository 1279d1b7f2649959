"""Resuming an eval run against another model is refused, before any model is built."""

from __future__ import annotations

from pathlib import Path

import pytest

import xinstruct.llm.factory as factory
from xinstruct.core.errors import ConfigError
from xinstruct.eval.config import EvalConfig
from xinstruct.eval.pipeline import run_eval
from xinstruct.llm.factory import BackendConfig


@pytest.fixture
def data_env(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    return benchmarks_dir


def served(name: str) -> BackendConfig:
    return BackendConfig(backend="openai", base_url="http://127.0.0.1:9/v1", served_model=name, api="chat")


def test_served_model_change_is_refused_before_the_model_is_built(data_env, scripted_backend, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(factory.BackendPlan, "build", lambda plan: built.append(plan) or scripted_backend())
    cfg, out = EvalConfig(benchmark=["humaneval+"], limit=1), tmp_path / "run"
    summary = run_eval(cfg, served("coder-a"), out)
    assert summary["model"]["served_model"] == "coder-a" and len(built) == 1
    with pytest.raises(ConfigError, match=r"model\.served_model"):
        run_eval(cfg, served("coder-b"), out)
    assert len(built) == 1


def test_other_weights_are_refused(data_env, scripted_backend, tmp_path):
    """eval's identity names the weights ``model_sha256``; a resume with other weights must not pass."""
    def weights(sha: str):
        backend = scripted_backend()
        backend.identity = lambda: {"backend": "llamacpp", "model_sha256": sha, "template_sha256": None}
        return backend

    cfg, out = EvalConfig(benchmark=["humaneval+"], limit=1), tmp_path / "run"
    run_eval(cfg, BackendConfig(), out, backend=weights("a" * 64))
    run_eval(cfg, BackendConfig(), out, backend=weights("a" * 64))
    with pytest.raises(ConfigError, match=r"model\.sha256"):
        run_eval(cfg, BackendConfig(), out, backend=weights("b" * 64))
