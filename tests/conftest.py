"""Shared fixtures: the real embedded model (loaded once per session), a scripted backend for
pipeline-logic unit tests, and the location of ../shared benchmark data."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from xinstruct.llm.base import Completion, GenerateRequest, GenerateResult, ScoreRequest, ScoreResult

REPO = Path(__file__).resolve().parents[1]

try:  # property tests: the same examples on every run and machine, and no example database left behind
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("xinstruct", derandomize=True, database=None, print_blob=True)
    _hypothesis_settings.load_profile("xinstruct")
except ImportError:  # the dev extra brings it; only the fuzz tests need it
    pass


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI has it); tests needing it skip when it is absent."""
    path = Path(os.environ.get("XINSTRUCT_SHARED", REPO.parent / "shared"))
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path}")
    return path


@pytest.fixture(scope="session")
def benchmarks_dir(shared_dir: Path) -> Path:
    return Path(os.environ.get("XINSTRUCT_DATA", shared_dir / "benchmarks"))


@pytest.fixture(scope="session")
def embedded_model():
    """The real embedded default model (pulled by `make test` before the suite starts)."""
    from xinstruct.models import resolve_model

    return resolve_model(None)


@pytest.fixture(scope="session")
def llamacpp_backend(embedded_model):
    """One in-process llama.cpp instance for the whole session (loading costs ~1 s, memory ~0.6 GB)."""
    pytest.importorskip("llama_cpp", reason="needs the llamacpp extra")
    from xinstruct.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(embedded_model, n_ctx=4096)
    yield backend
    backend.close()


class Borrowed:
    """Lends the session's backend to code that closes what it is given (CLIs do)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


@pytest.fixture
def borrowed_llamacpp(llamacpp_backend) -> Borrowed:
    return Borrowed(llamacpp_backend)


class ScriptedBackend:
    """A deterministic stand-in for unit tests of pipeline logic (never for feature proof).

    ``reply(request, i)`` returns the text of completion ``i``; ``judge(request)`` returns the
    log-probabilities for the candidates. Every call is recorded.
    """

    kind = "scripted"

    def __init__(
        self,
        reply: Callable[[GenerateRequest, int], str] | None = None,
        judge: Callable[[ScoreRequest], dict[str, float]] | None = None,
    ) -> None:
        self.reply = reply or (lambda req, i: f" candidate {i}")
        self.judge = judge or (lambda req: {c: -1.0 for c in req.candidates})
        self.generate_calls: list[GenerateRequest] = []
        self.score_calls: list[ScoreRequest] = []

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        for i, req in enumerate(requests):
            self.generate_calls.append(req)
            comps = []
            for k in range(req.params.n):
                text = self.reply(req, k)
                comps.append(Completion(text=text, finish_reason="stop", tokens=len(text.split()), logprob=-float(len(text))))
            yield i, GenerateResult(completions=comps, prompt_tokens=10)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        for i, req in enumerate(requests):
            self.score_calls.append(req)
            yield i, ScoreResult(logprobs=self.judge(req), prompt_tokens=10)

    def close(self) -> None:
        pass


@pytest.fixture
def scripted_backend() -> type[ScriptedBackend]:
    return ScriptedBackend
