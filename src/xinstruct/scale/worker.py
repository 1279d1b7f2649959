"""The body of a model-stage actor: one backend, one cache segment, a batch of records at once.

Each record of a batch runs the stage's ordinary steps in its own thread; their calls meet in a
:class:`~xinstruct.llm.coalesce.CoalescingBackend`, so batch × N requests reach the engine together
while the steps stay the ones a local run uses. A failed engine (:class:`BackendError`) ends the
actor's process, so Ray replaces it and retries the batch (finished calls come from the cache);
any other failure of one record makes that record's result ``failed.<error type>``, counted like
every other drop, and the job goes on.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xinstruct.core.errors import BackendError
from xinstruct.core.records import Record
from xinstruct.core.runs import RunDir
from xinstruct.llm.base import PromptTooLong
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.coalesce import CoalescingBackend
from xinstruct.scale.blocks import write_block
from xinstruct.scale.segments import SegmentCache

ENGINE_DIED = 70
"""Exit status of an actor whose engine failed (EX_SOFTWARE): Ray restarts a crashed actor, not
one that exits on purpose through ``ray.actor.exit_actor``."""


@contextmanager
def engine_guard() -> Iterator[None]:
    """End the process when the engine fails, so Ray replaces the actor and retries its batch."""
    try:
        yield
    except PromptTooLong:
        raise
    except BackendError:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        os._exit(ENGINE_DIED)


class _BlockWriter:
    def __init__(self, run: RunDir, name: str) -> None:
        self.run, self.name, self.rows = run, name, []

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def close(self) -> None:
        if self.rows:
            write_block(self.run, self.name, self.rows)
            self.rows = []


class BlockRun(RunDir):
    """An actor's view of the run directory for code written against :class:`RunDir` (a stage's
    harness): what it writes to a shard becomes one result block per shard name at :meth:`close`,
    and it sees nothing finished (the driver sent only unfinished work)."""

    def __init__(self, path: str | Path, stage: str) -> None:
        super().__init__(path, stage)
        self._writers: dict[str, _BlockWriter] = {}

    def done_ids(self, name: str, rank: int = 0) -> set[str]:
        return set()

    def writer(self, name: str, rank: int = 0) -> _BlockWriter:  # type: ignore[override]
        return self._writers.setdefault(name, _BlockWriter(self, name))

    def close(self) -> None:
        for w in self._writers.values():
            w.close()


def retries_column(before: dict[str, int], after: dict[str, int], rows: int) -> list[str]:
    """A batch's transport retries by kind, as JSON on its first row (a column needs one type)."""
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    return [json.dumps(delta), *["{}"] * (rows - 1)]


def add_retries(total: dict[str, int], column: Any) -> None:
    """Sum a result batch's ``retries`` column into the driver's counts."""
    for text in column:
        for kind, n in json.loads(str(text)).items():
            total[kind] = total.get(kind, 0) + n


class BatchWorker:
    """Subclasses say how one record becomes its result row (:meth:`process`)."""

    stage = "stage"
    output = "results"

    def __init__(self, run_path: str, plan: Any, threads: int) -> None:
        self.run = RunDir(run_path, self.stage)
        self.inner = plan.build()
        self.cache = SegmentCache(run_path)
        self.llm = CachedBackend(CoalescingBackend(self.inner, gather_seconds=0.002), self.cache)
        self.threads = threads

    def process(self, record: Record, order: int) -> dict[str, Any]:
        raise NotImplementedError

    def _one(self, record: Record, order: int) -> dict[str, Any]:
        try:
            return self.process(record, order)
        except PromptTooLong as exc:  # a step that does not drop it itself (the local run would stop)
            return {"id": record.id, "order": order, "status": "prompt_too_long", "detail": str(exc)[:500], "new": True}
        except BackendError:
            # the engine is gone: no later record could succeed in this process
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            os._exit(ENGINE_DIED)
        except Exception as exc:  # one bad record is a counted result, never the end of the job
            return {"id": record.id, "order": order, "status": f"failed.{type(exc).__name__}",
                    "detail": str(exc)[:500], "new": True}

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        ids = [str(i) for i in batch["id"]]
        orders = [int(o) for o in batch["order"]]
        records = [Record.from_dict(json.loads(str(r))) for r in batch["record"]]
        stored, hits, retries = self.cache.stored, self.cache.hits, self.inner.retries_by_kind()
        with ThreadPoolExecutor(max(1, min(self.threads, len(records)))) as pool:
            rows = list(pool.map(self._one, records, orders))
        write_block(self.run, self.output, rows)
        zeros = [0] * (len(ids) - 1)
        return {
            "id": ids,
            "status": [r["status"] for r in rows],
            "new_calls": [self.cache.stored - stored, *zeros],
            "cached_calls": [self.cache.hits - hits, *zeros],
            "retries": retries_column(retries, self.inner.retries_by_kind(), len(ids)),
        }

    def __del__(self) -> None:
        cache = getattr(self, "cache", None)
        if cache is not None:
            cache.close()
