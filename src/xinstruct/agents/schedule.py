"""Scheduling of an agents run's units: finished ones come from the shard, the others run concurrently.

The units of one stage (all seeds; all agents of one round) read the team's state as it was when
the stage began, so they can run in threads at once; each meters its own calls, and its sample is
appended to the shard as soon as it is finished, so a crash loses no finished unit.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from xinstruct.agents.calls import Caller
from xinstruct.agents.collaborate import Agent, Team
from xinstruct.core.runs import ShardWriter
from xinstruct.llm.base import PromptTooLong

Unit = tuple[str, Agent, Callable[[Team], dict[str, Any]]]
"""A unit id, the agent it belongs to, and what produces its sample from the team."""


class Units:
    """Produces the samples of units, ``concurrency`` at a time, appending new ones to ``writer``."""

    def __init__(self, team: Team, done: dict[str, dict[str, Any]], writer: ShardWriter, *, seed: int,
                 concurrency: int) -> None:
        self.team = team
        self.done = done
        self.writer = writer
        self.seed = seed
        self.concurrency = concurrency
        self.write_lock = threading.Lock()

    def run(self, jobs: Sequence[Unit]) -> list[dict[str, Any]]:
        """The samples of ``jobs`` (unit id, agent, producer), in order: finished units come from
        the shard, the others are produced ``concurrency`` at a time and appended as they finish."""
        if self.concurrency == 1 or sum(unit not in self.done for unit, _, _ in jobs) <= 1:
            return [self._one(*job) for job in jobs]
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="agent") as pool:
            futures = [pool.submit(self._one, *job) for job in jobs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                # queued units are dropped; those in flight finish (and are saved) before this raises
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _one(self, unit: str, agent: Agent, produce: Callable[[Team], dict[str, Any]]) -> dict[str, Any]:
        """A finished unit from the shard, or produced now (calls cached) and appended."""
        if unit in self.done:
            return self.done[unit]
        # each unit meters its own calls: units run in parallel threads
        team = dataclasses.replace(self.team, caller=Caller(self.team.caller.backend, self.seed))
        started = time.perf_counter()
        try:
            sample = produce(team)
        except PromptTooLong as exc:
            sample = {"id": unit, "stage": "error", "round": 0, "agent": agent.language, "language": agent.language,
                      "error": "prompt_too_long", "verdict_message": str(exc)}
        sample["tokens"] = team.caller.meter.tokens
        sample["new_tokens"] = team.caller.meter.new_tokens
        sample["seconds"] = round(time.perf_counter() - started, 2)
        with self.write_lock:
            self.writer.write(sample)
            self.done[unit] = sample
        return sample
