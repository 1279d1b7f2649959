"""Retrying HTTP for the OpenAI-compatible backend: bounded concurrency, backoff, streaming results.

Requests go out over httpx on an asyncio loop in a background thread, at most ``concurrency``
in flight, and the synchronous iterator yields each result as soon as it finishes, so the
cache stores finished calls even when a later request fails for good. What the requests say is
``llm/openai.py``'s business; this module only moves JSON and decides what is worth a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from xinstruct.core.errors import BackendError

FAULT_KINDS = ("connect", "disconnect", "timeout", "truncated", "5xx", "429", "bad-json")
"""What a retried request ran into: no connection; the server closed it before answering; no
answer in time; the body cut off mid-way; a server error; rate limited; a body that is no JSON
object. A run's summary counts retries by these kinds."""


class _Retryable(Exception):
    """A transport failure worth another attempt, of one of :data:`FAULT_KINDS`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass
class HttpCall:
    """One HTTP request: completion ``slot`` of request ``index``."""

    index: int
    slot: int
    path: str
    payload: dict[str, Any]


def normalise_base_url(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both mean the ``/v1`` API root."""
    url = url.rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def one_line(text: str) -> str:
    return " ".join(text.split())


def body_start(text: str, limit: int = 300) -> str:
    text = one_line(text)
    return text[:limit] + ("..." if len(text) > limit else "")


class Transport:
    """POSTs and GETs JSON against one API root with retries; runs batches of jobs concurrently."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 300.0,
        retries: int = 4,
        retry_wait: float = 120.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.retry_wait = max(0.0, retry_wait)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._faults: Counter[str] = Counter()
        self._faults_lock = threading.Lock()

    def retries_by_kind(self) -> dict[str, int]:
        """Retries so far (this process), by :data:`FAULT_KINDS`; absent kinds are omitted."""
        with self._faults_lock:
            return {kind: self._faults[kind] for kind in FAULT_KINDS if self._faults[kind]}

    def get(self, path: str) -> dict[str, Any]:
        """One GET with retries, from synchronous code."""
        return self._run_sync(lambda client: self._request(client, "GET", path, None))

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return httpx.AsyncClient(headers=self.headers, timeout=httpx.Timeout(self.timeout), limits=limits)

    async def _request(
        self, client: httpx.AsyncClient, method: str, path: str, payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        """One call with retries; after the last one raises one line naming the server and what to do.

        A request is retried (backoff doubling from ``backoff`` up to ``max_backoff`` seconds) until
        it has had ``retries`` retries *and* ``retry_wait`` seconds have passed since its first
        failure, so a server that restarts within ``retry_wait`` costs the run nothing.
        """
        url = self.base_url + path
        problem = ""
        first_failure = 0.0
        attempt = 0
        while True:
            try:
                return await self._attempt(client, method, url, payload)
            except _Retryable as exc:
                problem = str(exc)
                now = time.monotonic()
                first_failure = first_failure or now
                if attempt >= self.retries and now - first_failure >= self.retry_wait:
                    break
                with self._faults_lock:
                    self._faults[exc.kind] += 1
            attempt += 1
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.5 + random.random()))
        waited = time.monotonic() - first_failure
        raise BackendError(
            f"the server at {self.base_url} gave no usable answer to {method} {path} in {attempt + 1} attempts "
            f"over {waited:.0f} s (last: {one_line(problem)}); start or fix the server (or --base-url) and run "
            "the same command again: finished work is kept and the run resumes"
        )

    async def _attempt(
        self, client: httpx.AsyncClient, method: str, url: str, payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        """One try. The headers and the body are read apart so a body cut off mid-way is told from a
        connection closed before any answer."""
        request = client.build_request(method, url, json=payload)
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    resp = await client.send(request, stream=True)
                except httpx.ConnectError as exc:
                    raise _Retryable("connect", f"{type(exc).__name__}: {exc}") from exc
                except httpx.TimeoutException as exc:
                    raise _Retryable("timeout", f"no response within {self.timeout:g} s") from exc
                except httpx.TransportError as exc:
                    raise _Retryable("disconnect", f"{type(exc).__name__}: {exc}") from exc
                try:
                    await resp.aread()
                except httpx.TimeoutException as exc:
                    raise _Retryable("timeout", f"body not finished within {self.timeout:g} s") from exc
                except httpx.TransportError as exc:
                    raise _Retryable("truncated", f"status {resp.status_code}, body cut off: {exc}") from exc
                finally:
                    await resp.aclose()
        except TimeoutError as exc:
            raise _Retryable("timeout", f"no response within {self.timeout:g} s") from exc
        if resp.status_code == 429:
            raise _Retryable("429", f"status 429, body: {body_start(resp.text)!r}")
        if resp.status_code >= 500:
            raise _Retryable("5xx", f"status {resp.status_code}, body: {body_start(resp.text)!r}")
        if resp.status_code >= 400:
            raise BackendError(f"{method} {url}: status {resp.status_code}, body: {body_start(resp.text)!r}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise _Retryable("bad-json", f"status {resp.status_code}, malformed JSON: {body_start(resp.text)!r}") from exc
        if not isinstance(data, dict):
            raise _Retryable("bad-json", f"status {resp.status_code}, JSON is not an object: {body_start(resp.text)!r}")
        return data

    def _run_sync(self, call: Callable[[httpx.AsyncClient], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        async def main() -> dict[str, Any]:
            async with self._client() as client:
                return await call(client)

        result: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                result.append(asyncio.run(main()))
            except BaseException as exc:
                errors.append(exc)

        # A thread of its own so this works even when the caller already runs an event loop.
        thread = threading.Thread(target=target, name="xinstruct-openai", daemon=True)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return result[0]

    def stream(self, jobs: list[HttpCall]) -> Iterator[tuple[HttpCall, dict[str, Any]]]:
        """Run ``jobs`` with bounded concurrency; yield each as it finishes, then raise the first failure.

        After a failure no new job starts, jobs already in flight finish and are yielded, so the
        caller keeps everything the server completed.
        """
        out: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        loop_ready = threading.Event()
        state: dict[str, Any] = {}

        async def main() -> None:
            state["loop"] = asyncio.get_running_loop()
            state["task"] = asyncio.current_task()
            loop_ready.set()
            failed = asyncio.Event()
            next_job = iter(jobs)
            async with self._client() as client:

                async def worker() -> None:
                    for job in next_job:  # shared iterator: each job is taken by exactly one worker
                        if failed.is_set():
                            return
                        try:
                            data = await self._request(client, "POST", job.path, job.payload)
                        except BackendError as exc:
                            failed.set()
                            out.put(("error", job, exc))
                            return
                        out.put(("ok", job, data))

                await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(jobs)))))

        def target() -> None:
            try:
                asyncio.run(main())
            except asyncio.CancelledError:
                pass
            except BaseException as exc:
                out.put(("error", None, exc))
            finally:
                loop_ready.set()
                out.put(("done", None, None))

        thread = threading.Thread(target=target, name="xinstruct-openai", daemon=True)
        thread.start()
        first_error: BaseException | None = None
        try:
            while True:
                kind, job, value = out.get()
                if kind == "done":
                    break
                if kind == "error":
                    first_error = first_error or value
                    continue
                yield job, value
        finally:
            if thread.is_alive():  # the consumer stopped early: cancel what is still running
                loop_ready.wait()
                loop, task = state.get("loop"), state.get("task")
                if loop is not None and task is not None:
                    with contextlib.suppress(RuntimeError):  # loop already closed
                        loop.call_soon_threadsafe(task.cancel)
                thread.join()
        if first_error is not None:
            raise first_error
