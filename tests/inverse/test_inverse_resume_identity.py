"""Resuming an inverse run against another served model is refused before any model is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import xinstruct.llm.factory as factory
from xinstruct.core.errors import ConfigError
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"


def served(name: str) -> BackendConfig:
    return BackendConfig(backend="openai", base_url="http://127.0.0.1:9/v1", served_model=name, api="chat")


def test_openai_without_model_records_and_checks_the_served_model(tmp_path, scripted_backend, monkeypatch):
    built = []
    monkeypatch.setattr(factory.BackendPlan, "build", lambda plan: built.append(plan) or scripted_backend())
    cfg, out = InverseConfig(samples=1, limit=2), tmp_path / "run"
    run_inverse(EXAMPLE, out, cfg, served("coder-a"), ReaderConfig())
    model = json.loads((out / "run.json").read_text())["model"]
    assert model == {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "api": "chat", "served_model": "coder-a"}
    assert len(built) == 1
    with pytest.raises(ConfigError, match=r"model\.served_model"):
        run_inverse(EXAMPLE, out, cfg, served("coder-b"), ReaderConfig())
    assert len(built) == 1  # refused before the backend was built
    run_inverse(EXAMPLE, out, cfg, served("coder-a"), ReaderConfig())  # the same server resumes
    assert len(built) == 2
