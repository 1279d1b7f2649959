"""The vLLM backend against the real vLLM package (skipped where vLLM is not installed, as in CI).

Run with a venv that has vLLM (docs/scale.md): ``/work/venv-vllm/bin/python -m pytest
tests/llm/test_vllm_real.py``. Without a GPU the engine cannot start, so what is exercised here is
everything around it, on vLLM's own classes: the ``SamplingParams`` we build (vLLM validates
them), the ``TokensPrompt`` we send, the parsing of hand-built ``RequestOutput`` /
``CompletionOutput`` / ``Logprob`` objects, the judge's first-token scores, the error mapping
(``EngineDeadError`` -> ``BackendError``, prompt too long -> ``PromptTooLong``), the tokenizer
vLLM loads (``vllm.tokenizers.get_tokenizer``, what ``LLM.get_tokenizer`` returns) and a real
``LLM(...)`` start that fails with one line. ``test_real_engine_generates_and_scores`` runs a
real generation and judge call where vLLM can start (a GPU node) and is skipped here.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

vllm = pytest.importorskip("vllm")

from vllm import SamplingParams as VSamplingParams  # noqa: E402
from vllm.logprobs import Logprob  # noqa: E402
from vllm.outputs import CompletionOutput, RequestOutput  # noqa: E402

from xinstruct.core.errors import BackendError, ConfigError  # noqa: E402
from xinstruct.llm.base import (  # noqa: E402
    MISSING_LOGPROB,
    GenerateRequest,
    PromptTooLong,
    SamplingParams,
    ScoreRequest,
)
from xinstruct.llm.vllm import (  # noqa: E402
    MAX_LOGPROBS,
    VLLMBackend,
    engine_error,
    judge_params,
    parse_output,
    parse_score,
    vllm_params,
)
from xinstruct.models.registry import ModelRef  # noqa: E402

USER = ({"role": "user", "content": "Is this code correct?"},)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, embedded_model) -> ModelRef:
    """A Hugging Face directory vLLM accepts: the embedded model's real tokenizer and chat template
    with a 2-layer random Qwen2 (vLLM 0.34 reads no GGUF)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    path = tmp_path_factory.mktemp("tiny-qwen2")
    tok = AutoTokenizer.from_pretrained(str(embedded_model.path.parent), gguf_file=embedded_model.path.name)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).to(torch.bfloat16).save_pretrained(path)
    tok.save_pretrained(path)
    return ModelRef(name="tiny-qwen2", path=path, format="hf", sha256="0" * 64)


@pytest.fixture(scope="session")
def model_config(tiny_model):
    """vLLM's ``ModelConfig`` as ``LLM(...)`` builds it (no device needed): what the engine checks
    each request's ``SamplingParams`` against (``SamplingParams.verify``)."""
    from vllm.config import ModelConfig

    return ModelConfig(model=str(tiny_model.path), max_model_len=512, max_logprobs=MAX_LOGPROBS)


def _verify(params: Any, model_config: Any) -> None:
    params.verify(model_config, None, None, None)


@pytest.fixture(scope="session")
def vtokenizer(tiny_model):
    from vllm.tokenizers import get_tokenizer

    return get_tokenizer(str(tiny_model.path))


def _lp(value: float, rank: int, text: str) -> Logprob:
    return Logprob(logprob=value, rank=rank, decoded_token=text)


def _output(prompt_ids: list[int], completions: list[CompletionOutput]) -> RequestOutput:
    return RequestOutput(request_id="0", prompt=None, prompt_token_ids=prompt_ids, prompt_logprobs=None,
                         outputs=completions, finished=True)


class ScriptedEngine:
    """Stands in for ``vllm.LLM`` (no GPU): the real tokenizer, and ``generate`` answering with real
    vLLM output objects made by ``answer(prompt_ids, params)``, after vLLM's own check of each
    request's ``SamplingParams`` against the model's config; records what it was sent."""

    def __init__(self, tokenizer: Any, answer: Any, model_config: Any) -> None:
        self.tokenizer, self.answer, self.model_config, self.calls = tokenizer, answer, model_config, []

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[Any], params: list[Any], *, use_tqdm: bool = True) -> list[RequestOutput]:
        self.calls.append((prompts, params))
        for sp in params:
            _verify(sp, self.model_config)
        return [self.answer(p["prompt_token_ids"], sp) for p, sp in zip(prompts, params, strict=True)]


# --- SamplingParams: vLLM itself validates what we build ---------------------------------------

