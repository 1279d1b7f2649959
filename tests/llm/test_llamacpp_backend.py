"""The in-process llama.cpp backend on the real embedded model, and CachedBackend's bookkeeping."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from xinstruct.core.cache import CallCache
from xinstruct.llm.base import GenerateRequest, GenerateResult, SamplingParams, ScoreRequest
from xinstruct.llm.cached import CachedBackend

CODE_TASK = ({"role": "user", "content": "Write a Python function that adds two numbers."},)
JUDGE_A = (
    {"role": "user", "content": "Task: add two numbers.\n\nCode:\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
     "Does the code correctly solve the task? Answer Yes or No."},
)  # fmt: skip
JUDGE_B = (
    {"role": "user", "content": "Task: add two numbers.\n\nCode:\n```python\ndef add(a, b):\n    return a - b\n```\n\n"
     "Does the code correctly solve the task? Answer Yes or No."},
)  # fmt: skip


def one(backend, request: GenerateRequest) -> GenerateResult:
    [(index, result)] = list(backend.generate([request]))
    assert index == 0
    return result


# -- llama.cpp backend ----------------------------------------------------------------------------


@pytest.mark.model
def test_prefix_is_continued(llamacpp_backend) -> None:
    prefix = "```python\ndef add(a, b):\n"
    res = one(llamacpp_backend, GenerateRequest(CODE_TASK, SamplingParams(max_tokens=12), prefix=prefix))
    text = res.completions[0].text
    assert "def add" not in text and not text.startswith("```")  # the prefix is not repeated...
    assert "return" in text or '"""' in text  # ...the body that follows the signature comes next
    # without the prefix the greedy reply starts differently (prose or the fence)
    plain = one(llamacpp_backend, GenerateRequest(CODE_TASK, SamplingParams(max_tokens=12))).completions[0].text
    assert plain != text


@pytest.mark.model
def test_seeds(llamacpp_backend) -> None:
    poem = ({"role": "user", "content": "Write a short poem about the sea."},)  # many plausible replies

    def sample(seed: int, n: int = 1) -> list[str]:
        params = SamplingParams(n=n, temperature=1.0, max_tokens=10, seed=seed)
        return [c.text for c in one(llamacpp_backend, GenerateRequest(poem, params)).completions]

    first = sample(1)
    assert sample(1) == first  # same seed, same text
    assert sample(2) != first  # another seed: different (this prompt has no single likely reply)
    pair = sample(9, n=2)  # n completions use derived seeds, so they differ from each other
    assert len(pair) == 2 and pair[0] != pair[1]


@pytest.mark.model
def test_stop_string_and_logprob(llamacpp_backend) -> None:
    params = SamplingParams(max_tokens=48, stop=("\n",), logprobs=True)
    res = one(llamacpp_backend, GenerateRequest(CODE_TASK, params, prefix="```python\n"))
    c = res.completions[0]
    assert "\n" not in c.text and c.finish_reason == "stop" and c.tokens < 48
    assert c.text.startswith("def")
    assert c.logprob is not None and math.isfinite(c.logprob) and c.logprob < 0
    assert c.perplexity is not None and c.perplexity >= 1.0


@pytest.mark.model
def test_last_position_scoring_matches_logits_all(llamacpp_backend, embedded_model) -> None:
    """The fast path (logits at the last position only, KV reuse) equals llama-cpp-python's own
    ``create_completion(logprobs=...)`` on an instance that keeps every position's logits and
    splits the prompt into the same chunks."""
    from llama_cpp import Llama

    from xinstruct.llm.llamacpp_batch import PREFILL_CHUNK

    [(_, fast)] = list(llamacpp_backend.first_token_logprobs([ScoreRequest(JUDGE_A, ("Yes", "No"))]))
    assert all(math.isfinite(v) and v < 0 for v in fast.logprobs.values())
    prompt = llamacpp_backend.template.render(JUDGE_A)
    naive = Llama(model_path=str(embedded_model.path), n_ctx=512, n_batch=PREFILL_CHUNK, logits_all=True, verbose=False)
    try:
        out = naive.create_completion(prompt=prompt, max_tokens=1, temperature=0.0, logprobs=20)
    finally:
        naive.close()
    top = out["choices"][0]["logprobs"]["top_logprobs"][0]
    for cand in ("Yes", "No"):
        assert cand in top, top
        assert fast.logprobs[cand] == pytest.approx(top[cand], abs=1e-2)


