"""The run protocol's manifest check (``core/runs.py``) and the backend plan it is fed from
(``llm/factory.py``): one model-identity shape for every stage, checked before a model is built."""

from __future__ import annotations

import json

import pytest

from xinstruct.core.errors import ConfigError
from xinstruct.core.runs import RunDir, input_identity, model_key
from xinstruct.llm.factory import BackendConfig, plan_backend
from xinstruct.models.registry import DEFAULT_MODEL, known_models


def _open(run: RunDir, model: dict, **kw) -> bool:
    return run.open(config={"backend": {"api_key": "secret", "api": "chat"}}, fingerprint={"n": 1}, model=model,
                    prompts={}, seed=0, **kw)


def test_backend_identity_names_the_weights_like_a_model_ref(tmp_path):
    """Backends say ``model_sha256`` (eval's manifest held that), model refs ``sha256``: both are compared."""
    run = RunDir(tmp_path / "r", "eval")
    _open(run, {"backend": "llamacpp", "model_sha256": "a" * 64})
    assert _open(run, {"backend": "llamacpp", "sha256": "a" * 64}) is True
    with pytest.raises(ConfigError, match=r"model\.sha256"):
        _open(run, {"backend": "llamacpp", "model_sha256": "b" * 64})


def test_served_model_and_api_must_match_but_the_url_may_move(tmp_path):
    run = RunDir(tmp_path / "r", "inverse")
    served = {"backend": "openai", "base_url": "http://a:8000/v1", "api": "chat", "served_model": "m1"}
    _open(run, served)
    with pytest.raises(ConfigError, match=r"model\.served_model"):
        _open(run, {**served, "served_model": "m2"})
    with pytest.raises(ConfigError, match=r"model\.api"):
        _open(run, {**served, "api": "completions"})
    assert _open(run, {**served, "base_url": "http://b:9000/v1"}) is True
    # the pre-protocol inverse manifest for a served model recorded only {"backend": "custom"}
    run.manifest_path.write_text(json.dumps({**json.loads(run.manifest_path.read_text()), "model": {"backend": "custom"}}))
    with pytest.raises(ConfigError, match=r"model\.served_model"):
        _open(run, served)


def test_manifest_has_one_shape_and_no_secrets(tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text('{"code": "x"}\n')
    run = RunDir(tmp_path / "r", "agents")
    run.open(config={"backend": {"api_key": "secret"}}, fingerprint={}, model=None, prompts={}, seed=1,
             input=input_identity(data, tmp_path))
    manifest = json.loads(run.manifest_path.read_text())
    assert set(manifest) == {"stage", "created", "command", "config", "fingerprint", "input", "model", "prompts",
                             "seed", "versions"}
    assert "secret" not in run.manifest_path.read_text()
    assert manifest["input"][0]["sha256"] and manifest["input"][1] == {"path": str(tmp_path.resolve()), "sha256": None}


def test_openai_plan_describes_the_served_model_without_a_server():
    cfg = BackendConfig(backend="openai", base_url="http://127.0.0.1:9", served_model="coder", api="chat")
    ident = plan_backend(cfg).identity()
    assert ident == {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "api": "chat", "served_model": "coder"}
    assert model_key(ident) == {"sha256": None, "served_model": "coder", "api": "chat"}


def test_registered_model_plan_needs_no_pull(tmp_path, monkeypatch):
    """A registered model's identity comes from the catalog: nothing is downloaded to name it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    plan = plan_backend(BackendConfig())
    assert not plan.model.path.exists()
    ident = plan.identity()
    assert ident["backend"] == "llamacpp" and ident["sha256"] == known_models()[DEFAULT_MODEL].sha256


def test_completions_api_without_a_local_model_is_a_config_error():
    cfg = BackendConfig(backend="openai", base_url="http://127.0.0.1:9", served_model="coder", api="completions")
    with pytest.raises(ConfigError, match="--api completions"):
        plan_backend(cfg).identity()
