"""In-process vLLM engine for GPU actors (one engine per actor), written against vLLM's public
``LLM``/``SamplingParams`` API.

NOT EXERCISED: vLLM could not be installed where this was written (no GPU; its wheels pin a CUDA
torch of several GB). The tested way to use vLLM is one OpenAI-compatible ``vllm serve`` per node
with ``--backend openai`` (``docs/scale.md``). What this module relies on, from vLLM's documented
API: ``LLM(model=..., enable_prefix_caching=True)``, ``LLM.generate(prompts, sampling_params)``
with one ``SamplingParams`` per prompt (``n, temperature, top_p, max_tokens, stop,
repetition_penalty, seed, logprobs``), ``RequestOutput.prompt_token_ids`` and
``CompletionOutput.text / token_ids / finish_reason / cumulative_logprob / logprobs`` (per token a
dict token id -> ``Logprob(logprob, decoded_token)``).

Prompts are rendered with the model's own chat template plus the reply prefix, as the other
local backends do, so the cache keys (``identity``) stay comparable across backends of one model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from xinstruct.core.errors import BackendError
from xinstruct.llm.base import (
    MISSING_LOGPROB,
    Completion,
    GenerateRequest,
    GenerateResult,
    Message,
    ScoreRequest,
    ScoreResult,
)
from xinstruct.models.registry import ModelRef

SCORE_TOP = 20
"""Top log-probabilities asked for the judge's first token (vLLM returns at most this many)."""


class VLLMBackend:
    kind = "vllm"

    def __init__(self, model: ModelRef, *, gpu_memory_utilization: float = 0.9, max_model_len: int = 4096) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise BackendError("the vllm backend needs vLLM on a GPU node: pip install 'xinstruct[vllm]'") from exc
        self._params = SamplingParams
        self.model = model
        try:
            self.llm = LLM(model=str(model.path), enable_prefix_caching=True,
                           gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"{model.path}: vLLM could not load the model: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        template = getattr(self.tokenizer, "chat_template", None)
        self.template_sha256 = hashlib.sha256(str(template).encode()).hexdigest() if template else None

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model_sha256": self.model.sha256, "template_sha256": self.template_sha256}

    def render(self, messages: Sequence[Message], prefix: str = "") -> str:
        if not messages:
            return prefix
        text = self.tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True, tokenize=False)
        return str(text) + prefix

    def _run(self, prompts: list[str], params: list[Any]) -> list[Any]:
        try:
            return list(self.llm.generate(prompts, params, use_tqdm=False))
        except (RuntimeError, ValueError) as exc:  # CUDA errors and a dead engine surface as these
            raise BackendError(f"vLLM: {exc}") from exc

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        prompts = [self.render(r.messages, r.prefix) for r in requests]
        params = []
        for r in requests:
            p = r.params
            k = max(p.top_logprobs, 1 if p.logprobs else 0)
            params.append(self._params(
                n=p.n, temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens, stop=list(p.stop),
                repetition_penalty=p.repetition_penalty, seed=p.seed, logprobs=k or None,
            ))
        for i, out in enumerate(self._run(prompts, params)):
            p = requests[i].params
            completions = []
            for c in out.outputs:
                comp = Completion(text=c.text, finish_reason="stop" if c.finish_reason == "stop" else "length",
                                  tokens=len(c.token_ids), logprob=c.cumulative_logprob if p.logprobs else None)
                if p.top_logprobs and c.logprobs:
                    comp.pieces = [self.tokenizer.decode([t]) for t in c.token_ids]
                    comp.top_logprobs = [
                        {(lp.decoded_token or self.tokenizer.decode([tid])): float(lp.logprob) for tid, lp in step.items()}
                        for step in c.logprobs
                    ]
                completions.append(comp)
            yield i, GenerateResult(completions=completions, prompt_tokens=len(out.prompt_token_ids or ()))

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        prompts = [self.render(r.messages, r.prefix) for r in requests]
        params = [self._params(n=1, temperature=0.0, max_tokens=1, logprobs=SCORE_TOP) for _ in requests]
        for i, out in enumerate(self._run(prompts, params)):
            first = out.outputs[0].logprobs[0] if out.outputs and out.outputs[0].logprobs else {}
            scores = {}
            for cand in requests[i].candidates:
                ids = self.tokenizer.encode(cand, add_special_tokens=False)
                lp = first.get(ids[0]) if ids else None
                scores[cand] = float(lp.logprob) if lp is not None else MISSING_LOGPROB
            yield i, ScoreResult(logprobs=scores, prompt_tokens=len(out.prompt_token_ids or ()))

    def close(self) -> None:
        self.llm = None
