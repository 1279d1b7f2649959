"""The `exec` click command, driven through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xinstruct.sandbox.cli import exec_command

pytestmark = pytest.mark.toolchain


def test_exec_file_with_tests(tmp_path: Path) -> None:
    sol, tests = tmp_path / "sol.py", tmp_path / "t.py"
    sol.write_text("def f():\n    return 1\n")
    tests.write_text("assert f() == 2\n")
    out = CliRunner().invoke(exec_command, ["--lang", "py", str(sol), "--tests", str(tests), "--timeout", "5"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["verdict"] == "failed"
    out = CliRunner().invoke(exec_command, [str(sol)])  # language from the extension, passes on exit 0
    assert json.loads(out.output)["verdict"] == "passed"


def test_exec_memory_option(tmp_path: Path) -> None:
    prog = tmp_path / "bomb.py"
    prog.write_text("x = bytearray(400 << 20)\n")
    out = CliRunner().invoke(exec_command, ["--lang", "python", str(prog), "--memory", "128"])
    assert json.loads(out.output)["verdict"] == "memory_exceeded"


def test_list_languages() -> None:
    out = CliRunner().invoke(exec_command, ["--list-languages"])
    assert out.exit_code == 0
    assert "python" in out.output and "Python 3" in out.output and "rust" in out.output
