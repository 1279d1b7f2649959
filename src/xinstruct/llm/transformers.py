"""Hugging Face transformers backend: a model directory, or a GGUF file dequantized by transformers.

Prompts are batched with left padding, so the last column is every row's last prompt token: one
forward pass scores a whole batch of judge prompts (logits at the last position only), and
``generate`` appends reply tokens in place. Position ids are derived from the attention mask, so
a padded row scores exactly as it would alone.

Reproducibility: greedy decoding is deterministic. Sampling seeds one torch generator per batch
from the seeds of the requests in it, so a sampled completion is reproducible for the same batch
composition (same requests, same ``batch_size``), not across different batchings.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from xinstruct.core.errors import BackendError
from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import (
    MISSING_LOGPROB,
    Completion,
    GenerateRequest,
    GenerateResult,
    Message,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)
from xinstruct.models.registry import ModelRef


def _batch_key(p: SamplingParams) -> tuple[Any, ...]:
    """Requests batch together when everything but the seed matches (one generate call per batch)."""
    return (p.n, p.temperature, p.top_p, p.max_tokens, p.stop, p.repetition_penalty, p.logprobs)


class TransformersBackend:
    kind = "transformers"

    def __init__(self, model: ModelRef, *, batch_size: int = 8, threads: int | None = None) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendError("the transformers backend needs torch and transformers: pip install 'xinstruct[hf]'") from exc
        self.torch = torch
        torch.set_num_threads(threads or os.cpu_count() or 1)
        self.model = model
        self.batch_size = max(1, batch_size)
        started = time.perf_counter()
        if model.format == "gguf":  # transformers dequantizes the GGUF weights to float32
            where, extra = str(model.path.parent), {"gguf_file": model.path.name}
        else:
            where, extra = str(model.path), {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(where, **extra)
            self.lm = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **extra)
        except (OSError, ValueError) as exc:
            raise BackendError(f"{model.path}: transformers could not load the model: {exc}") from exc
        self.lm.eval()
        self.load_seconds = time.perf_counter() - started
        tok = self.tokenizer
        # without a chat template (a base model) only raw completions (messages=()) can be served
        self.template_sha256 = hashlib.sha256(str(tok.chat_template).encode()).hexdigest() if tok.chat_template else None
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        eos = self.lm.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tok.eos_token_id is not None:
            eos_ids.add(tok.eos_token_id)
        self.eos_ids = sorted(eos_ids)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model_sha256": self.model.sha256, "template_sha256": self.template_sha256}

    def render(self, messages: Sequence[Message], prefix: str = "") -> str:
        if not messages:
            return prefix
        if not self.tokenizer.chat_template:
            raise BackendError(f"{self.model.path}: the tokenizer has no chat template; use raw prompts (e.g. eval's base prompt style)")
        text = self.tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True, tokenize=False)
        return str(text) + prefix

    def _encode(self, prompts: list[str]) -> Any:
        # special tokens are already in the rendered text; adding a BOS again would shift the prompt
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)

    def _forward_last(self, enc: Any) -> Any:
        """Log-softmax of the logits at the last position of every (left-padded) row."""
        torch = self.torch
        mask = enc["attention_mask"]
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.lm(input_ids=enc["input_ids"], attention_mask=mask, position_ids=position_ids, logits_to_keep=1)
        return torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            enc = self._encode([self.render(r.messages, r.prefix) for r in chunk])
            logprobs = self._forward_last(enc)
            lengths = enc["attention_mask"].sum(-1).tolist()
            for j, request in enumerate(chunk):
                scores = {}
                for cand in request.candidates:
                    ids = self.tokenizer(cand, add_special_tokens=False)["input_ids"]
                    scores[cand] = float(logprobs[j, ids[0]]) if ids else MISSING_LOGPROB
                yield start + j, ScoreResult(logprobs=scores, prompt_tokens=int(lengths[j]))

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        batch: list[int] = []
        for index, request in enumerate(requests):
            if batch and (len(batch) == self.batch_size or _batch_key(requests[batch[0]].params) != _batch_key(request.params)):
                yield from self._generate_batch(requests, batch)
                batch = []
            batch.append(index)
        if batch:
            yield from self._generate_batch(requests, batch)

    def _generate_batch(self, requests: Sequence[GenerateRequest], indices: list[int]) -> Iterator[tuple[int, GenerateResult]]:
        torch = self.torch
        p = requests[indices[0]].params
        enc = self._encode([self.render(requests[i].messages, requests[i].prefix) for i in indices])
        sampling = p.temperature > 0
        n_sequences = p.n if sampling else 1  # greedy copies are identical: decode once
        kwargs: dict[str, Any] = {
            "max_new_tokens": p.max_tokens,
            "do_sample": sampling,
            "num_return_sequences": n_sequences,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.eos_ids,
            "repetition_penalty": p.repetition_penalty,
            "return_dict_in_generate": True,
            "output_logits": p.logprobs or p.top_logprobs > 0,
        }
        if sampling:  # top_k 0 and min_p unset: plain temperature/top-p, as the other backends sample
            kwargs.update(temperature=p.temperature, top_p=p.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if p.stop:
            kwargs.update(stop_strings=list(p.stop), tokenizer=self.tokenizer)
        seeds = [requests[i].params.seed for i in indices]
        seed = derive_seed(0, *seeds) if any(s is not None for s in seeds) else None
        if sampling and seed is not None:
            torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.lm.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        generated = out.sequences[:, prompt_len:]
        step_logprobs = all_logprobs = None
        if p.logprobs or p.top_logprobs:  # raw (T=1) log-softmax, whatever the sampling warpers did
            all_logprobs = torch.log_softmax(torch.stack(out.logits, dim=1).float(), dim=-1)
            step_logprobs = all_logprobs.gather(-1, generated.unsqueeze(-1)).squeeze(-1)
        lengths = enc["attention_mask"].sum(-1).tolist()
        for j, index in enumerate(indices):
            completions = []
            for k in range(n_sequences):
                row = j * n_sequences + k
                ids = generated[row].tolist()
                lp_row = step_logprobs[row].tolist() if step_logprobs is not None else None
                completion = self._completion(ids, lp_row if p.logprobs else None, p)
                if p.top_logprobs and all_logprobs is not None:
                    self._add_tops(completion, ids, all_logprobs[row], p.top_logprobs)
                completions.append(completion)
            if n_sequences < p.n:
                completions = [Completion(**vars(completions[0])) for _ in range(p.n)]
            yield index, GenerateResult(completions=completions, prompt_tokens=int(lengths[j]))

    def _completion(self, ids: list[int], token_logprobs: list[float] | None, p: SamplingParams) -> Completion:
        """Cut the generated ids at EOS or the first stop string; count and score only what is kept."""
        n = len(ids)
        finish = "length"
        for t, token in enumerate(ids):
            if token in self.eos_ids:
                n, finish = t, "stop"  # the EOS token itself is neither text nor counted
                break
        text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        cut = min((pos for pos in (text.find(s) for s in p.stop) if pos >= 0), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
            n = self._tokens_until_stop(ids[:n], p.stop)
        logprob = None
        if token_logprobs is not None and n > 0:
            total = sum(token_logprobs[:n])
            logprob = total if math.isfinite(total) else None
        return Completion(text=text, finish_reason=finish, tokens=n, logprob=logprob)

    def _add_tops(self, completion: Completion, ids: list[int], logprobs: Any, k: int) -> None:
        """Per generated token (up to EOS): its text and the ``k`` likeliest tokens' text -> logprob."""
        n = next((t for t, token in enumerate(ids) if token in self.eos_ids), len(ids))
        values, indices = logprobs[:n].topk(k, dim=-1)
        completion.pieces = [self.tokenizer.decode([t]) for t in ids[:n]]
        completion.top_logprobs = []
        for vals, idx in zip(values.tolist(), indices.tolist(), strict=True):
            top: dict[str, float] = {}
            for v, t in zip(vals, idx, strict=True):
                top.setdefault(self.tokenizer.decode([t]), float(v))
            completion.top_logprobs.append(top)

    def _tokens_until_stop(self, ids: list[int], stop: Sequence[str]) -> int:
        """Fewest leading tokens whose text contains a stop string (monotone, so bisect)."""
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            text = self.tokenizer.decode(ids[:mid], skip_special_tokens=True)
            if any(s in text for s in stop):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def retries_by_kind(self) -> dict[str, int]:
        return {}  # in-process: no transport to retry

    def close(self) -> None:
        self.lm = None
