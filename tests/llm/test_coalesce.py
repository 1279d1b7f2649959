"""Threads sharing one backend through CoalescingBackend: calls batch together, results go back
to the right caller, one failing request fails only its caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from xinstruct.llm.base import GenerateRequest, PromptTooLong, SamplingParams
from xinstruct.llm.coalesce import CoalescingBackend


def request(text: str) -> GenerateRequest:
    return GenerateRequest(messages=({"role": "user", "content": text},), params=SamplingParams(max_tokens=8))


class SlowBackend:
    """Records each inner batch; takes a little time per batch so callers pile up meanwhile."""

    kind = "slow"

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests):
        from xinstruct.llm.base import Completion, GenerateResult

        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            texts = [r.messages[-1]["content"] for r in requests]
            if any(t.startswith("too long") for t in texts):
                raise PromptTooLong("prompt too long")
            self.batches.append(texts)
            time.sleep(self.seconds)
            for i, t in enumerate(texts):
                yield i, GenerateResult([Completion(text=t.upper(), finish_reason="stop", tokens=1)], prompt_tokens=3)
        finally:
            with self.lock:
                self.active -= 1

    def first_token_logprobs(self, requests):
        raise NotImplementedError

    def close(self) -> None:
        pass


def call(backend: CoalescingBackend, text: str) -> str:
    ((_, result),) = list(backend.generate([request(text)]))
    return result.completions[0].text


def test_concurrent_calls_share_batches_and_get_their_own_results() -> None:
    inner = SlowBackend()
    backend = CoalescingBackend(inner, gather_seconds=0.02)
    texts = [f"call {i}" for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: call(backend, t), texts))
    assert got == [t.upper() for t in texts]
    assert sorted(t for b in inner.batches for t in b) == sorted(texts)
    assert inner.max_active == 1  # the inner backend is never entered twice at once
    assert max(backend.batch_sizes) >= 4 and len(inner.batches) < len(texts)


def test_a_failing_request_fails_only_its_caller() -> None:
    inner = SlowBackend()
    backend = CoalescingBackend(inner, gather_seconds=0.05)
    texts = ["a", "b", "too long one", "c"]

    def attempt(t: str) -> str:
        try:
            return call(backend, t)
        except PromptTooLong:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(attempt, texts))
    assert got == ["A", "B", "refused", "C"]


def test_single_thread_call_is_a_plain_call() -> None:
    inner = SlowBackend(seconds=0.0)
    backend = CoalescingBackend(inner)
    results = dict(backend.generate([request("x"), request("y")]))
    assert [results[i].completions[0].text for i in (0, 1)] == ["X", "Y"]
    assert inner.batches == [["x", "y"]]
    with pytest.raises(PromptTooLong):
        call(backend, "too long")


@pytest.mark.model
def test_threads_share_the_real_llamacpp_backend(llamacpp_backend) -> None:
    """Four threads, each asking the embedded model to repeat its own word: the calls decode in
    shared batches and every thread gets the answer to its own prompt."""
    words = ["giraffe", "volcano", "pineapple", "lighthouse"]  # words the model echoes ("saxophone" -> "Violin")
    backend = CoalescingBackend(llamacpp_backend, gather_seconds=0.1)

    def ask(word: str) -> str:
        req = GenerateRequest(
            messages=({"role": "user", "content": f"Reply with exactly one word: {word}"},),
            params=SamplingParams(max_tokens=8),
        )
        ((_, result),) = list(backend.generate([req]))
        return result.completions[0].text

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, words))
    assert all(word in answer.lower() for word, answer in zip(words, answers, strict=True)), answers
    assert max(backend.batch_sizes) > 1
    assert answers == [ask(word) for word in words]  # greedy: the same as asked one at a time
