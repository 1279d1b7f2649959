"""Backend for any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, TGI, Ollama).

Requests go out over httpx on an asyncio loop in a background thread, at most ``concurrency``
in flight, and the synchronous iterator yields each result as soon as it finishes, so the
cache stores finished calls even when a later request fails for good.

Two APIs:

- ``completions`` renders the model's own chat template locally (from the GGUF metadata or the
  Hugging Face directory) and posts the text to ``/v1/completions``. This is the portable way to
  prefill a reply prefix, and it needs the local model (``--model``) beside the server.
- ``chat`` posts messages to ``/v1/chat/completions``. A reply prefix is sent as a trailing
  assistant message with vLLM's ``continue_final_message: true, add_generation_prompt: false``;
  only servers that support those extras (vLLM, SGLang) continue the prefix, others start a new
  reply after it.

``auto`` picks ``completions`` when a local model with a chat template is known, else ``chat``.
Each of ``n`` completions is its own request with seed ``derive_seed(seed, i)``: servers differ
in ``n`` support and in how they seed it, and one request per seed is reproducible everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import random
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from xinstruct.core.errors import BackendError, ModelError
from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import (
    MISSING_LOGPROB,
    Completion,
    GenerateRequest,
    GenerateResult,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)
from xinstruct.llm.template import ChatTemplate
from xinstruct.models.registry import ModelRef

if TYPE_CHECKING:
    from xinstruct.llm.factory import BackendConfig

TOP_LOGPROBS = 20
"""Candidates per position asked for when scoring (vLLM's default ``max_logprobs`` is 20)."""


class _Retryable(Exception):
    """A transport failure worth another attempt (connect error, timeout, 5xx, 429, bad JSON)."""


@dataclass
class _Job:
    """One HTTP request: completion ``slot`` of request ``index``."""

    index: int
    slot: int
    path: str
    payload: dict[str, Any]


def _normalise_base_url(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both mean the ``/v1`` API root."""
    url = url.rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def _body_start(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


class OpenAIBackend:
    kind = "openai"

    def __init__(
        self,
        cfg: BackendConfig,
        model: ModelRef | None = None,
        *,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if not cfg.base_url:
            raise BackendError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        self.base_url = _normalise_base_url(cfg.base_url)
        self.model = model
        self.concurrency = max(1, cfg.concurrency)
        self.timeout = cfg.timeout
        self.retries = max(0, cfg.retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self.template = self._local_template(model) if model is not None else None
        if cfg.api == "completions" and self.template is None:
            raise BackendError(
                "--api completions renders the chat template locally: name the served model's GGUF file "
                "or Hugging Face directory with --model (or use --api chat)"
            )
        self.api = cfg.api if cfg.api != "auto" else ("completions" if self.template is not None else "chat")
        self._served_model = cfg.served_model

    @staticmethod
    def _local_template(model: ModelRef) -> ChatTemplate | None:
        try:
            if model.format == "gguf":
                return ChatTemplate.from_gguf(model.path)
            return ChatTemplate.from_hf_dir(model.path)
        except ModelError:
            return None

    # -- identity -------------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"backend": self.kind, "api": self.api}
        if self.model is not None:
            ident["model_sha256"] = self.model.sha256
        else:
            ident["served_model"] = self.served_model()
        if self.api == "completions" and self.template is not None:
            ident["template_sha256"] = self.template.sha256
        return ident

    def served_model(self) -> str:
        """The model name requests carry: ``--served-model`` or the first entry of ``/v1/models``."""
        if self._served_model is None:
            data = self._run_sync(lambda client: self._request(client, "GET", "/models", None))
            try:
                self._served_model = str(data["data"][0]["id"])
            except (KeyError, IndexError, TypeError) as exc:
                raise BackendError(
                    f"{self.base_url}/models: no model listed ({_body_start(json.dumps(data))}); pass --served-model"
                ) from exc
        return self._served_model

    # -- transport ------------------------------------------------------------------------------

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
            raise _Retryable(f"status {resp.status_code}, body: {_body_start(resp.text)!r}")
        if resp.status_code >= 400:
            raise BackendError(f"{method} {url}: status {resp.status_code}, body: {_body_start(resp.text)!r}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise _Retryable(f"status {resp.status_code}, malformed JSON: {_body_start(resp.text)!r}") from exc
        if not isinstance(data, dict):
            raise _Retryable(f"status {resp.status_code}, JSON is not an object: {_body_start(resp.text)!r}")
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

    def _stream(self, jobs: list[_Job]) -> Iterator[tuple[_Job, dict[str, Any]]]:
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

    # -- payloads -------------------------------------------------------------------------------

    def _prompt_fields(self, messages: Sequence[dict[str, str]], prefix: str) -> tuple[str, dict[str, Any]]:
        if not messages:  # raw completion: the prefix is the whole prompt, whatever --api says
            return "/completions", {"prompt": prefix}
        if self.api == "completions":
            assert self.template is not None
            return "/completions", {"prompt": self.template.render(messages, prefix)}
        msgs = [dict(m) for m in messages]
        fields: dict[str, Any] = {"messages": msgs}
        if prefix:
            msgs.append({"role": "assistant", "content": prefix})
            fields["continue_final_message"] = True
            fields["add_generation_prompt"] = False
        return "/chat/completions", fields

    def _generate_payload(self, request: GenerateRequest, slot: int) -> tuple[str, dict[str, Any]]:
        p = request.params
        path, fields = self._prompt_fields(request.messages, request.prefix)
        payload: dict[str, Any] = {
            "model": self.served_model(),
            **fields,
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            # 0 disables top-k (llama.cpp, recent vLLM and SGLang); llama.cpp's defaults (top_k 40,
            # min_p 0.05) would otherwise sample differently from every other server.
            "top_k": 0,
            "min_p": 0.0,
            "repeat_penalty": p.repetition_penalty,  # llama.cpp, Ollama
            "repetition_penalty": p.repetition_penalty,  # vLLM, SGLang, TGI
            "stream": False,
        }
        if p.stop:
            payload["stop"] = list(p.stop)
        if p.seed is not None:
            payload["seed"] = derive_seed(p.seed, slot)
        if p.logprobs or p.top_logprobs:  # chat: llama-cpp-python returns token logprobs only with top_logprobs
            k = max(p.top_logprobs, 1)
            payload.update({"logprobs": True, "top_logprobs": k} if self.api == "chat" else {"logprobs": k})
        return path, payload

    def _score_payload(self, request: ScoreRequest) -> tuple[str, dict[str, Any]]:
        path, fields = self._prompt_fields(request.messages, request.prefix)
        payload: dict[str, Any] = {
            "model": self.served_model(),
            **fields,
            "max_tokens": 1,
            "temperature": 0.0,
            "stream": False,
        }
        if self.api == "chat":
            payload.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        else:
            payload["logprobs"] = TOP_LOGPROBS
        return path, payload

    # -- parsing --------------------------------------------------------------------------------

    def _choice(self, job: _Job, data: dict[str, Any]) -> dict[str, Any]:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"POST {self.base_url}{job.path}: response without choices: {_body_start(json.dumps(data))!r}") from exc
        if not isinstance(choice, dict):
            raise BackendError(f"POST {self.base_url}{job.path}: malformed choice: {_body_start(json.dumps(data))!r}")
        return choice

    def _token_logprobs(self, choice: dict[str, Any]) -> list[float]:
        lp = choice.get("logprobs") or {}
        if self.api == "chat":
            return [float(t["logprob"]) for t in lp.get("content") or [] if t.get("logprob") is not None]
        return [float(x) for x in lp.get("token_logprobs") or [] if x is not None]

    def _positions(self, choice: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
        """Per generated token: its text and the server's top candidates ``{token: logprob}``."""
        lp = choice.get("logprobs") or {}
        if self.api == "chat":
            raw = [(e.get("token", ""), [(t["token"], t["logprob"]) for t in e.get("top_logprobs") or []])
                   for e in lp.get("content") or []]
        else:
            raw = [(token, list((tops or {}).items()))
                   for token, tops in zip(lp.get("tokens") or [], lp.get("top_logprobs") or [], strict=False)]
        out = []
        for token, pairs in raw:
            top: dict[str, float] = {}
            for alt, value in pairs:
                if value is not None:
                    top[alt] = max(float(value), top.get(alt, MISSING_LOGPROB))
            out.append((token, top))
        return out

    def _completion(self, job: _Job, data: dict[str, Any], p: SamplingParams) -> tuple[Completion, int]:
        want_logprob = p.logprobs
        choice = self._choice(job, data)
        if self.api == "chat":
            text = (choice.get("message") or {}).get("content") or ""
        else:
            text = choice.get("text") or ""
        usage = data.get("usage") or {}
        token_lps = self._token_logprobs(choice) if want_logprob else []
        tokens = usage.get("completion_tokens")
        tokens = int(tokens) if tokens is not None else len(token_lps)
        logprob = sum(token_lps) if want_logprob and token_lps else None
        completion = Completion(text=text, finish_reason=choice.get("finish_reason") or "stop", tokens=tokens, logprob=logprob)
        if p.top_logprobs:
            positions = self._positions(choice)
            completion.pieces = [token for token, _ in positions]
            completion.top_logprobs = [top for _, top in positions]
        return completion, int(usage.get("prompt_tokens") or 0)

    def _first_top(self, job: _Job, data: dict[str, Any]) -> dict[str, float]:
        """The first generated position's top candidates as ``{token string: logprob}``."""
        positions = self._positions(self._choice(job, data))
        top = positions[0][1] if positions else {}
        if not top:
            raise BackendError(
                f"POST {self.base_url}{job.path}: the server returned no top logprobs "
                f"(does it support {'top_logprobs' if self.api == 'chat' else 'logprobs'}?): "
                f"{_body_start(json.dumps(data))!r}"
            )
        return top

    # -- protocol -------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        jobs = []
        for index, request in enumerate(requests):
            for slot in range(request.params.n):
                path, payload = self._generate_payload(request, slot)
                jobs.append(_Job(index, slot, path, payload))
        pending: dict[int, dict[int, Completion]] = {}
        prompt_tokens: dict[int, int] = {}
        for job, data in self._stream(jobs):
            request = requests[job.index]
            completion, n_prompt = self._completion(job, data, request.params)
            done = pending.setdefault(job.index, {})
            done[job.slot] = completion
            prompt_tokens[job.index] = max(prompt_tokens.get(job.index, 0), n_prompt)
            if len(done) == request.params.n:
                del pending[job.index]
                yield job.index, GenerateResult(
                    completions=[done[s] for s in range(request.params.n)], prompt_tokens=prompt_tokens.pop(job.index)
                )

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        """Top-20 logprobs of the first reply token, candidates matched to token strings exactly.

        A candidate outside the server's top 20 gets MISSING_LOGPROB. vLLM can also score given
        continuations directly with ``prompt_logprobs`` (echoing the candidate in the prompt),
        which avoids the top-k cut-off at the price of one request per candidate.
        """
        jobs = []
        for index, request in enumerate(requests):
            path, payload = self._score_payload(request)
            jobs.append(_Job(index, 0, path, payload))
        for job, data in self._stream(jobs):
            top = self._first_top(job, data)
            request = requests[job.index]
            scores = {c: top.get(c, MISSING_LOGPROB) for c in request.candidates}
            n_prompt = int((data.get("usage") or {}).get("prompt_tokens") or 0)
            yield job.index, ScoreResult(logprobs=scores, prompt_tokens=n_prompt)

    def close(self) -> None:
        """Nothing persistent to release: each call opens and closes its own client."""
