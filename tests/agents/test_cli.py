from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xinstruct.agents.config import AgentsConfig
from xinstruct.cli import cli
from xinstruct.core.config import resolve_configs
from xinstruct.core.errors import ConfigError


def test_yaml_config_then_command_line_precedence(tmp_path):
    cfg_file = tmp_path / "a.yaml"
    cfg_file.write_text("languages: [py, 'c++']\nrounds: 2\nmode: parallel\nno_such: 1\n")
    with pytest.raises(ConfigError, match="no_such"):
        resolve_configs([AgentsConfig], str(cfg_file), {})
    cfg_file.write_text("languages: [py, 'c++']\nrounds: 2\nmode: parallel\n")
    (cfg,) = resolve_configs([AgentsConfig], str(cfg_file), {"rounds": "5", "memory": False})
    assert cfg.languages == ["python", "cpp"] and cfg.rounds == 5 and cfg.mode == "parallel" and not cfg.memory


def test_unknown_language_is_rejected_before_any_model_loads(tmp_path):
    seed = tmp_path / "s.jsonl"
    seed.write_text(json.dumps({"language": "python", "code": "x = 1"}) + "\n")
    result = CliRunner().invoke(cli, ["agents", str(seed), "--out", str(tmp_path / "o"), "--languages", "klingon"])
    assert isinstance(result.exception, ConfigError) and "klingon" in str(result.exception)


def test_memory_command_lists_and_filters(tmp_path):
    (tmp_path / "memory").mkdir()
    item = {"id": "seed:a", "instruction": "Reverse a list.", "scores": {"total": 4}, "verdict": "passed"}
    for lang in ("python", "bash"):
        data = {"language": lang, "size": 4, "threshold": 0.7, "items": [item]}
        (tmp_path / "memory" / f"{lang}.json").write_text(json.dumps(data))
    shown = CliRunner().invoke(cli, ["agents", "memory", str(tmp_path), "--language", "bash"])
    assert shown.exit_code == 0 and "bash memory (1/4" in shown.output and "python memory" not in shown.output
    missing = CliRunner().invoke(cli, ["agents", "memory", str(tmp_path), "--language", "java"])
    assert missing.exception is not None
