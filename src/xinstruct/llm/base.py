"""Backend protocol and the request/result types every backend speaks.

Both calls take a batch and yield ``(index, result)`` as results finish, so a concurrent
transport can stream and the cache can store each finished call before the batch ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from xinstruct.core.errors import BackendError

Message = dict[str, str]


class PromptTooLong(BackendError):
    """The prompt plus the reply budget exceeds the context window: skip the record, don't stop the run."""


MISSING_LOGPROB = -100.0
"""Log-probability given to a candidate token the backend did not return."""


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    repetition_penalty: float = 1.0
    seed: int | None = None
    logprobs: bool = False
    """Also return the sum of sampled tokens' log-probabilities (for perplexity selection)."""
    top_logprobs: int = 0
    """Also return, for every generated token, its text and the ``k`` likeliest tokens with their
    log-probabilities (an LLM judge's score as an expectation instead of one sampled digit)."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        if not self.top_logprobs:
            del d["top_logprobs"]  # keys of calls made before the field existed stay valid
        return d


@dataclass(frozen=True)
class GenerateRequest:
    """``messages=()`` is a raw completion: the prompt is ``prefix`` verbatim, no chat template
    (base models, completion-style evaluation)."""

    messages: tuple[Message, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    prefix: str = ""
    """Prefilled start of the assistant reply; completions continue it (the prefix is not repeated)."""

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "params": self.params.to_dict(), "prefix": self.prefix}


@dataclass
class Completion:
    text: str
    finish_reason: str
    tokens: int
    logprob: float | None = None
    pieces: list[str] | None = None
    """With ``top_logprobs``: the text of each generated token (may run past a stop-string cut)."""
    top_logprobs: list[dict[str, float]] | None = None
    """With ``top_logprobs``: per generated token, the likeliest tokens' text -> log-probability."""

    @property
    def perplexity(self) -> float | None:
        import math

        if self.logprob is None or self.tokens == 0:
            return None
        return math.exp(-self.logprob / self.tokens)


@dataclass
class GenerateResult:
    completions: list[Completion]
    prompt_tokens: int
    cached: bool = field(default=False, compare=False)
    """Served from a call cache (not stored: a property of this delivery, not of the result)."""

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.completions)

    def to_dict(self) -> dict[str, Any]:
        return {"completions": [asdict(c) for c in self.completions], "prompt_tokens": self.prompt_tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerateResult:
        return cls(completions=[Completion(**c) for c in d["completions"]], prompt_tokens=d["prompt_tokens"])


@dataclass(frozen=True)
class ScoreRequest:
    """Which candidate strings could start the assistant reply, and how likely each first token is."""

    messages: tuple[Message, ...]
    candidates: tuple[str, ...]
    prefix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "candidates": list(self.candidates), "prefix": self.prefix}


@dataclass
class ScoreResult:
    logprobs: dict[str, float]
    prompt_tokens: int
    cached: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"logprobs": self.logprobs, "prompt_tokens": self.prompt_tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoreResult:
        return cls(logprobs=dict(d["logprobs"]), prompt_tokens=d["prompt_tokens"])


def retries_text(counts: dict[str, int]) -> str:
    """A summary's retries by kind for a terminal line: ``connect 3, 5xx 1`` (empty: none)."""
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


class Backend(Protocol):
    """What every transport implements."""

    kind: str

    def identity(self) -> dict[str, Any]:
        """What about this backend changes outputs (model hash, kind, template); goes into cache keys."""
        ...

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]: ...

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        """Log-probability of each candidate's first token as the first reply token (one prompt pass)."""
        ...

    def retries_by_kind(self) -> dict[str, int]:
        """Transport retries so far by kind (``llm.openai_http.FAULT_KINDS``); empty for local models."""
        ...

    def close(self) -> None: ...
