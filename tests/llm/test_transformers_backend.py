"""TransformersBackend on the real embedded GGUF (dequantized by transformers), loaded once."""

from __future__ import annotations

import math

import pytest

from xinstruct.llm.base import GenerateRequest, SamplingParams, ScoreRequest

pytestmark = [pytest.mark.hf, pytest.mark.model, pytest.mark.slow]

CODE_TASK = ({"role": "user", "content": "Write a Python function that adds two numbers."},)
ADD = "Write a function add(a, b) that returns the sum of a and b."


def code_judge(task: str, code: str) -> tuple[dict[str, str], ...]:
    prompt = f"Task: {task}\n\nCode:\n```python\n{code}\n```\n\nDoes the code correctly solve the task? Answer Yes or No."
    return ({"role": "user", "content": prompt},)


RIGHT = code_judge(ADD, "def add(a, b):\n    return a + b")
WRONG = code_judge(ADD, "def add(a, b):\n    return a * b - 1")
SHORT = ({"role": "user", "content": "Say Yes."},)  # far shorter: most of its row is padding in a batch


@pytest.fixture(scope="module")
def hf_backend(embedded_model):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from xinstruct.llm.transformers import TransformersBackend

    backend = TransformersBackend(embedded_model, batch_size=4)
    yield backend
    backend.close()


def test_generate_with_prefix_greedy_is_deterministic(hf_backend) -> None:
    params = SamplingParams(max_tokens=10, stop=("\n\n",), logprobs=True)
    req = GenerateRequest(CODE_TASK, params, prefix="```python\ndef add")
    [(_, first)] = list(hf_backend.generate([req]))
    [(_, again)] = list(hf_backend.generate([req]))
    c = first.completions[0]
    assert c.text.strip() and not c.text.startswith("```") and "def add" not in c.text  # continues the prefix
    assert "\n\n" not in c.text and 0 < c.tokens <= 10 and c.finish_reason in ("stop", "length")
    assert c.logprob is not None and math.isfinite(c.logprob) and c.logprob < 0
    assert c.text == again.completions[0].text and c.logprob == pytest.approx(again.completions[0].logprob, abs=1e-4)
    assert first.prompt_tokens > 20
    ident = hf_backend.identity()
    assert ident["backend"] == "transformers" and ident["template_sha256"] and ident["model_sha256"]


def test_first_token_logprobs_batched_equals_single_and_ranks(hf_backend, llamacpp_backend) -> None:
    requests = [ScoreRequest(m, ("Yes", "No")) for m in (RIGHT, WRONG, SHORT)]
    hf_backend.batch_size = 3
    batched = dict(hf_backend.first_token_logprobs(requests))
    hf_backend.batch_size = 1
    single = dict(hf_backend.first_token_logprobs(requests))
    hf_backend.batch_size = 4
    assert batched[0].prompt_tokens > 2 * batched[2].prompt_tokens  # lengths differ: padding is exercised
    for i in range(3):
        for cand in ("Yes", "No"):
            assert batched[i].logprobs[cand] == pytest.approx(single[i].logprobs[cand], abs=1e-3)
        assert batched[i].prompt_tokens == single[i].prompt_tokens
    margin = [batched[i].logprobs["Yes"] - batched[i].logprobs["No"] for i in range(2)]
    assert margin[0] > margin[1] + 0.1, margin  # the right solution earns the larger Yes margin
    local = dict(llamacpp_backend.first_token_logprobs(requests[:2]))
    local_margin = [local[i].logprobs["Yes"] - local[i].logprobs["No"] for i in range(2)]
    assert (margin[0] > margin[1]) == (local_margin[0] > local_margin[1])
    # dequantized float32 vs the q4 kernels of llama.cpp: the same model, close but not bit-equal
    assert all(abs(a - b) < 0.15 for a, b in zip(margin, local_margin, strict=True)), (margin, local_margin)


def test_top_logprobs_per_generated_token(hf_backend) -> None:
    from llm_helpers import check_top_logprobs

    [(_, res)] = list(hf_backend.generate([GenerateRequest(CODE_TASK, SamplingParams(max_tokens=8, top_logprobs=3))]))
    check_top_logprobs(res.completions[0], 3)
