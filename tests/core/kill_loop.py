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
import multiprocessing
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xinstruct.cli import SUBCOMMANDS, main


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
              calls_per_life: int = 2, jitter: float = 0.3, limit: float = 300.0) -> KillLoop:
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
        raise RuntimeError(f"the last run failed ({final.exitcode}): {log.read_text()[-2000:]}")
    calls = answered()
    return KillLoop(kills=landed, answered=len(calls), distinct=len(set(calls)), seconds=time.monotonic() - started)
