"""Issue 16's two training defects, checked on what the trainer receives.

- the warm-up: ``warmup_ratio`` was passed as ``warmup_steps``; transformers 4 reads that as a step
  count (0.03 -> no warm-up, one step at learning rate 0), transformers 5 as a fraction.
- packing: TRL before 1.7 drops our ``labels`` when packing, so the loss would cover the prompts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from train_helpers import chat, write_jsonl

from xinstruct.core.errors import ConfigError
from xinstruct.train.config import SftTrainConfig

pytestmark = pytest.mark.hf
pytest.importorskip("torch")
pytest.importorskip("trl")


def test_warmup_ratio_reaches_the_learning_rate_schedule(tmp_path: Path, tiny_qwen: Path) -> None:
    from xinstruct.train.sft import run_sft

    rows = [chat(f"Task {i}", f"print({i})") for i in range(4)]
    cfg = SftTrainConfig(base=str(tiny_qwen), max_steps=4, warmup_ratio=0.5, learning_rate=1e-2, lr_scheduler="linear",
                         batch_size=4, grad_accum=1, lora_r=4, max_length=64, threads=1, save_steps=100)
    run_sft([write_jsonl(tmp_path / "d.jsonl", rows)], tmp_path / "run", cfg, log=lambda m: None)
    events = [json.loads(x) for x in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()]
    lrs = [e["lr"] for e in events if e["event"] == "log"]
    # the rate each optimizer step used: 2 of 4 steps warm up linearly from 0, then linear decay
    # (with the ratio read as a step count, transformers 4: [0, 1e-2, ...], no warm-up after step 1)
    assert lrs == pytest.approx([0.0, 5e-3, 1e-2, 5e-3], abs=1e-9)


def test_warmup_goes_to_the_argument_the_installed_transformers_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers
    from trl import SFTConfig

    from xinstruct.train.training_run import trainer_args, warmup_args

    args = SFTConfig(**trainer_args(SftTrainConfig(warmup_ratio=0.03), Path("unused"), 1.0))
    assert args.get_warmup_steps(100) == 3 and args.get_warmup_steps(1000) == 30

    @dataclass
    class TrainingArguments4:  # transformers 4.x: warmup_steps is a step count, the ratio has its own field
        warmup_steps: int = 0
        warmup_ratio: float = 0.0

    monkeypatch.setattr(transformers, "TrainingArguments", TrainingArguments4)
    assert warmup_args(0.03) == {"warmup_ratio": 0.03}


def test_packed_batches_keep_assistant_only_labels(tmp_path: Path, tiny_qwen: Path, qwen_tokenizer) -> None:
    from xinstruct.models.registry import resolve_model
    from xinstruct.train.data import encode_rows, load_sft
    from xinstruct.train.loading import load_model
    from xinstruct.train.sft import sft_trainer

    rows = [chat(f"Question number {i} about lists?", f"Answer {i}: use sorted(x).") for i in range(6)]
    convs = load_sft([write_jsonl(tmp_path / "d.jsonl", rows)])
    encoded, stats = encode_rows(qwen_tokenizer, convs, 512, "drop")
    cfg = SftTrainConfig(packing=True, max_length=512, batch_size=8, grad_accum=1, threads=1)
    model = load_model(resolve_model(str(tiny_qwen)), "float32")
    trainer = sft_trainer(model, qwen_tokenizer, encoded, cfg, tmp_path / "stage", 1.0)
    batch = next(iter(trainer.get_train_dataloader()))
    ids, labels = batch["input_ids"].flatten().tolist(), batch["labels"].flatten().tolist()
    trained = [(i, lab) for i, lab in zip(ids, labels, strict=True) if lab != -100]
    assert len(ids) >= stats.tokens  # every row is in this one packed batch
    assert all(i == lab for i, lab in trained)
    assert len(trained) == stats.trained_tokens < stats.tokens  # assistant tokens only, not the prompts
    expected = sorted(t for e in encoded for t in e["labels"] if t != -100)
    assert sorted(lab for _, lab in trained) == expected


def test_packing_refused_on_trl_that_drops_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from xinstruct.train.sft import run_sft

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.6.2" if name == "trl" else real(name))
    data = write_jsonl(tmp_path / "d.jsonl", [chat("q", "a")])
    with pytest.raises(ConfigError, match=r"trl 1\.6\.2 drops the assistant-only labels"):
        run_sft([data], tmp_path / "run", SftTrainConfig(packing=True), log=lambda m: None)
    from xinstruct.train.sft import check_packing

    check_packing(False)  # without packing any TRL is fine
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.7.0" if name == "trl" else real(name))
    check_packing(True)
