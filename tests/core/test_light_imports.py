"""Importing the package and asking for help must not load torch, transformers or llama.cpp: they
take seconds and gigabytes, and a stage's optional dependency must never break another stage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "llama_cpp", "matplotlib", "uvicorn")
SUBCOMMANDS = ("models", "inverse", "exec", "agents", "eval", "train", "experiment", "report", "browse")


def _heavy_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_xinstruct_is_light():
    assert _heavy_after("import xinstruct") == []


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in SUBCOMMANDS)], ids=" ".join)
def test_help_is_light(argv):
    """What ``xinstruct [SUBCOMMAND] --help`` runs (the console script calls ``xinstruct.cli:main``)."""
    code = (
        "from xinstruct.cli import cli\n"
        "import contextlib, io\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    cli.main(args={argv!r}, standalone_mode=False)"
    )
    assert _heavy_after(code) == []
