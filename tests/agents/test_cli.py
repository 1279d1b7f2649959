from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xinstruct.agents.config import AgentsConfig
from xinstruct.cli import cli
from xinstruct.core.config import resolve_configs
from xinstruct.core.errors import ConfigError, InputError


def test_yaml_config_then_command_line_precedence(tmp_path):
    cfg_file = tmp_path / "a.yaml"
    cfg_file.write_text("languages: [py, 'c++']\nrounds: 2\nmode: parallel\nno_such: 1\n")
    with pytest.raises(ConfigError, match="no_such"):
        resolve_configs([AgentsConfig], str(cfg_file), {})
    cfg_file.write_text("languages: [py, 'c++']\nrounds: 2\nmode: parallel\n")
    (cfg,) = resolve_configs([AgentsConfig], str(cfg_file), {"rounds": "5", "memory": False})
    assert cfg.languages == ["python", "cpp"] and cfg.rounds == 5 and cfg.mode == "parallel" and not cfg.memory


def test_unknown_language_is_rejected_before_any_model_loads(tmp_path, monkeypatch):
    loads: list[str] = []

    def refuse(what: str):
        def record(*args, **kwargs):
            loads.append(what)
            raise AssertionError(f"{what} was built before the settings were checked")

        return record

    # every way to a model: the three backends, and a pull of a registered model
    monkeypatch.setattr("xinstruct.llm.llamacpp.LlamaCppBackend.__init__", refuse("llamacpp"))
    monkeypatch.setattr("xinstruct.llm.transformers.TransformersBackend.__init__", refuse("transformers"))
    monkeypatch.setattr("xinstruct.llm.openai.OpenAIBackend.__init__", refuse("openai"))
    monkeypatch.setattr("xinstruct.models.pull.pull_model", refuse("pull"))
    seed = tmp_path / "s.jsonl"
    seed.write_text(json.dumps({"language": "python", "code": "x = 1"}) + "\n")
    result = CliRunner().invoke(cli, ["agents", str(seed), "--out", str(tmp_path / "o"), "--languages", "klingon"])
    assert isinstance(result.exception, ConfigError) and "klingon" in str(result.exception)
    assert result.exit_code != 0 and loads == []
    assert not (tmp_path / "o").exists()


def test_memory_command_lists_and_filters(tmp_path):
    (tmp_path / "memory").mkdir()
    item = {"id": "seed:a", "instruction": "Reverse a list.", "scores": {"total": 4}, "verdict": "passed"}
    for lang in ("python", "bash"):
        data = {"language": lang, "size": 4, "threshold": 0.7, "items": [item]}
        (tmp_path / "memory" / f"{lang}.json").write_text(json.dumps(data))
    shown = CliRunner().invoke(cli, ["agents", "memory", str(tmp_path), "--language", "bash"])
    assert shown.exit_code == 0, shown.output
    assert "bash memory (1/4" in shown.output and "python memory" not in shown.output
    assert "seed:a" in shown.output and "Reverse a list." in shown.output and "passed" in shown.output
    both = CliRunner().invoke(cli, ["agents", "memory", str(tmp_path)])
    assert both.exit_code == 0, both.output
    assert "bash memory (1/4" in both.output and "python memory (1/4" in both.output
    as_json = CliRunner().invoke(cli, ["agents", "memory", str(tmp_path), "--language", "python", "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["items"] == [item]
    missing = CliRunner().invoke(cli, ["agents", "memory", str(tmp_path), "--language", "java"])
    assert missing.exit_code != 0
    assert isinstance(missing.exception, InputError) and "no agent memory found for java" in str(missing.exception)


def test_executor_ray_from_the_yaml_or_the_command_line_chooses_the_ray_run(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="needs the ray extra")
    from xinstruct.agents.ray_run import AgentsRayRun

    chosen = []
    monkeypatch.setattr(AgentsRayRun, "execute", lambda run: chosen.append(run.scale) or {"totals": {}})
    seed = tmp_path / "s.jsonl"
    seed.write_text(json.dumps({"language": "python", "code": "x = 1"}) + "\n")
    cfg_file = tmp_path / "a.yaml"
    cfg_file.write_text("executor: ray\nray_address: auto\nray_actors: 3\n")
    args = ["agents", str(seed), "--out", str(tmp_path / "o"), "--json"]
    result = CliRunner().invoke(cli, [*args, "--config", str(cfg_file), "--ray-batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert (chosen[0].executor, chosen[0].ray_address, chosen[0].ray_actors, chosen[0].ray_batch_size) == ("ray", "auto", 3, 4)
    assert CliRunner().invoke(cli, [*args, "--executor", "ray"]).exit_code == 0 and chosen[1].ray_address is None
    help_text = CliRunner().invoke(cli, ["agents", "run", "--help"]).output
    assert "--executor" in help_text and "--ray-address" in help_text