@pytest.mark.model
def test_kv_reuse_does_not_corrupt_scores(llamacpp_backend) -> None:
    from xinstruct.llm.llamacpp_batch import log_softmax

    llm = llamacpp_backend.llm

    def score(messages) -> dict[str, float]:
        [(_, res)] = list(llamacpp_backend.first_token_logprobs([ScoreRequest(messages, ("Yes", "No"))]))
        return res.logprobs

    llm.reset()  # start from an empty context: A is evaluated whole
    counted = (llamacpp_backend.scored_prompt_tokens, llamacpp_backend.evaluated_prompt_tokens)
    a1 = score(JUDGE_A)
    scored = llamacpp_backend.scored_prompt_tokens - counted[0]
    assert scored > 64 and llamacpp_backend.evaluated_prompt_tokens - counted[1] == scored
    counted = (llamacpp_backend.scored_prompt_tokens, llamacpp_backend.evaluated_prompt_tokens)
    assert score(JUDGE_A) == a1  # the same prompt again: only the tail after the last whole prefill chunk
    assert llamacpp_backend.scored_prompt_tokens - counted[0] == scored
    assert 0 < llamacpp_backend.evaluated_prompt_tokens - counted[1] <= 64
    b = score(JUDGE_B)  # shares the template and the task with A, so reuses A's cached prefix
    a2 = score(JUDGE_A)  # reuses B's common prefix, re-evaluates A's tail
    assert a1 == a2
    assert b != a1
    # a generation in between changes nothing either (it decodes in its own slot context)
    one(llamacpp_backend, GenerateRequest(JUDGE_B, SamplingParams(max_tokens=4)))
    score(JUDGE_B)
    assert score(JUDGE_A) == a1
    # Scoring A right after A reuses everything but the last, partial chunk, which is evaluated
    # exactly as the first time: the same score, although llama.cpp's logits depend on the split.
    assert score(JUDGE_A) == a1
    tokens = llamacpp_backend._tokens(llamacpp_backend.template.render(JUDGE_A))
    llm.reset()
    llm.eval(tokens[:-1])
    llm.eval(tokens[-1:])  # an unaligned split: another kernel path, slightly other logits
    by_hand = log_softmax(llamacpp_backend._last_logits())
    for cand in ("Yes", "No"):
        [token] = llm.tokenize(cand.encode(), add_bos=False, special=False)
        assert abs(float(by_hand[token]) - a1[cand]) < 0.05


@pytest.mark.model
def test_prompt_too_long(llamacpp_backend) -> None:
    from xinstruct.llm.base import PromptTooLong

    huge = ({"role": "user", "content": "word " * 5000},)
    with pytest.raises(PromptTooLong, match="n_ctx=4096"):
        one(llamacpp_backend, GenerateRequest(huge, SamplingParams(max_tokens=8)))
    with pytest.raises(PromptTooLong):
        list(llamacpp_backend.first_token_logprobs([ScoreRequest(huge, ("Yes",))]))
    # a prompt that fits but leaves no room for the reply budget is refused as well
    fits = ({"role": "user", "content": "word " * 3000},)
    with pytest.raises(PromptTooLong):
        one(llamacpp_backend, GenerateRequest(fits, SamplingParams(max_tokens=2000)))


# -- CachedBackend --------------------------------------------------------------------------------


def req(text: str = "hi", prefix: str = "", **params) -> GenerateRequest:
    return GenerateRequest(({"role": "user", "content": text},), SamplingParams(**params), prefix=prefix)


