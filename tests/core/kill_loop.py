"""SIGKILL a stage's command again and again until it finishes, counting the LLM calls redone.

Each life of the run is ``xinstruct <argv>`` in a forked child of this process (the stage modules
are imported once, here, so a life costs no interpreter start); SIGKILL ends it as abruptly as it
ends any process. Shared by ``tests/core/test_kill_loop.py`` (a few kills per stage) and ``benchmarks/kill_loop.py``
(ten per stage, also against the real model). The server in front of the run logs each answer it
sends (``answered()``), so a call answered twice is one the run had to redo: its answer was lost
with the killed process before the call cache stored it.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xinstruct.cli import SUBCOMMANDS, main

REPO = Path(__file__).resolve().parents[2]


@dataclass
class KillLoop:
    kills: int
    """SIGKILLs that landed while the command was still running."""
    answered: int
    """Answers the server sent over all lives of the run."""
    distinct: int
    """Different calls among them."""
    seconds: float

    @property
    def redone(self) -> int:
        return self.answered - self.distinct


def _life(argv: list[str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    main(argv)


def start_life(argv: list[str], log: Path) -> multiprocessing.Process:
    """``xinstruct <argv>`` in a forked child, its output appended to ``log``."""
    module = SUBCOMMANDS[argv[0]][0].split(":")[0]
    importlib.import_module(module)  # imported before the fork, once
    proc = multiprocessing.get_context("fork").Process(target=_life, args=(argv, str(log)), daemon=True)
    proc.start()
    return proc


def kill_loop(argv: list[str], answered: Callable[[], list[str]], log: Path, *, kills: int, rng: random.Random,
              calls_per_life: int = 2, jitter: float = 0.3, limit: float = 1800.0) -> KillLoop:
    """Run ``xinstruct <argv>`` ``kills`` times, each killed once the server answered ``calls_per_life``
    more calls and then a random 0 to ``jitter`` seconds more (so kills land in calls, between them,
    in the sandbox or in the exports); then once more to the end, which must succeed."""
    started = time.monotonic()
    landed = 0
    for _ in range(kills):
        before = len(answered())
        proc = start_life(argv, log)
        deadline = time.monotonic() + limit
        while proc.is_alive() and len(answered()) < before + calls_per_life:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"no progress within {limit:g} s: xinstruct {' '.join(argv)}")
            time.sleep(0.005)
        time.sleep(rng.uniform(0, jitter))
        if proc.is_alive():
            proc.kill()  # SIGKILL
            landed += 1
        proc.join()
    final = start_life(argv, log)
    final.join(limit)
    if final.exitcode != 0:
        final.kill()
        state = f"did not finish within {limit:g} s" if final.exitcode is None else f"failed ({final.exitcode})"
        raise RuntimeError(f"the last run {state}: {log.read_text()[-2000:]}")
    calls = answered()
    return KillLoop(kills=landed, answered=len(calls), distinct=len(set(calls)), seconds=time.monotonic() - started)


OUTPUTS = {"inverse": ("data.jsonl", "skipped.jsonl"), "agents": ("sft.jsonl", "rejected.jsonl", "dpo.jsonl", "skipped.jsonl"),
           "eval": ()}
"""The files of each stage that must equal the undisturbed run's (eval: its shards and summary)."""


def stage_argv(stage: str, url: str, out: Path, *, size: int, served_model: str | None = "scripted-coder",
               concurrency: int = 2) -> list[str]:
    """``xinstruct`` arguments for a run of ``stage`` whose work grows with ``size`` (1: a few dozen calls)."""
    served = ["--backend", "openai", "--base-url", url, "--api", "chat", "--concurrency", str(concurrency),
              *(["--served-model", served_model] if served_model else [])]
    if stage == "inverse":
        work = ["inverse", str(REPO / "examples/inverse/demo.jsonl"), "--samples", "2", "--limit", str(6 * size)]
    elif stage == "agents":
        work = ["agents", str(REPO / "examples/agents/seed.jsonl"), "--languages", "python,bash",
                "--rounds", str(size), "--dpo-samples", "0"]
    else:
        work = ["eval", "--benchmark", "humaneval+", "--limit", str(10 * size)]
    return [*work, "--out", str(out), *served]


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
    by_shard = [(shard.name, json.loads(line)) for shard in sorted((out / "shards").glob("*.jsonl"))
                for line in shard.read_text().splitlines()]
    ids = Counter(f"{name}/{row['id']}" for name, row in by_shard)
    shard_rows = [row for _, row in by_shard]
    files = {name: rows(out / name) for name in OUTPUTS[stage]}
    if stage == "eval":
        files["shards"] = sorted((steady(r) for r in shard_rows), key=lambda r: r["id"])
        files["summary"] = steady(json.loads((out / "summary.json").read_text())["benchmarks"])
    return {"files": files, "ids": ids}
