"""Repeated SIGKILL at random moments (issue 21): the inverse, agents and eval commands, killed again
and again against a real server process on loopback (the deterministic scripted server), finish with
the undisturbed run's outputs, no record lost or duplicated, and redo at most the LLM calls that were
in flight at each kill. ``benchmarks/kill_loop.py`` does ten kills per stage, and the real model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from kill_loop import kill_loop, outcome, stage_argv

KILLS = 3
CONCURRENCY = 2


@pytest.fixture
def data_env(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    return benchmarks_dir


@pytest.mark.parametrize("stage", ["inverse", "agents", "eval"])
def test_repeated_sigkill_gives_the_undisturbed_output(stage, server_process, tmp_path, request):
    if stage == "eval":
        request.getfixturevalue("data_env")
    reference_server = server_process(delay=0.01).start()
    argv = stage_argv(stage, reference_server.url, tmp_path / "reference", size=1, concurrency=CONCURRENCY)
    reference = kill_loop(argv, reference_server.answered, tmp_path / "reference.log", kills=0, rng=random.Random(0))
    expected = outcome(stage, tmp_path / "reference")
    assert reference.redone == 0 and sum(expected["ids"].values()) > 0

    server = server_process(delay=0.01).start()
    argv = stage_argv(stage, server.url, tmp_path / "run", size=1, concurrency=CONCURRENCY)
    result = kill_loop(argv, server.answered, tmp_path / "run.log", kills=KILLS, rng=random.Random(stage),
                       calls_per_life=2, jitter=0.15)
    got = outcome(stage, tmp_path / "run")
    assert result.kills == KILLS  # every kill landed while the run was going
    assert got["files"] == expected["files"]
    assert got["ids"] == expected["ids"] and max(got["ids"].values()) == 1  # none lost, none twice
    assert result.distinct == reference.distinct  # the same calls, no more, no fewer
    assert result.redone <= KILLS * CONCURRENCY, result  # at most the calls in flight at each kill
