"""Resuming an agents run against another served model is refused before any model is built."""

from __future__ import annotations

import json

import pytest

import xinstruct.llm.factory as factory
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.pipeline import AgentsRun
from xinstruct.core.config import build_config
from xinstruct.core.errors import ConfigError
from xinstruct.llm.factory import BackendConfig
from xinstruct.sandbox import available_languages

from .helpers import python_reply

pytestmark = pytest.mark.skipif("python" not in available_languages(), reason="needs the python sandbox")


def served(name: str) -> BackendConfig:
    return BackendConfig(backend="openai", base_url="http://127.0.0.1:9/v1", served_model=name, api="chat")


def test_served_model_change_is_refused_before_the_model_is_built(tmp_path, scripted_backend, monkeypatch):
    seeds = tmp_path / "seed.jsonl"
    seeds.write_text(json.dumps({"language": "python", "code": "def g(x):\n    return x + 1\n"}) + "\n")
    built = []
    monkeypatch.setattr(factory.BackendPlan, "build",
                        lambda plan: built.append(plan) or scripted_backend(reply=python_reply))
    cfg = build_config(AgentsConfig, {"languages": "python", "rounds": 0, "dpo_samples": 0})
    out = tmp_path / "run"
    AgentsRun(cfg, seeds, out, backend_cfg=served("coder-a")).execute()
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["model"]["served_model"] == "coder-a" and manifest["input"][0]["sha256"]
    with pytest.raises(ConfigError, match=r"model\.served_model"):
        AgentsRun(cfg, seeds, out, backend_cfg=served("coder-b")).execute()
    assert len(built) == 1
