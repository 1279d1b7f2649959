"""Repeated SIGKILL at random moments (issue 21): the inverse, agents and eval commands, killed again
and again against a real server process on loopback (the deterministic scripted server), finish with
the undisturbed run's outputs, no record lost or duplicated, and redo at most the LLM calls that were
in flight at each kill. ``benchmarks/kill_loop.py`` does ten kills per stage, and the real model."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kill_loop import kill_loop

REPO = Path(__file__).resolve().parents[2]
KILLS = 3
CONCURRENCY = 2


def served(url: str) -> list[str]:
    return ["--backend", "openai", "--base-url", url, "--served-model", "scripted-coder", "--api", "chat",
            "--concurrency", str(CONCURRENCY)]


STAGES: dict[str, tuple[list[str], tuple[str, ...]]] = {
    # stage: (arguments after the input/out, the files that must equal the undisturbed run's)
    "inverse": (["inverse", str(REPO / "examples/inverse/demo.jsonl"), "--samples", "2", "--limit", "6"],
                ("data.jsonl", "skipped.jsonl")),
    "agents": (["agents", str(REPO / "examples/agents/seed.jsonl"), "--languages", "python,bash", "--rounds", "1",
                "--dpo-samples", "0"], ("sft.jsonl", "rejected.jsonl", "dpo.jsonl", "skipped.jsonl")),
    "eval": (["eval", "--benchmark", "humaneval+", "--limit", "10"], ()),
}


def command(stage: str, url: str, out: Path) -> list[str]:
    return [*STAGES[stage][0], "--out", str(out), *served(url)]


def steady(value: Any) -> Any:
    """A row without what varies between runs of the same work: timings and whether a call was cached."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items()
                if not k.endswith("seconds") and k not in ("cached_generation", "new_tokens", "new")}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def rows(path: Path) -> list[dict[str, Any]]:
    return [steady(json.loads(line)) for line in path.read_text().splitlines()]


def outcome(stage: str, out: Path) -> dict[str, Any]:
    """The run's outputs, and its shard rows by id (finished units) to count losses and duplicates."""
    shard_rows = [json.loads(line) for shard in sorted((out / "shards").glob("*.jsonl"))
                  for line in shard.read_text().splitlines()]
    ids = Counter(f"{shard_row.get('benchmark', '')}/{shard_row['id']}" for shard_row in shard_rows)
    files = {name: rows(out / name) for name in STAGES[stage][1]}
    if stage == "eval":
        files["shards"] = sorted((steady(r) for r in shard_rows), key=lambda r: r["id"])
        files["summary"] = steady(json.loads((out / "summary.json").read_text())["benchmarks"])
    return {"files": files, "ids": ids}


@pytest.fixture
def data_env(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    return benchmarks_dir


@pytest.mark.parametrize("stage", list(STAGES))
def test_repeated_sigkill_gives_the_undisturbed_output(stage, server_process, tmp_path, request):
    if stage == "eval":
        request.getfixturevalue("data_env")
    reference_server = server_process(delay=0.01).start()
    reference = kill_loop(command(stage, reference_server.url, tmp_path / "reference"), reference_server.answered,
                          tmp_path / "reference.log", kills=0, rng=random.Random(0))
    expected = outcome(stage, tmp_path / "reference")
    assert reference.redone == 0 and sum(expected["ids"].values()) > 0

    server = server_process(delay=0.01).start()
    result = kill_loop(command(stage, server.url, tmp_path / "run"), server.answered, tmp_path / "run.log", kills=KILLS,
                       rng=random.Random(stage), calls_per_life=2, jitter=0.15)
    got = outcome(stage, tmp_path / "run")
    assert result.kills == KILLS  # every kill landed while the run was going
    assert got["files"] == expected["files"]
    assert got["ids"] == expected["ids"] and max(got["ids"].values()) == 1  # none lost, none twice
    assert result.distinct == reference.distinct  # the same calls, no more, no fewer
    assert result.redone <= KILLS * CONCURRENCY, result  # at most the calls in flight at each kill
