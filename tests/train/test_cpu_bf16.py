"""bfloat16 on a CPU: TrainingArguments that transformers accepts without a GPU, adapters kept in
fp32 over bf16 base weights, and a real training run whose loss is finite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from train_helpers import chat, write_jsonl

from xinstruct.train.config import SftTrainConfig

pytestmark = pytest.mark.hf
torch = pytest.importorskip("torch")
pytest.importorskip("trl")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU path")
def test_bf16_on_a_cpu_asks_for_autocast_on_the_cpu() -> None:
    from trl import SFTConfig

    from xinstruct.train.training_run import trainer_args

    args = SFTConfig(**trainer_args(SftTrainConfig(dtype="bfloat16"), Path("unused"), 1.0))  # raised before
    assert args.bf16 and args.use_cpu
    fp32 = trainer_args(SftTrainConfig(), Path("unused"), 1.0)
    assert not fp32["bf16"] and "use_cpu" not in fp32  # float32 runs leave the device choice to transformers


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU path")
def test_a_bf16_lora_run_trains_fp32_adapters_over_bf16_weights(tmp_path: Path, tiny_qwen: Path) -> None:
    from transformers import TrainerCallback

    from xinstruct.train.sft import run_sft

    seen: dict[str, set] = {"trainable": set(), "frozen": set()}

    class Dtypes(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            for p in model.parameters():
                seen["trainable" if p.requires_grad else "frozen"].add(p.dtype)

    rows = [chat(f"Task {i}: add {i}", f"def f(x):\n    return x + {i}") for i in range(4)]
    cfg = SftTrainConfig(base=str(tiny_qwen), dtype="bfloat16", max_steps=2, batch_size=2, grad_accum=1, lora_r=4,
                         max_length=64, threads=1, save_steps=100, learning_rate=1e-3)
    run_sft([write_jsonl(tmp_path / "d.jsonl", rows)], tmp_path / "run", cfg, log=lambda m: None, callbacks=[Dtypes()])
    assert seen == {"trainable": {torch.float32}, "frozen": {torch.bfloat16}}
    events = [json.loads(x) for x in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in events if e["event"] == "log"]
    assert len(losses) == 2 and all(math.isfinite(x) and x > 0 for x in losses)