def test_cache_hits_skip_the_inner_backend(tmp_path: Path, scripted_backend) -> None:
    inner = scripted_backend(reply=lambda r, i: f"reply to {r.messages[0]['content']} #{i}")
    cached = CachedBackend(inner, CallCache(tmp_path / "calls.sqlite"))
    first = dict(cached.generate([req("a"), req("b", n=2)]))
    assert len(inner.generate_calls) == 2 and cached.new_calls == 2
    second = dict(cached.generate([req("a"), req("b", n=2), req("c")]))
    assert len(inner.generate_calls) == 3  # only "c" reached the backend
    assert [r.messages[0]["content"] for r in inner.generate_calls] == ["a", "b", "c"]
    assert cached.cached_calls == 2 and cached.new_calls == 3
    assert second[0].to_dict() == first[0].to_dict() and second[1].to_dict() == first[1].to_dict()
    assert second[2].completions[0].text == "reply to c #0"
    scores = ScoreRequest(JUDGE_A, ("Yes", "No"))
    list(cached.first_token_logprobs([scores]))
    [(_, hit)] = list(cached.first_token_logprobs([scores]))
    assert len(inner.score_calls) == 1 and hit.logprobs == {"Yes": -1.0, "No": -1.0}


def test_cache_key_covers_what_changes_output(tmp_path: Path, scripted_backend) -> None:
    cached = CachedBackend(scripted_backend(), CallCache(tmp_path / "calls.sqlite"))
    base = cached._key("generate", req())
    variants = [
        req(seed=1), req(seed=2), req("other"), req(prefix="```"), req(temperature=0.5), req(top_p=0.9),
        req(max_tokens=7), req(stop=("\n",)), req(repetition_penalty=1.1), req(n=2), req(logprobs=True),
    ]  # fmt: skip
    keys = {cached._key("generate", v) for v in variants}
    assert base not in keys and len(keys) == len(variants)
    assert cached._key("first_token_logprobs", ScoreRequest(req().messages, ("Yes",))) != cached._key(
        "first_token_logprobs", ScoreRequest(req().messages, ("No",))
    )
    # the same request is the same key: equal but distinct objects, another wrapper, another cache file
    other = CachedBackend(scripted_backend(), CallCache(tmp_path / "elsewhere.sqlite"))
    other.inner.batch_size = 99  # throughput settings are not part of the backend identity
    assert other._key("generate", req()) == base == cached._key("generate", req())
    # a backend with another identity (model, template) gets other keys
    changed = scripted_backend()
    changed.identity = lambda: {"backend": "scripted", "model_sha256": "f" * 64}
    assert CachedBackend(changed, cached.cache)._key("generate", req()) != base


class FailingAfter:
    """Yields ``ok`` results, then fails: the cache must keep what finished."""

    kind = "scripted"

    def __init__(self, inner, ok: int) -> None:
        self.inner, self.ok = inner, ok

    def identity(self) -> dict[str, str]:
        return self.inner.identity()

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        for i, result in self.inner.generate(requests):
            if i == self.ok:
                raise RuntimeError("server went away")
            yield i, result

    def close(self) -> None:
        pass


def test_cache_survives_reopen_and_failures(tmp_path: Path, scripted_backend) -> None:
    path = tmp_path / "calls.sqlite"
    writer = CachedBackend(FailingAfter(scripted_backend(), ok=2), CallCache(path))
    got = []
    with pytest.raises(RuntimeError):
        for i, _ in writer.generate([req("a"), req("b"), req("c"), req("d")]):
            got.append(i)
    assert got == [0, 1]
    # a new CallCache on the same file (the writer was never closed: as after a crash) sees the puts
    inner = scripted_backend()
    reader = CachedBackend(inner, CallCache(path))
    results = dict(reader.generate([req("a"), req("b"), req("c"), req("d")]))
    assert sorted(results) == [0, 1, 2, 3]
    assert [r.messages[0]["content"] for r in inner.generate_calls] == ["c", "d"]
    assert reader.cached_calls == 2 and len(reader.cache) == 4


@pytest.mark.model
def test_top_logprobs_per_generated_token(llamacpp_backend) -> None:
    from llm_helpers import check_top_logprobs

    params = SamplingParams(max_tokens=10, top_logprobs=5)
    c = one(llamacpp_backend, GenerateRequest(CODE_TASK, params, prefix="```python\n")).completions[0]
    check_top_logprobs(c, 5)
    plain = one(llamacpp_backend, GenerateRequest(CODE_TASK, SamplingParams(max_tokens=10), prefix="```python\n"))
    assert plain.completions[0].text == c.text and plain.completions[0].top_logprobs is None
