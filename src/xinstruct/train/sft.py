"""Supervised fine-tuning with TRL's SFTTrainer: LoRA by default, assistant-only loss, two-stage curriculum.

Rows are tokenized here (``data.encode_rows``) with labels already masked, so the loss mask does not
depend on the chat template carrying ``{% generation %}`` markers. Each stage trains in its own
directory under ``--out`` with checkpoints; a stage that finished leaves ``final/`` and is not
redone, and a stage that crashed resumes from its last checkpoint. Stage 2 starts from stage 1's
weights (the same adapter keeps training).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xinstruct.core.config import config_to_dict
from xinstruct.core.errors import ConfigError, InputError
from xinstruct.core.runs import atomic_write_json
from xinstruct.models.registry import ModelRef, resolve_model
from xinstruct.train import require_hf
from xinstruct.train.config import SftTrainConfig
from xinstruct.train.data import (
    Conversation,
    drop_contaminated,
    encode_rows,
    load_sft,
    split_stages,
)
from xinstruct.train.loading import apply_lora, load_model, load_tokenizer
from xinstruct.train.model_card import write_model_card
from xinstruct.train.training_run import (
    STAGE_DONE,
    Log,
    copy_artifact,
    is_main_process,
    last_checkpoint,
    open_training_run,
    progress_callback,
    save_trained,
    trainer_args,
)

MIN_TRL_PACKING = (1, 7)
"""TRL versions before this drop every column but ``input_ids`` (and their own mask columns) when
packing, i.e. our ``labels``: the loss would cover system and user tokens."""


def check_packing(packing: bool) -> None:
    """Refuse packing where the installed TRL would silently train on prompt tokens."""
    if not packing:
        return
    from importlib.metadata import version

    installed = version("trl")
    parts = tuple(int(x) for x in re.findall(r"\d+", installed)[:2])
    if parts < MIN_TRL_PACKING:
        raise ConfigError(
            f"packing with trl {installed} drops the assistant-only labels (the loss would cover the prompts); "
            f"install trl>={'.'.join(map(str, MIN_TRL_PACKING))} or set packing: false"
        )


def _restore_stage(model: Any, cfg: Any, ref: ModelRef, final_dir: Path) -> Any:
    """Weights of a finished stage, to continue from without retraining it."""
    if cfg.method == "lora":
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(model, load_peft_weights(str(final_dir)))
        return model
    return load_model(ref, cfg.dtype, path=final_dir)


def run_sft(
    data: Sequence[str | Path],
    out: str | Path,
    cfg: SftTrainConfig,
    *,
    overwrite: bool = False,
    log: Log = print,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train per the curriculum and write adapter/model, model card and summary under ``out``."""
    require_hf()  # checked once: the TRL imports in sft_trainer cannot fail after it
    check_packing(cfg.packing)
    out = Path(out)
    rows, decontamination = drop_contaminated(load_sft(data), cfg.decontaminate, log, path=str(data[0]))
    stages = split_stages(rows, cfg.curriculum)
    ref = resolve_model(cfg.base)
    run, data_ids = open_training_run(
        out, "train-sft", cfg, data, rows, ref, overwrite=overwrite, outputs=("stage1", "stage2", "mixed", "all")
    )
    log(f"base model: {ref.name} ({ref.format}); {len(rows)} rows; stages: "
        + ", ".join(f"{n} ({len(part)} rows)" for n, part in stages))

    tokenizer = load_tokenizer(ref)
    started = time.perf_counter()
    model = load_model(ref, cfg.dtype)
    log(f"loaded base model in {time.perf_counter() - started:.1f} s")
    if cfg.method == "lora":
        model = apply_lora(model, cfg)

    stage_reports: list[dict[str, Any]] = []
    for name, part in stages:
        epochs = {"stage1": cfg.stage1_epochs, "stage2": cfg.stage2_epochs}.get(name, cfg.epochs)
        report = _train_stage(name, part, epochs, model, tokenizer, cfg, ref, out, log, callbacks)
        model = report.pop("model")
        stage_reports.append(report)

    artifact = "adapter" if cfg.method == "lora" else "model"
    copy_artifact(out / stages[-1][0] / "final", out / artifact)
    summary = {"artifact": str(out / artifact), "stages": stage_reports, "base": ref.identity(), "data": data_ids,
               "decontamination": decontamination}
    if is_main_process():
        write_model_card(out, kind="sft", base=ref.identity(), data=data_ids, config=config_to_dict(cfg),
                         stages=stage_reports, artifact=artifact, decontamination=decontamination)
        run.write_summary(summary)
    log(f"saved {artifact} to {out / artifact}")
    return summary


def sft_trainer(model: Any, tokenizer: Any, encoded: list[dict[str, list[int]]], cfg: SftTrainConfig,
                stage_dir: Path, epochs: float, callbacks: Sequence[Any] = ()) -> Any:
    """TRL's SFTTrainer on rows tokenized with their labels (what a stage trains with; the tests
    inspect the batches its collator makes)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    check_packing(cfg.packing)
    args = SFTConfig(
        **trainer_args(cfg, stage_dir, epochs),
        max_length=cfg.max_length,
        packing=cfg.packing,
        dataset_num_proc=None,
    )
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(encoded), processing_class=tokenizer,
                      callbacks=list(callbacks))


def _train_stage(
    name: str,
    part: list[Conversation],
    epochs: float,
    model: Any,
    tokenizer: Any,
    cfg: SftTrainConfig,
    ref: ModelRef,
    out: Path,
    log: Log,
    callbacks: Sequence[Any],
) -> dict[str, Any]:
    stage_dir = out / name
    final_dir = stage_dir / "final"
    if (final_dir / STAGE_DONE).exists():
        report = json.loads((final_dir / STAGE_DONE).read_text(encoding="utf-8"))
        log(f"{name}: already trained ({report.get('steps')} steps); continuing from its weights")
        return {**report, "model": _restore_stage(model, cfg, ref, final_dir)}
    encoded, stats = encode_rows(tokenizer, part, cfg.max_length, cfg.overlong)
    if stats.dropped_overlong:
        log(f"{name}: dropped {stats.dropped_overlong} row(s) longer than {cfg.max_length} tokens "
            f"(e.g. {stats.dropped_rows[0]}); --overlong truncate keeps them")
    if stats.truncated:
        log(f"{name}: truncated {stats.truncated} row(s) to {cfg.max_length} tokens")
    if not encoded:
        raise InputError(f"{name}: no rows left after dropping over-length rows (max_length={cfg.max_length})")
    first = f"{part[0].path}:row {part[0].row}"
    trainer = sft_trainer(model, tokenizer, encoded, cfg, stage_dir, epochs,
                          [progress_callback(out / "progress.jsonl", name, first, len(encoded)), *callbacks])
    resume = last_checkpoint(stage_dir) if cfg.resume else None
    if resume:
        log(f"{name}: resuming from {resume}")
    log(f"{name}: {len(encoded)} rows, {stats.trained_tokens} assistant tokens of {stats.tokens}, {epochs} epoch(s)")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    report = {
        "name": name,
        "rows": len(encoded),
        "epochs": epochs,
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": float(result.training_loss),
        "seconds": round(seconds, 2),
        "resumed_from": resume,
        "encode": stats.to_dict(),
    }
    save_trained(trainer, tokenizer, final_dir)
    if is_main_process():
        atomic_write_json(final_dir / STAGE_DONE, report)
    log(f"{name}: {report['steps']} steps, loss {report['first_loss']} -> {report['final_loss']} in {seconds:.1f} s")
    return {**report, "model": trainer.model}