def test_sampling_params_carry_seed_stop_and_logprobs(model_config):
    p = SamplingParams(n=3, temperature=0.8, top_p=0.95, max_tokens=64, stop=("\n\n", "```"),
                       repetition_penalty=1.1, seed=1234, logprobs=True)
    v = vllm_params(p, VSamplingParams)
    assert isinstance(v, VSamplingParams)
    assert (v.n, v.temperature, v.top_p, v.max_tokens, v.seed) == (3, 0.8, 0.95, 64, 1234)
    assert v.stop == ["\n\n", "```"] and v.repetition_penalty == 1.1
    assert v.logprobs == 1  # cumulative_logprob needs at least the sampled token's
    assert v.include_stop_str_in_output is False  # the stop string is cut, as the other backends do
    assert vllm_params(SamplingParams(top_logprobs=5), VSamplingParams).logprobs == 5
    assert vllm_params(SamplingParams(), VSamplingParams).logprobs is None
    for q in (p, SamplingParams(top_logprobs=MAX_LOGPROBS), SamplingParams(n=4, temperature=0.0, max_tokens=1)):
        _verify(vllm_params(q, VSamplingParams), model_config)  # the engine's own request check
    with pytest.raises(ConfigError, match="at most 20"):
        vllm_params(SamplingParams(top_logprobs=MAX_LOGPROBS + 1), VSamplingParams)


def test_greedy_with_n_asks_one_sample_and_copies_it():
    """vLLM refuses n > 1 at temperature 0; we ask for one and return it n times."""
    from vllm.exceptions import VLLMValidationError

    with pytest.raises(VLLMValidationError, match="n must be 1"):
        VSamplingParams(n=2, temperature=0.0)
    p = SamplingParams(n=3, temperature=0.0)
    assert vllm_params(p, VSamplingParams).n == 1
    out = _output([1, 2], [CompletionOutput(0, "x", [5], None, None, finish_reason="stop")])
    result = parse_output(out, p, lambda ids: "?")
    assert [c.text for c in result.completions] == ["x", "x", "x"]
    assert result.completions[0] is not result.completions[1]


def test_judge_params_ask_exactly_the_candidate_ids(model_config):
    v = judge_params([9454, 2308, 9454], VSamplingParams)
    assert (v.n, v.temperature, v.max_tokens, v.logprobs) == (1, 0.0, 1, None)
    assert v.logprob_token_ids == [2308, 9454]
    _verify(v, model_config)
    from vllm.exceptions import VLLMValidationError

    with pytest.raises(VLLMValidationError, match="logprobs must equal"):  # why logprobs stays unset
        _verify(VSamplingParams(max_tokens=1, temperature=0.0, logprobs=20, logprob_token_ids=[2308, 9454]),
                model_config)


# --- parsing real output objects ---------------------------------------------------------------

def test_parse_output_text_finish_tokens_logprob():
    out = _output([1, 2, 3], [
        CompletionOutput(0, "def f():", [10, 11, 12], -1.5, [{10: _lp(-0.5, 1, "def")}] * 3, finish_reason="stop",
                         stop_reason="\n\n"),
        CompletionOutput(1, "x = 1", [20, 21], -0.25, [{20: _lp(-0.1, 1, "x")}] * 2, finish_reason="length"),
    ])
    result = parse_output(out, SamplingParams(n=2, temperature=0.7, logprobs=True), lambda ids: "?")
    a, b = result.completions
    assert (a.text, a.finish_reason, a.tokens, a.logprob) == ("def f():", "stop", 3, -1.5)
    assert (b.text, b.finish_reason, b.tokens, b.logprob) == ("x = 1", "length", 2, -0.25)
    assert result.prompt_tokens == 3 and result.completion_tokens == 5
    assert math.isclose(a.perplexity, math.exp(0.5))
    # without logprobs asked, none reported (vLLM may still fill cumulative_logprob)
    plain = parse_output(out, SamplingParams(n=2, temperature=0.7), lambda ids: "?")
    assert plain.completions[0].logprob is None and plain.completions[0].top_logprobs is None


def test_parse_output_top_logprobs_drop_the_extra_sampled_token():
    """vLLM returns the top k plus the sampled token when it ranks lower: k entries are kept."""
    step0 = {7: _lp(-0.1, 1, "Yes"), 8: _lp(-2.5, 2, "No"), 99: _lp(-9.0, 40, "zz")}
    step1 = {5: _lp(-0.01, 1, None), 6: _lp(-5.0, 2, "b")}
    out = _output([1], [CompletionOutput(0, "Yes!", [99, 5], -9.01, [step0, step1], finish_reason="stop")])
    c = parse_output(out, SamplingParams(temperature=1.0, top_logprobs=2), lambda ids: f"<{ids[0]}>").completions[0]
    assert c.pieces == ["<99>", "<5>"]
    assert c.top_logprobs == [{"Yes": -0.1, "No": -2.5}, {"<5>": -0.01, "b": -5.0}]


