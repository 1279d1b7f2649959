"""Real training runs on CPU: a tiny random Qwen2 (fast) and one run on the embedded GGUF model.

Each run trains several steps on one fixed batch (batch size = number of rows), so a working
optimizer must lower the loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import chat, write_jsonl

from xinstruct.cli import main

pytestmark = pytest.mark.hf
pytest.importorskip("torch")
pytest.importorskip("trl")

FAST = ["--batch-size", "4", "--grad-accum", "1", "--learning-rate", "1e-2", "--max-length", "128",
        "--lora-r", "8", "--warmup-ratio", "0", "--threads", "1", "--logging-steps", "1"]


def _events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]


def _losses(events: list[dict], stage: str) -> list[float]:
    return [e["loss"] for e in events if e["event"] == "log" and e["stage"] == stage]


def test_sft_two_stage_lora_then_merge_and_generate(tmp_path: Path, tiny_qwen: Path, capsys) -> None:
    # stage-2 rows come first in the file: the order must come from the stage column
    original = [chat(f"Original task {i}", f"print({i} * {i})", stage=2) for i in range(4)]
    generated = [chat(f"Write function f{i}", f"def f{i}():\n    return {i}", stage=1) for i in range(4)]
    data = write_jsonl(tmp_path / "data.jsonl", original + generated)
    out = tmp_path / "run"
    main(["train", "sft", str(data), "--base", str(tiny_qwen), "--out", str(out), "--max-steps", "4",
          "--save-steps", "100", *FAST])

    events = _events(out)
    begins = [e for e in events if e["event"] == "begin"]
    assert [e["stage"] for e in begins] == ["stage1", "stage2"]
    assert begins[0]["first_row"].endswith("row 5") and begins[0]["rows"] == 4  # first stage-1 row
    stages_in_log_order = [e["stage"] for e in events if e["event"] == "log"]
    assert stages_in_log_order == ["stage1"] * 4 + ["stage2"] * 4
    for stage in ("stage1", "stage2"):
        losses = _losses(events, stage)
        assert losses[-1] < losses[0], (stage, losses)
    # stage 2 starts from the weights stage 1 ended with (LoRA B starts at zero, so they differ from init)
    end1 = next(e for e in events if e["event"] == "end" and e["stage"] == "stage1")
    assert begins[1]["weights"] == pytest.approx(end1["weights"], rel=1e-6)
    assert begins[0]["weights"] != pytest.approx(end1["weights"], rel=1e-3)

    card = json.loads((out / "model_card.json").read_text())
    assert card["data"][0]["rows"] == 8 and len(card["data"][0]["sha256"]) == 64
    assert card["base_model"]["format"] == "hf" and card["final_loss"] == _losses(events, "stage2")[-1]
    assert [s["name"] for s in card["stages"]] == ["stage1", "stage2"]

    # the adapter loads back onto the base and carries the trained (non-zero) LoRA B weights
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_qwen)), str(out / "adapter"))
    lora_b = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert lora_b and any(float(p.abs().sum()) > 0 for p in lora_b)

    # merge, reload as a plain model: same logits as base+adapter
    main(["train", "export", str(out), "--merged", str(tmp_path / "merged")])
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"))
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    peft_model.eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft_model(ids).logits, atol=1e-4)

    # the weights stage 1 ended with, for curriculum ablations: not the final ones
    main(["train", "export", str(out), "--stage", "stage1", "--merged", str(tmp_path / "merged-stage1")])
    stage1 = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged-stage1"))
    with torch.no_grad():
        assert not torch.allclose(stage1(ids).logits, merged(ids).logits, atol=1e-4)
    with pytest.raises(SystemExit):
        main(["train", "export", str(out), "--stage", "stage3"])
    assert "no finished stage 'stage3' (stages: stage1, stage2)" in " ".join(capsys.readouterr().err.split())

    _generate_through_backend(tmp_path / "merged")


def _generate_through_backend(model_dir: Path) -> None:
    """The exported model generates through the project's transformers backend."""
    from xinstruct.llm.base import GenerateRequest, SamplingParams
    from xinstruct.llm.factory import BackendConfig, make_backend

    request = GenerateRequest(messages=({"role": "user", "content": "Write function f1"},),
                              params=SamplingParams(max_tokens=8))
    backend = make_backend(BackendConfig(model=str(model_dir), backend="transformers"))
    try:
        results = dict(backend.generate([request]))
    finally:
        backend.close()
    completion = results[0].completions[0]
    assert completion.tokens > 0 and completion.text


