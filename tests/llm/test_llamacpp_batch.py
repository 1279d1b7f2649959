"""Continuous batching: the numpy sampler, and many requests through the slots of the real model."""

from __future__ import annotations

import numpy as np
import pytest

from xinstruct.llm.base import GenerateRequest, SamplingParams
from xinstruct.llm.llamacpp_batch import DecodeJob, sample_token


def job(**kw) -> DecodeJob:
    base = {"key": 0, "prompt": [1], "max_tokens": 8, "temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.0,
            "stop": (), "seed": 0, "logprobs": False}  # fmt: skip
    return DecodeJob(**{**base, **kw})


def test_greedy_is_argmax_and_penalty_applies_to_recent_tokens() -> None:
    logits = np.array([1.0, 3.0, 2.9, -1.0], dtype=np.float32)
    assert sample_token(logits, [], job(), None) == 1
    # 3.0 / 1.1 < 2.9: a recently seen token loses its lead; the input array is untouched
    assert sample_token(logits, [1], job(repetition_penalty=1.1), None) == 2
    assert logits[1] == 3.0
    # tokens older than the penalty window do not count
    assert sample_token(logits, [1] + [3] * 64, job(repetition_penalty=1.1), None) == 1


def test_nucleus_keeps_only_the_top_mass_and_seeds_reproduce() -> None:
    logits = np.log(np.array([0.6, 0.3, 0.05, 0.05]))
    nucleus = job(temperature=1.0, top_p=0.5)
    draws = {sample_token(logits, [], nucleus, np.random.default_rng(s)) for s in range(50)}
    assert draws == {0}  # 0.6 alone covers top_p=0.5
    wide = job(temperature=1.0, top_p=0.85)
    draws = [sample_token(logits, [], wide, np.random.default_rng(s)) for s in range(200)]
    assert set(draws) == {0, 1}  # the 0.05 tails are outside the 0.85 nucleus
    again = [sample_token(logits, [], wide, np.random.default_rng(s)) for s in range(200)]
    assert draws == again


MSG = ({"role": "user", "content": "Write a Python function that returns the square of a number."},)


@pytest.mark.model
def test_many_requests_share_the_slots(llamacpp_backend) -> None:
    """More samples than slots, mixed lengths and stops: every request comes back once, each
    obeying its own parameters, and the same batch again gives the same texts."""
    assert llamacpp_backend.decoder.n_slots >= 2
    requests = [
        GenerateRequest(MSG, SamplingParams(max_tokens=5)),
        GenerateRequest(MSG, SamplingParams(max_tokens=40, stop=("\n",))),
        GenerateRequest(MSG, SamplingParams(n=3, max_tokens=12, temperature=0.9, top_p=0.95, seed=3)),
        GenerateRequest(MSG, SamplingParams(max_tokens=9, logprobs=True), prefix="```python\ndef"),
        GenerateRequest(({"role": "user", "content": "Say OK."},), SamplingParams(max_tokens=30)),
    ]
    first = dict(llamacpp_backend.generate(requests))
    assert sorted(first) == list(range(len(requests)))
    short, line, sampled, prefixed, ok = (first[i] for i in range(len(requests)))
    assert short.completions[0].tokens == 5 and short.completions[0].finish_reason == "length"
    assert "\n" not in line.completions[0].text and line.completions[0].finish_reason == "stop"
    assert len(sampled.completions) == 3 and len({c.text for c in sampled.completions}) > 1
    assert prefixed.completions[0].logprob is not None and prefixed.completions[0].logprob < 0
    assert ok.completions[0].finish_reason == "stop" and ok.completions[0].tokens < 30  # ended by end-of-turn
    again = dict(llamacpp_backend.generate(requests))
    assert [[c.text for c in again[i].completions] for i in range(len(requests))] == [
        [c.text for c in first[i].completions] for i in range(len(requests))
    ]


@pytest.mark.model
def test_abandoned_generation_leaves_the_backend_usable(llamacpp_backend) -> None:
    """A caller that stops reading mid-batch (Ctrl-C, an exception) must not poison the next call."""
    requests = [GenerateRequest(MSG, SamplingParams(max_tokens=4 + 8 * i)) for i in range(6)]
    stream = llamacpp_backend.generate(requests)
    next(stream)
    stream.close()
    [(_, res)] = list(llamacpp_backend.generate([GenerateRequest(MSG, SamplingParams(max_tokens=6))]))
    alone = res.completions[0].text
    [(_, res2)] = list(llamacpp_backend.generate([GenerateRequest(MSG, SamplingParams(max_tokens=6))]))
    assert res2.completions[0].text == alone and res.completions[0].tokens == 6
