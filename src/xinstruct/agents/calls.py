"""One LLM call at a time per unit of work, with per-call seeds and token accounting for progress and summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import Backend, Completion, GenerateRequest, Message, SamplingParams


@dataclass
class Meter:
    """Tokens generated for one unit of work (cached calls count in ``tokens``, not ``new_tokens``)."""

    tokens: int = 0
    new_tokens: int = 0
    prompt_tokens: int = 0
    calls: int = 0
    cached_calls: int = 0

    def add(self, other: Meter) -> None:
        for name in ("tokens", "new_tokens", "prompt_tokens", "calls", "cached_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Rendered:
    """A task's prompt: chat messages plus the prefilled start of the reply."""

    messages: tuple[Message, ...]
    prefix: str = ""
    stop: tuple[str, ...] = ()


@dataclass
class Caller:
    """Wraps a (cached) backend; every call's seed comes from the run seed and the call's identity."""

    backend: Backend
    run_seed: int
    meter: Meter = field(default_factory=Meter)

    def complete(
        self,
        rendered: Rendered,
        *,
        keys: Sequence[Any],
        max_tokens: int,
        temperature: float,
        n: int = 1,
    ) -> list[str]:
        """Completion texts (without the prefix)."""
        return [c.text for c in self.completions(rendered, keys=keys, max_tokens=max_tokens, temperature=temperature, n=n)]

    def completions(
        self,
        rendered: Rendered,
        *,
        keys: Sequence[Any],
        max_tokens: int,
        temperature: float,
        n: int = 1,
        top_logprobs: int = 0,
    ) -> list[Completion]:
        """The completions themselves (with per-token top log-probabilities if asked)."""
        params = SamplingParams(
            n=n,
            temperature=temperature,
            top_p=0.95 if temperature > 0 else 1.0,
            max_tokens=max_tokens,
            stop=rendered.stop,
            repetition_penalty=1.05,
            seed=derive_seed(self.run_seed, *keys),
            top_logprobs=top_logprobs,
        )
        request = GenerateRequest(messages=rendered.messages, params=params, prefix=rendered.prefix)
        ((_, result),) = list(self.backend.generate([request]))
        cached = result.cached
        self.meter.calls += 1
        self.meter.tokens += result.completion_tokens
        self.meter.prompt_tokens += result.prompt_tokens
        if cached:
            self.meter.cached_calls += 1
        else:
            self.meter.new_tokens += result.completion_tokens
        return result.completions
