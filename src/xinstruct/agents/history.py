"""``RUN/memory_history.jsonl``: each agent's memory after every round, and what the round changed.

Only the final memory is in ``RUN/memory/``; this file keeps the way there, one row per language
per round (round 0 is the seed stage): the items (id, round, score total, best first), what
entered, what it evicted, and what was turned away as too similar or below the memory's floor.
Rows are appended as each round ends, one fsynced line each, like the event shard. A resumed run
replays the finished units, which rebuilds the same memories and journals, and appends only the
(language, round) rows the file does not hold yet, so it ends with the rows of an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from xinstruct.core.runs import ShardWriter, read_jsonl

if TYPE_CHECKING:  # the report reads FILE without importing the agents' machinery
    from xinstruct.agents.collaborate import Agent

FILE = "memory_history.jsonl"


class MemoryHistory:
    """Appends the rows of ended rounds to ``run_dir/memory_history.jsonl``, skipping those it holds."""

    def __init__(self, run_dir: Path) -> None:
        path = run_dir / FILE
        self.done = {(row.get("language"), row.get("round")) for row in read_jsonl(path)}
        self.writer = ShardWriter(path)

    def record(self, round_no: int, agents: Mapping[str, Agent]) -> None:
        """Drain each agent's memory journal into the round's row; write the rows not yet written."""
        for lang, agent in agents.items():
            row = agent.memory.history_row(round_no)
            if (lang, round_no) not in self.done:
                self.writer.write(row)
                self.done.add((lang, round_no))

    def close(self) -> None:
        self.writer.close()
