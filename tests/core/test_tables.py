"""Tables in a pipe keep each cell on one line; run summaries print as JSON with --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from xinstruct.cli import cli
from xinstruct.models.catalog import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[2]


def test_models_list_in_a_pipe_keeps_names_and_paths_whole():
    proc = subprocess.run([sys.executable, "-m", "xinstruct", "models", "list"], capture_output=True, text=True,
                          check=True, timeout=60)
    line = next(ln for ln in proc.stdout.splitlines() if DEFAULT_MODEL in ln)  # `| grep NAME` finds it
    listed = json.loads(subprocess.run([sys.executable, "-m", "xinstruct", "models", "list", "--json"],
                                       capture_output=True, text=True, check=True, timeout=60).stdout)
    default = next(r for r in listed if r["name"] == DEFAULT_MODEL)
    assert default["sha256"] in line and default["path"] in line


def test_inverse_json_prints_the_summary_it_wrote(tmp_path, scripted_backend, monkeypatch):
    import xinstruct.inverse.cli as inverse_cli
    from xinstruct.inverse.pipeline import run_inverse

    def scripted(*args, **kwargs):
        return run_inverse(*args, **kwargs, backend=scripted_backend())

    monkeypatch.setattr(inverse_cli, "run_inverse", scripted)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["inverse", str(REPO / "examples" / "inverse" / "demo.jsonl"), "--out", str(out),
                                      "--samples", "1", "--limit", "3", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "summary.json").read_text())
    assert printed["dataset_rows"] == 3


def test_eval_json_prints_the_summary_it_wrote(tmp_path, scripted_backend, monkeypatch):
    import xinstruct.eval.pipeline as pipeline

    real = pipeline.run_eval
    monkeypatch.setattr(pipeline, "run_eval", lambda *a, **k: real(*a, **k, backend=scripted_backend(
        reply=lambda req, i: "    return None\n```")))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["eval", "-b", "humaneval", "--limit", "2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["benchmarks"] == json.loads((out / "summary.json").read_text())["benchmarks"]
    assert printed["benchmarks"][0]["tasks"] == 2
