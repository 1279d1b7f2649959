"""Share one batch-capable backend between threads that each make one call at a time.

Pipelines whose units are sequential chains of calls (an agent writes a task, then a solution,
then tests) leave a batching backend decoding one sequence. Running the units in threads and
sending their calls through this wrapper lets concurrent calls decode together: whichever
thread finds the backend idle becomes the leader, waits a moment for other calls to arrive,
sends everything queued as one batch and hands each thread its result (group commit). Calls that
arrive while a batch runs go together in the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from xinstruct.llm.base import Backend, GenerateRequest, GenerateResult, ScoreRequest, ScoreResult


@dataclass
class _Entry:
    kind: str
    request: Any
    result: Any = None
    error: BaseException | None = None
    done: bool = False


class CoalescingBackend:
    """Same protocol as the wrapped backend; safe to call from many threads at once."""

    def __init__(self, inner: Backend, *, gather_seconds: float = 0.02, max_batch: int = 64) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.gather_seconds = gather_seconds
        self.max_batch = max_batch
        self.batch_sizes: list[int] = []
        """Requests per inner call, in order (for measuring how well calls coalesce)."""
        self._cv = threading.Condition()
        self._queue: list[_Entry] = []
        self._busy = False

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def __getattr__(self, name: str) -> Any:
        # counters of a wrapped cache (new_calls, cached_calls) read through
        return getattr(self.inner, name)

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        yield from enumerate(self._call("generate", requests))

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        yield from enumerate(self._call("first_token_logprobs", requests))

    def close(self) -> None:
        self.inner.close()

    # ------------------------------------------------------------------------------------------
    def _call(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        mine = [_Entry(kind, r) for r in requests]
        with self._cv:
            self._queue.extend(mine)
            self._cv.notify_all()
            while not all(e.done for e in mine):
                if self._busy:
                    self._cv.wait()
                    continue
                self._busy = True
                try:
                    # let the other threads' calls that are about to arrive join this batch
                    self._cv.wait(timeout=self.gather_seconds)
                    first = next((e for e in self._queue if not e.done), None)
                    if first is None:
                        continue
                    batch = [e for e in self._queue if e.kind == first.kind][: self.max_batch]
                    taken = set(map(id, batch))
                    self._queue = [e for e in self._queue if id(e) not in taken]
                    self._cv.release()
                    try:
                        self._run(batch)
                    finally:
                        self._cv.acquire()
                        for e in batch:  # the leader was interrupted: never leave a caller waiting
                            if not e.done:
                                e.error, e.done = RuntimeError("the batch this call was in was interrupted"), True
                finally:
                    self._busy = False
                    self._cv.notify_all()
        for e in mine:
            if e.error is not None:
                raise e.error
        return [e.result for e in mine]

    def _run(self, batch: list[_Entry]) -> None:
        """One inner call for the batch; if it fails, each unfinished request alone, so one bad
        request (a prompt too long for the context) fails only its own caller."""
        call: Callable[[Sequence[Any]], Iterator[tuple[int, Any]]] = getattr(self.inner, batch[0].kind)
        self.batch_sizes.append(len(batch))
        try:
            for i, result in call([e.request for e in batch]):
                batch[i].result, batch[i].done = result, True
            return
        except Exception as exc:  # handed to the callers, alone or after a retry
            if len(batch) == 1:
                batch[0].error, batch[0].done = exc, True
                return
        for e in batch:
            if e.done:
                continue
            try:
                ((_, e.result),) = list(call([e.request]))
            except Exception as exc:  # re-raised in the caller's thread
                e.error = exc
            e.done = True