@pytest.mark.parametrize("reason", ["abort", "error", None])
def test_unfinished_or_failed_request_is_an_engine_error(reason):
    out = _output([1], [CompletionOutput(0, "", [], None, None, finish_reason=reason)])
    with pytest.raises(BackendError, match="finish_reason"):
        parse_output(out, SamplingParams(), lambda ids: "")


def test_parse_score_reads_candidates_first_token():
    first = {9454: _lp(-0.2, 1, "Yes"), 2308: _lp(-1.8, 2, "No"), 11: _lp(-3.0, 3, ",")}
    out = _output([1, 2], [CompletionOutput(0, "Yes", [9454], -0.2, [first], finish_reason="length")])
    s = parse_score(out, {"Yes": 9454, "No": 2308, "Maybe": 12345, "": None})
    assert s.logprobs == {"Yes": -0.2, "No": -1.8, "Maybe": MISSING_LOGPROB, "": MISSING_LOGPROB}
    assert s.prompt_tokens == 2


# --- errors ------------------------------------------------------------------------------------

def test_engine_dead_is_a_backend_error_and_too_long_is_prompt_too_long():
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.exceptions import EngineDeadError

    dead = engine_error(EngineDeadError())
    assert isinstance(dead, BackendError) and not isinstance(dead, PromptTooLong)
    assert "EngineDeadError" in str(dead)
    long = engine_error(VLLMValidationError("The decoder prompt (length 5000) is longer than the maximum model length of 4096."))
    assert isinstance(long, PromptTooLong)
    assert isinstance(engine_error(RuntimeError("CUDA error: an illegal memory access")), BackendError)
    other = KeyError("x")
    assert engine_error(other) is other  # not the engine's: re-raised as it was


# --- the backend on the real tokenizer, with the engine scripted -------------------------------

def test_backend_sends_token_prompts_and_parses(tiny_model, vtokenizer, model_config):
    def answer(ids: list[int], sp: Any) -> RequestOutput:
        return _output(ids, [CompletionOutput(i, f"reply {sp.seed}", [6023], None, None, finish_reason="stop")
                             for i in range(sp.n)])

    engine = ScriptedEngine(vtokenizer, answer, model_config)
    backend = VLLMBackend(tiny_model, max_model_len=2048, engine=engine)
    assert backend.identity()["template_sha256"] is not None
    reqs = [GenerateRequest(USER, SamplingParams(n=2, temperature=0.8, seed=s, stop=("\n",)), prefix="Answer:")
            for s in (1, 2)]
    results = dict(backend.generate(reqs))
    assert [c.text for c in results[1].completions] == ["reply 2", "reply 2"]
    prompts, params = engine.calls[0]
    assert [p.seed for p in params] == [1, 2] and all(isinstance(p, VSamplingParams) for p in params)
    text = vtokenizer.apply_chat_template([dict(m) for m in USER], add_generation_prompt=True, tokenize=False)
    expected = vtokenizer.encode(text + "Answer:", add_special_tokens=False)
    assert prompts[0]["prompt_token_ids"] == expected  # one BOS at most: the template's own tokens
    assert results[0].prompt_tokens == len(expected)
    assert backend.retries_by_kind() == {}


def test_backend_judge_scores_yes_no(tiny_model, vtokenizer, model_config):
    yes, no = (vtokenizer.encode(w, add_special_tokens=False)[0] for w in ("Yes", "No"))

    def answer(ids: list[int], sp: Any) -> RequestOutput:
        assert sp.max_tokens == 1 and set(sp.logprob_token_ids) == {yes, no}
        first = {yes: _lp(-0.3, 1, "Yes"), no: _lp(-1.4, 2, "No")}
        return _output(ids, [CompletionOutput(0, "Yes", [yes], -0.3, [first], finish_reason="length")])

    backend = VLLMBackend(tiny_model, max_model_len=2048, engine=ScriptedEngine(vtokenizer, answer, model_config))
    ((i, score),) = backend.first_token_logprobs([ScoreRequest(USER, ("Yes", "No"))])
    assert i == 0 and score.logprobs == {"Yes": -0.3, "No": -1.4}


