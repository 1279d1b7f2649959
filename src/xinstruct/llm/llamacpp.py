"""In-process llama.cpp backend (the embedded default).

Prompts are rendered with the model's own chat template so a reply prefix can be prefilled.
Generation decodes all samples of a batch together in slots of one KV cache (see
``llamacpp_batch``). Yes/No scoring evaluates the prompt once with logits at the last position
only: ``logits_all=True`` would compute vocabulary logits at every prompt position, which
measured 2.5x slower on a 727-token judge prompt. Both reuse the KV cells of a shared prompt
prefix, cut back to a multiple of ``PREFILL_CHUNK`` so a prompt is always split the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from xinstruct.core.errors import BackendError, ModelError
from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import (
    MISSING_LOGPROB,
    Completion,
    GenerateRequest,
    GenerateResult,
    Message,
    PromptTooLong,
    ScoreRequest,
    ScoreResult,
)
from xinstruct.llm.llamacpp_batch import PREFILL_CHUNK, DecodeJob, SlotDecoder, log_softmax, reusable_prefix
from xinstruct.llm.llamacpp_build import check_build
from xinstruct.llm.template import ChatTemplate
from xinstruct.models.registry import ModelRef


class LlamaCppBackend:
    kind = "llamacpp"

    def __init__(
        self,
        model: ModelRef,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        parallel: int = 4,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError(
                "the llamacpp backend needs llama-cpp-python: pip install 'xinstruct[llamacpp]'"
            ) from exc
        if model.format != "gguf":
            raise BackendError(
                f"{model.path}: the llamacpp backend needs a GGUF file; use the transformers backend"
            )
        check_build(model.path)
        self.model = model
        started = time.perf_counter()
        try:
            self.llm = Llama(
                model_path=str(model.path),
                n_ctx=n_ctx,
                n_threads=n_threads or os.cpu_count() or 1,
                n_batch=PREFILL_CHUNK,  # with the reuse cut below, a prompt is always split the same way
                logits_all=False,
                verbose=False,
            )
        except ValueError as exc:  # llama.cpp's only word for a truncated or corrupt file
            raise ModelError(
                f"{model.path}: llama.cpp cannot load this GGUF file (truncated or corrupt?); download it again, "
                "or for a registered model run 'xinstruct models pull'"
            ) from exc
        self.load_seconds = time.perf_counter() - started
        source = self.llm.metadata.get("tokenizer.chat_template")
        # a base model has no chat template: it can still serve raw completions (messages=())
        self.template = ChatTemplate(source=source) if source else None
        self.n_ctx = n_ctx
        if parallel < 1:
            raise BackendError(f"parallel must be >= 1, got {parallel}")
        self.decoder = SlotDecoder(
            self.llm._model.model,
            n_slots=parallel,
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count() or 1,
        )
        self._closed = False
        self.scored_prompt_tokens = 0
        """Prompt tokens of every Yes/No scoring call, and of those the ones evaluated (not reused)."""
        self.evaluated_prompt_tokens = 0

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.kind,
            "model_sha256": self.model.sha256,
            "template_sha256": self.template.sha256 if self.template else None,
        }

    def _render(self, messages: Sequence[Message], prefix: str) -> str:
        if not messages:
            return prefix
        if self.template is None:
            raise BackendError(
                f"{self.model.path}: GGUF has no chat template, so it can only continue raw text "
                "(e.g. eval's base prompt style); name an instruct model for chat prompts"
            )
        return self.template.render(messages, prefix)

    def _tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _check_length(self, n_prompt: int, max_tokens: int) -> None:
        if n_prompt + max_tokens > self.n_ctx:
            raise PromptTooLong(
                f"prompt of {n_prompt} tokens + {max_tokens} reply tokens exceeds n_ctx={self.n_ctx}"
            )

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        """Decode every sample of every request together; yield each request when its samples are done."""
        self._check_open()
        jobs: list[DecodeJob] = []
        prompt_tokens: list[int] = []
        for index, request in enumerate(requests):
            p = request.params
            tokens = self._tokens(self._render(request.messages, request.prefix))
            self._check_length(len(tokens), p.max_tokens)
            prompt_tokens.append(len(tokens))
            for i in range(p.n):
                jobs.append(
                    DecodeJob(
                        key=(index, i),
                        prompt=tokens,
                        max_tokens=p.max_tokens,
                        temperature=p.temperature,
                        top_p=p.top_p,
                        repetition_penalty=p.repetition_penalty,
                        stop=tuple(p.stop),
                        seed=derive_seed(p.seed, i) if p.seed is not None else None,
                        logprobs=p.logprobs,
                        top_logprobs=p.top_logprobs,
                    )
                )
        pending: dict[int, list[Completion | None]] = {i: [None] * r.params.n for i, r in enumerate(requests)}
        for done in self.decoder.run(jobs):
            index, i = done.key
            pending[index][i] = Completion(
                text=done.text, finish_reason=done.finish_reason, tokens=done.tokens, logprob=done.logprob,
                pieces=done.pieces, top_logprobs=done.top_logprobs,
            )
            if all(c is not None for c in pending[index]):
                completions = [c for c in pending.pop(index) if c is not None]
                yield index, GenerateResult(completions=completions, prompt_tokens=prompt_tokens[index])

    def _eval_reusing_prefix(self, tokens: list[int]) -> int:
        """Evaluate ``tokens``, reusing the KV cache for the prefix already evaluated; returns reused count."""
        llm = self.llm
        common = reusable_prefix(llm.input_ids[: llm.n_tokens], tokens)
        if common > 0 and llm._ctx.kv_cache_seq_rm(-1, common, -1):
            llm.n_tokens = common
        else:
            llm.reset()
            common = 0
        llm.eval(tokens[common:])
        return common

    def _last_logits(self) -> np.ndarray:
        n_vocab = self.llm.n_vocab()
        ptr = self.llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        self._check_open()
        for index, request in enumerate(requests):
            prompt = self._render(request.messages, request.prefix)
            tokens = self._tokens(prompt)
            self._check_length(len(tokens), 1)
            reused = self._eval_reusing_prefix(tokens)
            self.scored_prompt_tokens += len(tokens)
            self.evaluated_prompt_tokens += len(tokens) - reused
            logprobs = log_softmax(self._last_logits())
            scores = {}
            for cand in request.candidates:
                # only a candidate that is exactly one token can be "the first reply token";
                # a multi-token candidate's first piece (e.g. "Y") would count unrelated words.
                ids = self.llm.tokenize(cand.encode("utf-8"), add_bos=False, special=False)
                scores[cand] = float(logprobs[ids[0]]) if len(ids) == 1 else MISSING_LOGPROB
            yield index, ScoreResult(logprobs=scores, prompt_tokens=len(tokens))

    def retries_by_kind(self) -> dict[str, int]:
        return {}  # in-process: no transport to retry

    def close(self) -> None:
        """Free the model; later calls raise instead of crashing in native code."""
        if not self._closed:
            self._closed = True
            self.decoder.close()
            self.llm.close()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("this llama.cpp backend was closed")
