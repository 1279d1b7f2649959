"""In-process vLLM engine for GPU actors (one engine per actor), written against vLLM's public API.

What it uses: ``LLM(model, enable_prefix_caching=True, max_model_len, max_logprobs)``,
``LLM.get_tokenizer()``, ``LLM.generate([TokensPrompt], [SamplingParams])`` with one
``SamplingParams`` per prompt (``n, temperature, top_p, max_tokens, stop, repetition_penalty, seed,
logprobs``; the judge: ``max_tokens=1, logprobs=20, logprob_token_ids=<candidates' first tokens>``),
``RequestOutput.prompt_token_ids / outputs`` and ``CompletionOutput.text / token_ids /
finish_reason / cumulative_logprob / logprobs`` (per token a dict token id -> ``Logprob``).

Prompts are rendered here with the tokenizer's chat template plus the reply prefix and sent as
token ids (``LLM.chat`` cannot continue a prefilled reply, and a text prompt would get a second BOS),
so the cache keys (``identity``) stay comparable with the other local backends of one model.

Checked against vllm 0.34.0 on a machine without a GPU (``tests/llm/test_vllm_real.py``): the
parameter building, the output parsing on real vLLM output objects, the error mapping and the
engine's start-up failure; the engine itself (a real generation) needs a GPU and has not run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from xinstruct.core.errors import BackendError, ConfigError
from xinstruct.llm.base import (
    MISSING_LOGPROB,
    Completion,
    GenerateRequest,
    GenerateResult,
    Message,
    PromptTooLong,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)
from xinstruct.models.registry import ModelRef

MAX_LOGPROBS = 20
"""The engine's ``max_logprobs`` (vLLM's default): the most ``top_logprobs`` a request may ask."""

NO_PLATFORM = "use --backend openai against a vLLM server on a GPU node (docs/scale.md)"


def vllm_params(p: SamplingParams, cls: Any) -> Any:
    """vLLM ``SamplingParams`` for one request; greedy decoding asks for one sample (vLLM refuses
    ``n > 1`` at temperature 0), :func:`parse_output` copies it ``n`` times."""
    k = max(p.top_logprobs, 1 if p.logprobs else 0)
    if k > MAX_LOGPROBS:
        raise ConfigError(f"top_logprobs={p.top_logprobs}: the vllm backend returns at most {MAX_LOGPROBS}")
    greedy = p.temperature <= 0
    return cls(
        n=1 if greedy else p.n, temperature=max(p.temperature, 0.0), top_p=p.top_p, max_tokens=p.max_tokens,
        stop=list(p.stop), repetition_penalty=p.repetition_penalty, seed=p.seed, logprobs=k or None,
    )


def judge_params(candidate_ids: Sequence[int], cls: Any) -> Any:
    """One greedy token with the log-probabilities of exactly the candidates' first tokens
    (``logprob_token_ids``: scored wherever they rank, as the transformers backend scores them;
    vLLM refuses ``logprobs`` beside it unless equal to its length, so it is left unset)."""
    return cls(n=1, temperature=0.0, max_tokens=1, logprob_token_ids=sorted(set(candidate_ids)) or None)


def _finish(reason: str | None) -> str:
    if reason in ("abort", "error") or reason is None:
        raise BackendError(f"vLLM: request ended with finish_reason={reason!r}")
    return "length" if reason == "length" else "stop"  # stop string, EOS, stop token, repetition


def parse_output(out: Any, p: SamplingParams, decode: Callable[[list[int]], str]) -> GenerateResult:
    """Our result from a vLLM ``RequestOutput`` (``decode``: token ids -> text, for the pieces)."""
    completions = []
    for c in out.outputs:
        ids = list(c.token_ids)
        comp = Completion(text=c.text, finish_reason=_finish(c.finish_reason), tokens=len(ids),
                          logprob=c.cumulative_logprob if p.logprobs and ids else None)
        if p.top_logprobs and c.logprobs:
            comp.pieces = [decode([t]) for t in ids]
            comp.top_logprobs = [_top(step, p.top_logprobs, decode) for step in c.logprobs]
        completions.append(comp)
    if len(completions) == 1 and p.n > 1 and p.temperature <= 0:
        completions = [Completion(**vars(completions[0])) for _ in range(p.n)]
    return GenerateResult(completions=completions, prompt_tokens=len(out.prompt_token_ids or ()))


def _top(step: dict[int, Any], k: int, decode: Callable[[list[int]], str]) -> dict[str, float]:
    """The ``k`` likeliest tokens' text -> log-probability (vLLM adds the sampled token when it
    ranks below ``k``: dropped)."""
    ranked = sorted(step.items(), key=lambda kv: (kv[1].rank if kv[1].rank is not None else 0, -kv[1].logprob))
    top: dict[str, float] = {}
    for tid, lp in ranked:
        if lp.rank is not None and lp.rank > k:
            continue
        text = lp.decoded_token if lp.decoded_token is not None else decode([tid])
        top.setdefault(text, float(lp.logprob))
    return top


def parse_score(out: Any, candidate_ids: dict[str, int | None]) -> ScoreResult:
    """Candidates' first-token log-probabilities from a judge call's ``RequestOutput``."""
    outputs = out.outputs
    first = outputs[0].logprobs[0] if outputs and outputs[0].logprobs else {}
    scores = {}
    for cand, tid in candidate_ids.items():
        lp = first.get(tid) if tid is not None else None
        scores[cand] = float(lp.logprob) if lp is not None else MISSING_LOGPROB
    return ScoreResult(logprobs=scores, prompt_tokens=len(out.prompt_token_ids or ()))


def engine_error(exc: BaseException) -> BaseException:
    """Our error for what ``LLM.generate`` raised. A dead engine or another server-side failure is a
    :class:`BackendError` (a Ray actor exits and is replaced); a prompt over ``max_model_len`` is
    :class:`PromptTooLong` (that record is skipped); anything else is returned unchanged."""
    from vllm.exceptions import VLLMServerError, VLLMValidationError

    text = str(exc)
    if isinstance(exc, VLLMValidationError) and "maximum model length" in text:
        return PromptTooLong(f"vLLM: {text}")
    if isinstance(exc, VLLMServerError | RuntimeError):  # EngineDeadError, GenerationError, CUDA errors
        return BackendError(f"vLLM engine failed ({type(exc).__name__}): {text}")
    if isinstance(exc, VLLMValidationError):
        return BackendError(f"vLLM refused the request: {text}")
    return exc


def startup_error(model: ModelRef, exc: BaseException) -> BackendError:
    """One line for an engine that could not start; no GPU (vLLM's CUDA wheel on a CPU machine)
    says so and names the fallback."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    from vllm.platforms import current_platform

    if current_platform.is_unspecified():
        return BackendError(f"vLLM found no GPU/CPU platform ({type(exc).__name__}: {text}); {NO_PLATFORM}")
    hint = "; vLLM 0.34 reads Hugging Face model directories, not GGUF files" if model.format == "gguf" else ""
    return BackendError(f"{model.path}: vLLM could not start the engine ({type(exc).__name__}: {text}){hint}; {NO_PLATFORM}")


class VLLMBackend:
    kind = "vllm"

    def __init__(self, model: ModelRef, *, max_model_len: int = 4096, gpu_memory_utilization: float | None = None,
                 engine: Any = None) -> None:
        """``engine``: an ``LLM`` already built (one process sharing it); otherwise one is started."""
        try:
            from vllm import SamplingParams as VSamplingParams
            from vllm import TokensPrompt
        except ImportError as exc:
            raise BackendError("the vllm backend needs vLLM on a GPU node: pip install 'xinstruct[vllm]'") from exc
        self._params, self._prompt = VSamplingParams, TokensPrompt
        self.model = model
        self.max_model_len = max_model_len
        self.llm = engine if engine is not None else self._start(model, max_model_len, gpu_memory_utilization)
        self.tokenizer = self.llm.get_tokenizer()
        template = getattr(self.tokenizer, "chat_template", None)
        self.template_sha256 = hashlib.sha256(str(template).encode()).hexdigest() if template else None

    @staticmethod
    def _start(model: ModelRef, max_model_len: int, gpu_memory_utilization: float | None) -> Any:
        from vllm import LLM

        kwargs: dict[str, Any] = {"enable_prefix_caching": True, "max_model_len": max_model_len,
                                  "max_logprobs": MAX_LOGPROBS}
        if gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        if model.format == "gguf":  # the tokenizer comes from the GGUF file itself
            kwargs["tokenizer"] = str(model.path)
        try:
            return LLM(model=str(model.path), **kwargs)
        except Exception as exc:  # vLLM's start-up raises many types (platform, CUDA, config): one line each
            raise startup_error(model, exc) from exc

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model_sha256": self.model.sha256, "template_sha256": self.template_sha256}

    def render(self, messages: Sequence[Message], prefix: str = "") -> str:
        if not messages:
            return prefix
        if self.template_sha256 is None:
            raise BackendError(f"{self.model.path}: the tokenizer has no chat template; use raw prompts (e.g. eval's base prompt style)")
        text = self.tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True, tokenize=False)
        return str(text) + prefix

    def _tokens(self, messages: Sequence[Message], prefix: str, max_tokens: int) -> list[int]:
        # special tokens are already in the rendered text; vLLM's own tokenization would add a BOS
        ids = list(self.tokenizer.encode(self.render(messages, prefix), add_special_tokens=False))
        if len(ids) + max_tokens > self.max_model_len:
            raise PromptTooLong(f"prompt of {len(ids)} tokens + {max_tokens} reply tokens exceeds max_model_len={self.max_model_len}")
        return ids

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids))

    def _run(self, prompts: list[list[int]], params: list[Any]) -> list[Any]:
        if self.llm is None:
            raise BackendError("vLLM backend used after close()")
        try:
            return list(self.llm.generate([self._prompt(prompt_token_ids=t) for t in prompts], params, use_tqdm=False))
        except Exception as exc:  # mapped by type; what is not the engine's is re-raised as it was
            mapped = engine_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        prompts = [self._tokens(r.messages, r.prefix, r.params.max_tokens) for r in requests]
        params = [vllm_params(r.params, self._params) for r in requests]
        for i, out in enumerate(self._run(prompts, params)):
            yield i, parse_output(out, requests[i].params, self._decode)

    def candidate_ids(self, candidates: Sequence[str]) -> dict[str, int | None]:
        """Each candidate's first token id (``None`` for an empty candidate)."""
        ids = {c: self.tokenizer.encode(c, add_special_tokens=False) for c in candidates}
        return {c: (int(t[0]) if t else None) for c, t in ids.items()}

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        prompts = [self._tokens(r.messages, r.prefix, 1) for r in requests]
        cands = [self.candidate_ids(r.candidates) for r in requests]
        params = [judge_params([t for t in c.values() if t is not None], self._params) for c in cands]
        for i, out in enumerate(self._run(prompts, params)):
            yield i, parse_score(out, cands[i])

    def retries_by_kind(self) -> dict[str, int]:
        return {}  # in-process: no transport to retry

    def close(self) -> None:
        self.llm = None