class _Crash(Exception):
    pass


def test_resume_continues_from_last_checkpoint(tmp_path: Path, tiny_qwen: Path) -> None:
    from transformers import TrainerCallback

    from xinstruct.core.config import build_config
    from xinstruct.train.config import SftTrainConfig
    from xinstruct.train.sft import run_sft

    class CrashAtStep3(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise _Crash("simulated crash")

    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", f"answer {i}") for i in range(4)])
    cfg = build_config(SftTrainConfig, {
        "base": str(tiny_qwen), "max_steps": 4, "save_steps": 2, "batch_size": 4, "grad_accum": 1,
        "learning_rate": 1e-2, "max_length": 128, "lora_r": 8, "warmup_ratio": 0.0, "threads": 1,
        "curriculum": "mixed"})
    out = tmp_path / "run"
    with pytest.raises(_Crash):
        run_sft([data], out, cfg, log=lambda m: None, callbacks=[CrashAtStep3()])
    assert (out / "mixed" / "checkpoint-2").is_dir() and not (out / "adapter").exists()

    summary = run_sft([data], out, cfg, log=lambda m: None)
    (stage,) = summary["stages"]
    assert stage["resumed_from"].endswith("checkpoint-2")
    assert stage["steps"] == 4
    begins = [e for e in _events(out) if e["event"] == "begin"]
    assert [b["step"] for b in begins] == [0, 2]
    assert (out / "adapter" / "adapter_config.json").exists()


def test_dpo_runs_on_pairs(tmp_path: Path, tiny_qwen: Path) -> None:
    pairs = [
        {"prompt": [{"role": "user", "content": f"Add {i} and 1"}],
         "chosen": [{"role": "assistant", "content": f"{i + 1}"}],
         "rejected": [{"role": "assistant", "content": "I cannot do that"}], "source": "agents"}
        for i in range(4)
    ]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    out = tmp_path / "dpo"
    main(["train", "dpo", str(data), "--base", str(tiny_qwen), "--out", str(out), "--max-steps", "4",
          "--save-steps", "100", *FAST])
    losses = _losses(_events(out), "dpo")
    assert len(losses) == 4 and losses[-1] < losses[0], losses
    assert (out / "adapter" / "adapter_model.safetensors").exists()
    card = json.loads((out / "model_card.json").read_text())
    assert card["kind"] == "dpo" and card["stages"][0]["steps"] == 4


@pytest.mark.model
@pytest.mark.slow
def test_embedded_gguf_lora_export_gguf_and_generate(tmp_path: Path, embedded_model) -> None:
    pytest.importorskip("llama_cpp")
    from xinstruct.core.config import build_config
    from xinstruct.llm.base import GenerateRequest, SamplingParams
    from xinstruct.llm.llamacpp import LlamaCppBackend
    from xinstruct.models import resolve_model
    from xinstruct.train.config import SftTrainConfig
    from xinstruct.train.export import export_gguf, merge_run
    from xinstruct.train.sft import run_sft

    rows = [chat(f"Write a Python function add{i}(a, b) returning a + b + {i}.",
                 f"```python\ndef add{i}(a, b):\n    return a + b + {i}\n```") for i in range(4)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    cfg = build_config(SftTrainConfig, {
        "max_steps": 3, "batch_size": 4, "grad_accum": 1, "learning_rate": 1e-3, "max_length": 128,
        "lora_r": 8, "warmup_ratio": 0.0, "save_steps": 100})
    summary = run_sft([data], tmp_path / "run", cfg, log=lambda m: None)
    (stage,) = summary["stages"]
    assert stage["steps"] == 3 and stage["final_loss"] < stage["first_loss"]

    merged = merge_run(tmp_path / "run", tmp_path / "merged", dtype="bfloat16")
    gguf_path, route = export_gguf(merged, tmp_path / "model.gguf")
    assert gguf_path.stat().st_size > 100_000_000
    backend = LlamaCppBackend(resolve_model(str(gguf_path)), n_ctx=512)
    try:
        request = GenerateRequest(messages=({"role": "user", "content": "Write a Python function add5(a, b)."},),
                                  params=SamplingParams(max_tokens=24))
        (_, result), = list(backend.generate([request]))
    finally:
        backend.close()
    text = result.completions[0].text
    assert "def" in text or "add" in text, (route, text)


def test_gguf_base_train_export_gguf_and_llamacpp_generates(tmp_path: Path, tiny_gguf: Path) -> None:
    """GGUF base -> LoRA -> merged HF dir -> GGUF (built-in writer) -> llama.cpp backend."""
    pytest.importorskip("llama_cpp")
    import numpy as np
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    from xinstruct.llm.base import GenerateRequest, SamplingParams
    from xinstruct.llm.llamacpp import LlamaCppBackend
    from xinstruct.models import resolve_model

    data = write_jsonl(tmp_path / "d.jsonl", [chat(f"q{i}", f"answer {i}") for i in range(4)])
    out = tmp_path / "run"
    main(["train", "sft", str(data), "--base", str(tiny_gguf), "--out", str(out), "--max-steps", "2",
          "--save-steps", "100", *FAST])
    card = json.loads((out / "model_card.json").read_text())
    assert card["base_model"]["format"] == "gguf" and card["stages"][0]["steps"] == 2

    gguf_out = tmp_path / "exported.gguf"
    main(["train", "export", str(out), "--merged", str(tmp_path / "merged"), "--gguf", str(gguf_out),
          "--gguf-route", "builtin"])
    # the GGUF holds the merged (trained) weights, not the base's
    merged = load_file(str(tmp_path / "merged" / "model.safetensors"))
    tensors = {t.name: t for t in GGUFReader(str(gguf_out)).tensors}
    base_tensors = {t.name: t for t in GGUFReader(str(tiny_gguf)).tensors}
    q = merged["model.layers.0.self_attn.q_proj.weight"]
    exported_q = np.asarray(tensors["blk.0.attn_q.weight"].data, dtype=np.float32).reshape(q.shape)
    assert np.allclose(exported_q, q, atol=1e-2)
    assert not np.allclose(exported_q, np.asarray(base_tensors["blk.0.attn_q.weight"].data, dtype=np.float32)
                           .reshape(q.shape), atol=1e-6)

    backend = LlamaCppBackend(resolve_model(str(gguf_out)), n_ctx=256)
    try:
        request = GenerateRequest(messages=({"role": "user", "content": "q1"},), params=SamplingParams(max_tokens=4))
        ((_, result),) = list(backend.generate([request]))
    finally:
        backend.close()
    assert result.completions[0].tokens > 0

    # the before/after control: the base through the same route, re-quantized by llama.cpp to Q8_0
    from gguf import GGMLQuantizationType

    control = tmp_path / "base-q8.gguf"
    main(["train", "export", str(out), "--base-only", "--gguf", str(control), "--gguf-route", "builtin",
          "--quantize", "q8_0"])
    assert not (tmp_path / "base-q8.f16.gguf").exists()
    control_tensors = {t.name: t for t in GGUFReader(str(control)).tensors}
    assert control_tensors["blk.0.attn_q.weight"].tensor_type == GGMLQuantizationType.Q8_0
    assert (out / "base-export" / "model.safetensors").exists()
    base_q = load_file(str(out / "base-export" / "model.safetensors"))["model.layers.0.self_attn.q_proj.weight"]
    assert np.allclose(base_q, np.asarray(base_tensors["blk.0.attn_q.weight"].data, dtype=np.float32)
                       .reshape(q.shape), atol=1e-3)
    backend = LlamaCppBackend(resolve_model(str(control)), n_ctx=256)
    try:
        ((_, result),) = list(backend.generate([request]))
    finally:
        backend.close()
    assert result.completions[0].tokens > 0
