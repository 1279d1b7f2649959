"""DPO with TRL's DPOTrainer on (prompt, chosen, rejected) pairs, e.g. those the agents stage writes.

With LoRA the reference model is the base with the adapter switched off, so only one copy of the
weights is in memory. Typical use: DPO on top of an SFT adapter's merged model (``train export``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xinstruct.core.config import config_to_dict
from xinstruct.core.runs import atomic_write_json
from xinstruct.models.registry import resolve_model
from xinstruct.train import require_hf
from xinstruct.train.config import DpoTrainConfig
from xinstruct.train.data import drop_contaminated, load_pairs
from xinstruct.train.loading import apply_lora, load_model, load_tokenizer
from xinstruct.train.model_card import write_model_card
from xinstruct.train.training_run import (
    STAGE_DONE,
    Log,
    is_main_process,
    last_checkpoint,
    open_training_run,
    progress_callback,
    save_trained,
    trainer_args,
)


def run_dpo(
    pairs: Sequence[str | Path],
    out: str | Path,
    cfg: DpoTrainConfig,
    *,
    overwrite: bool = False,
    log: Log = print,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train on preference pairs; writes adapter/model, model card and summary under ``out``."""
    require_hf()  # checked once: the imports below cannot fail after it
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    out = Path(out)
    rows, decontamination = drop_contaminated(load_pairs(pairs), cfg.decontaminate, log, path=str(pairs[0]))
    ref = resolve_model(cfg.base)
    run, data_ids = open_training_run(out, "train-dpo", cfg, pairs, rows, ref, overwrite=overwrite, outputs=("dpo",))
    log(f"base model: {ref.name} ({ref.format}); {len(rows)} preference pairs")

    tokenizer = load_tokenizer(ref)
    model = load_model(ref, cfg.dtype)
    if cfg.method == "lora":
        model = apply_lora(model, cfg)
    dataset = Dataset.from_list([{"prompt": r.prompt, "chosen": r.chosen, "rejected": r.rejected} for r in rows])
    stage_dir = out / "dpo"
    args = DPOConfig(
        **trainer_args(cfg, stage_dir, cfg.epochs),
        beta=cfg.beta,
        loss_type=[cfg.loss_type],
        max_length=cfg.max_length,
        dataset_num_proc=None,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=None if cfg.method == "lora" else load_model(ref, cfg.dtype),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[progress_callback(out / "progress.jsonl", "dpo", f"{rows[0].path}:row {rows[0].row}", len(rows)),
                   *callbacks],
    )
    resume = last_checkpoint(stage_dir) if cfg.resume else None
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    margins = [h[k] for h in history for k in ("rewards/margins",) if k in h]
    report = {
        "name": "dpo",
        "rows": len(rows),
        "epochs": cfg.epochs,
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": float(result.training_loss),
        "final_reward_margin": margins[-1] if margins else None,
        "seconds": round(time.perf_counter() - started, 2),
        "resumed_from": resume,
    }
    artifact = "adapter" if cfg.method == "lora" else "model"
    save_trained(trainer, tokenizer, out / artifact)
    summary = {"artifact": str(out / artifact), "stages": [report], "base": ref.identity(), "data": data_ids,
               "decontamination": decontamination}
    if is_main_process():
        atomic_write_json(out / artifact / STAGE_DONE, report)
        write_model_card(out, kind="dpo", base=ref.identity(), data=data_ids, config=config_to_dict(cfg),
                         stages=[report], artifact=artifact, decontamination=decontamination)
        run.write_summary(summary)
    log(f"dpo: {report['steps']} steps, loss {report['first_loss']} -> {report['final_loss']}; saved {out / artifact}")
    return summary
