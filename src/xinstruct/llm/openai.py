"""Backend for any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, TGI, Ollama).

This module writes the request payloads and reads the replies; ``llm/openai_http.py`` moves them
(bounded concurrency, retries with backoff, results streamed as they finish).

Two APIs:

- ``completions`` renders the model's own chat template locally (from the GGUF metadata or the
  Hugging Face directory) and posts the text to ``/v1/completions``. This is the portable way to
  prefill a reply prefix, and it needs the local model files beside the server.
- ``chat`` posts messages to ``/v1/chat/completions``. A reply prefix is sent as a trailing
  assistant message with vLLM's ``continue_final_message: true, add_generation_prompt: false``;
  only servers that support those extras (vLLM, SGLang) continue the prefix, others start a new
  reply after it.

``auto`` picks ``completions`` when a local model with a chat template is known, else ``chat``.
Each of ``n`` completions is its own request with seed ``derive_seed(seed, i)``: servers differ
in ``n`` support and in how they seed it, and one request per seed is reproducible everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

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
from xinstruct.llm.openai_http import HttpCall, Transport, body_start
from xinstruct.llm.template import ChatTemplate
from xinstruct.models.registry import ModelRef

APIS = ("auto", "completions", "chat")

TOP_LOGPROBS = 20
"""Candidates per position asked for when scoring (vLLM's default ``max_logprobs`` is 20)."""


class OpenAIBackend:
    """A served model behind an OpenAI-compatible API, described by explicit arguments.

    ``model`` is the local copy of the served weights (optional): with it the chat template is
    rendered locally (``api="completions"``) and the weights' hash names the model.
    """

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: ModelRef | None = None,
        *,
        served_model: str | None = None,
        api: str = "auto",
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 300.0,
        retries: int = 4,
        retry_wait: float = 120.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if not base_url:
            raise BackendError("the openai backend needs the server's base URL (e.g. http://127.0.0.1:8000/v1)")
        if api not in APIS:
            raise BackendError(f"unknown API {api!r}; choose one of {', '.join(APIS)}")
        self.http = Transport(base_url, api_key=api_key, concurrency=concurrency, timeout=timeout, retries=retries,
                              retry_wait=retry_wait, backoff=backoff, max_backoff=max_backoff)
        self.base_url = self.http.base_url
        self.model = model
        self.template = self._local_template(model) if model is not None else None
        if api == "completions" and self.template is None:
            raise BackendError(
                "the completions API renders the chat template locally: it needs the served model's GGUF file "
                "or Hugging Face directory (or use the chat API)"
            )
        self.api = api if api != "auto" else ("completions" if self.template is not None else "chat")
        self._served_model = served_model

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

    def describe(self) -> dict[str, Any]:
        """The model for a run manifest: what the server serves, where, through which API, and the
        local weights when known (unlike :meth:`identity`, not a cache key: it may name the URL)."""
        ident: dict[str, Any] = {"backend": self.kind, "base_url": self.base_url, "api": self.api,
                                 "served_model": self.served_model()}
        if self.model is not None:
            ident.update(self.model.identity())
        return ident

    def served_model(self) -> str:
        """The model name requests carry: the one given, else the first entry of ``/v1/models``."""
        if self._served_model is None:
            data = self.http.get("/models")
            try:
                self._served_model = str(data["data"][0]["id"])
            except (KeyError, IndexError, TypeError) as exc:
                raise BackendError(
                    f"{self.base_url}/models: no model listed ({body_start(json.dumps(data))}); name the served model explicitly"
                ) from exc
        return self._served_model

    def retries_by_kind(self) -> dict[str, int]:
        return self.http.retries_by_kind()

    # -- payloads -------------------------------------------------------------------------------

    def _prompt_fields(self, messages: Sequence[dict[str, str]], prefix: str) -> tuple[str, dict[str, Any]]:
        if not messages:  # raw completion: the prefix is the whole prompt, whichever API is set
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

    def _choice(self, job: HttpCall, data: dict[str, Any]) -> dict[str, Any]:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"POST {self.base_url}{job.path}: response without choices: {body_start(json.dumps(data))!r}") from exc
        if not isinstance(choice, dict):
            raise BackendError(f"POST {self.base_url}{job.path}: malformed choice: {body_start(json.dumps(data))!r}")
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

    def _completion(self, job: HttpCall, data: dict[str, Any], p: SamplingParams) -> tuple[Completion, int]:
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

    def _first_top(self, job: HttpCall, data: dict[str, Any]) -> dict[str, float]:
        """The first generated position's top candidates as ``{token string: logprob}``."""
        positions = self._positions(self._choice(job, data))
        top = positions[0][1] if positions else {}
        if not top:
            raise BackendError(
                f"POST {self.base_url}{job.path}: the server returned no top logprobs "
                f"(does it support {'top_logprobs' if self.api == 'chat' else 'logprobs'}?): "
                f"{body_start(json.dumps(data))!r}"
            )
        return top

    # -- protocol -------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        jobs = []
        for index, request in enumerate(requests):
            for slot in range(request.params.n):
                path, payload = self._generate_payload(request, slot)
                jobs.append(HttpCall(index, slot, path, payload))
        pending: dict[int, dict[int, Completion]] = {}
        prompt_tokens: dict[int, int] = {}
        for job, data in self.http.stream(jobs):
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
            jobs.append(HttpCall(index, 0, path, payload))
        for job, data in self.http.stream(jobs):
            top = self._first_top(job, data)
            request = requests[job.index]
            scores = {c: top.get(c, MISSING_LOGPROB) for c in request.candidates}
            n_prompt = int((data.get("usage") or {}).get("prompt_tokens") or 0)
            yield job.index, ScoreResult(logprobs=scores, prompt_tokens=n_prompt)

    def close(self) -> None:
        """Nothing persistent to release: each call opens and closes its own client."""
