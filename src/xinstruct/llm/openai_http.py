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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from xinstruct.core.errors import BackendError


class _Retryable(Exception):
    """A transport failure worth another attempt (connect error, timeout, 5xx, 429, bad JSON)."""


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


def body_start(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
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
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def get(self, path: str) -> dict[str, Any]:
        """One GET with retries, from synchronous code."""
        return self._run_sync(lambda client: self._request(client, "GET", path, None))

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return httpx.AsyncClient(headers=self.headers, timeout=httpx.Timeout(self.timeout), limits=limits)

    async def _request(
        self, client: httpx.AsyncClient, method: str, path: str, payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        """One call with retries; raises BackendError naming URL, status and body after the last one."""
        url = self.base_url + path
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + random.random()))
            try:
                return await self._attempt(client, method, url, payload)
            except _Retryable as exc:
                problem = str(exc)
        raise BackendError(f"{method} {url} failed after {self.retries + 1} attempts: {problem}")

    async def _attempt(
        self, client: httpx.AsyncClient, method: str, url: str, payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout):
                resp = await client.request(method, url, json=payload)
        except TimeoutError as exc:
            raise _Retryable(f"no response within {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(f"status {resp.status_code}, body: {body_start(resp.text)!r}")
        if resp.status_code >= 400:
            raise BackendError(f"{method} {url}: status {resp.status_code}, body: {body_start(resp.text)!r}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise _Retryable(f"status {resp.status_code}, malformed JSON: {body_start(resp.text)!r}") from exc
        if not isinstance(data, dict):
            raise _Retryable(f"status {resp.status_code}, JSON is not an object: {body_start(resp.text)!r}")
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
