from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

from xinstruct.core.config import (
    build_config,
    config_options,
    option,
    output_fingerprint,
    resolve_configs,
)
from xinstruct.core.errors import ConfigError


@dataclass
class Demo:
    samples: int = option(10, "how many")
    mode: str = option("best", "how", choices=("best", "random"))
    langs: list[str] = option([], "languages")
    flag: bool = option(False, "a switch")
    limit: int | None = option(None, "cap", affects_output=False)

    def validate(self):
        if self.samples < 1:
            raise ConfigError("samples must be >= 1")


@click.command()
@click.option("--config", "config_file")
@config_options(Demo)
def cmd(config_file, **values):
    (cfg,) = resolve_configs((Demo,), config_file, values)
    click.echo(f"{cfg.samples} {cfg.mode} {cfg.langs} {cfg.flag} {cfg.limit}")


def test_defaults_yaml_and_cli_precedence(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cmd, []).output.strip() == "10 best [] False None"
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("samples: 3\nmode: random\nlangs: [python, java]\nflag: true\n")
    assert runner.invoke(cmd, ["--config", str(yaml_file)]).output.strip() == "3 random ['python', 'java'] True None"
    out = runner.invoke(cmd, ["--config", str(yaml_file), "--samples", "5", "--langs", "go,rust", "--no-flag"])
    assert out.output.strip() == "5 random ['go', 'rust'] False None"


def test_help_shows_text_and_default():
    out = CliRunner().invoke(cmd, ["--help"]).output
    assert "how many [default: 10]" in out and "--flag / --no-flag" in out


def test_validation_errors_name_the_source(tmp_path):
    with pytest.raises(ConfigError, match="samples must be"):
        build_config(Demo, {"samples": 0})
    with pytest.raises(ConfigError, match="expects int"):
        build_config(Demo, {"samples": "many"})
    with pytest.raises(ConfigError, match="must be one of best, random"):
        build_config(Demo, {"mode": "worst"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("samplez: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key\(s\) samplez"):
        resolve_configs((Demo,), str(bad), {})
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1,\nb: 2\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:"):
        resolve_configs((Demo,), str(broken), {})


def test_fingerprint_leaves_out_throughput_knobs():
    fp = output_fingerprint(Demo(limit=5))
    assert "limit" not in fp and fp["samples"] == 10