def test_backend_prompt_too_long_and_dead_engine(tiny_model, vtokenizer, model_config):
    from vllm.v1.engine.exceptions import EngineDeadError

    def dead(ids: list[int], sp: Any) -> RequestOutput:
        raise EngineDeadError()

    backend = VLLMBackend(tiny_model, max_model_len=64, engine=ScriptedEngine(vtokenizer, dead, model_config))
    with pytest.raises(PromptTooLong, match="max_model_len=64"):
        list(backend.generate([GenerateRequest(({"role": "user", "content": "x " * 200},))]))
    with pytest.raises(BackendError, match="EngineDeadError") as err:
        list(backend.generate([GenerateRequest(USER, SamplingParams(max_tokens=4))]))
    assert not isinstance(err.value, PromptTooLong)  # a Ray actor exits on it (scale/worker.py)
    backend.close()
    with pytest.raises(BackendError, match="after close"):
        list(backend.generate([GenerateRequest(USER, SamplingParams(max_tokens=4))]))


# --- the real engine ---------------------------------------------------------------------------

def _start_or_skip(model: ModelRef) -> VLLMBackend:
    from vllm.platforms import current_platform

    if current_platform.is_unspecified():
        pytest.skip("vLLM found no GPU (UnspecifiedPlatform): the engine cannot start here")
    return VLLMBackend(model, max_model_len=512)


def test_engine_start_without_gpu_fails_in_one_line(tiny_model):
    from vllm.platforms import current_platform

    if not current_platform.is_unspecified():
        pytest.skip(f"vLLM has a platform here ({type(current_platform).__name__})")
    with pytest.raises(BackendError) as err:
        VLLMBackend(tiny_model, max_model_len=512)
    message = str(err.value)
    assert message.startswith("vLLM found no GPU/CPU platform") and "--backend openai" in message
    assert "\n" not in message


def test_forced_cpu_platform_fails_in_one_line(tiny_model):
    """``VLLM_TARGET_DEVICE=cpu`` picks vLLM's CPU platform, which this CUDA wheel cannot run on x86
    (it needs triton-cpu and a CPU build of vLLM's kernels): the error is one line too."""
    code = (
        "import sys; from xinstruct.llm.vllm import VLLMBackend; from xinstruct.models.registry import ModelRef\n"
        "from xinstruct.core.errors import BackendError\n"
        f"m = ModelRef(name='t', path=__import__('pathlib').Path({str(tiny_model.path)!r}), format='hf', sha256='0')\n"
        "try:\n    VLLMBackend(m, max_model_len=512)\nexcept BackendError as e:\n    print('ERR', e); sys.exit(3)\n"
        "print('STARTED')\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={"VLLM_TARGET_DEVICE": "cpu", "PYTHONPATH": src, "PATH": "/usr/bin:/bin",
                               "HOME": str(Path.home())})
    lines = [line for line in done.stdout.splitlines() if line.startswith(("ERR", "STARTED"))]
    if lines == ["STARTED"]:
        return  # a CPU build of vLLM: the engine started
    assert done.returncode == 3, done.stderr[-2000:]
    assert len(lines) == 1 and "could not start the engine" in lines[0] and "--backend openai" in lines[0]


def test_real_engine_generates_and_scores(tiny_model):
    """Needs a device vLLM can run on; the tiny model's text is noise, its mechanics are not."""
    backend = _start_or_skip(tiny_model)
    p = SamplingParams(n=2, temperature=0.9, max_tokens=8, seed=7, logprobs=True, top_logprobs=3)
    (_, a), = backend.generate([GenerateRequest(USER, p)])
    (_, b), = backend.generate([GenerateRequest(USER, p)])
    assert [c.text for c in a.completions] == [c.text for c in b.completions]  # per-request seed
    assert all(c.tokens <= 8 and c.logprob is not None and len(c.top_logprobs) == c.tokens for c in a.completions)
    (_, s), = backend.first_token_logprobs([ScoreRequest(USER, ("Yes", "No"))])
    assert all(v < 0 and v != MISSING_LOGPROB for v in s.logprobs.values())
    backend.close()


def test_start_failure_on_a_platform_names_gguf(monkeypatch, embedded_model):
    """Where vLLM has a platform, a start failure keeps vLLM's reason on one line; a GGUF model
    (which vLLM 0.34 does not read) says so."""
    import vllm.platforms

    from xinstruct.llm.vllm import startup_error

    class Cuda:
        def is_unspecified(self) -> bool:
            return False

    monkeypatch.setattr(vllm.platforms, "current_platform", Cuda())
    err = startup_error(embedded_model, ValueError("Invalid repository ID\nor local directory"))
    assert str(err).startswith(f"{embedded_model.path}: vLLM could not start the engine (ValueError: Invalid repository ID or")
    assert "not GGUF files" in str(err) and "--backend openai" in str(err) and "\n" not in str(err)
