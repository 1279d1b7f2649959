"""Training-run infrastructure shared by SFT and DPO: the run directory and the data's identity,
TrainingArguments, the loss log, and saving / resuming that stays correct under ``accelerate launch``
(only the main process writes run files).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.runs import RunDir, input_identity
from xinstruct.models.registry import ModelRef
from xinstruct.train.data import file_digest

Log = Callable[[str], None]
STAGE_DONE = "stage.json"


def weights_checksum(model: Any) -> float | None:
    """Sum of |trainable weights|: lets the log show that a stage starts where the previous one ended."""
    if model is None:
        return None
    return float(sum(p.detach().abs().sum().item() for p in model.parameters() if p.requires_grad))


def progress_callback(progress_path: Path, stage: str, first_row: str, rows: int) -> Any:
    """A TrainerCallback appending each logged loss (tagged with the stage) to ``progress.jsonl``."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):  # type: ignore[misc]
        def _write(self, row: dict[str, Any]) -> None:
            if not is_main_process():
                return
            with open(progress_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._write({"event": "begin", "stage": stage, "step": state.global_step, "rows": rows,
                         "first_row": first_row, "weights": weights_checksum(kwargs.get("model"))})

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                self._write({"event": "log", "stage": stage, "step": state.global_step, "loss": float(logs["loss"]),
                             "lr": logs.get("learning_rate"), "epoch": state.epoch})

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._write({"event": "end", "stage": stage, "step": state.global_step,
                         "weights": weights_checksum(kwargs.get("model"))})

    return _Progress()


def warmup_args(ratio: float) -> dict[str, float]:
    """The warm-up as a fraction of each stage's steps, in the form the installed transformers reads.

    transformers 5 has only ``warmup_steps`` and reads a value below 1 as that fraction; transformers 4
    has ``warmup_ratio`` and reads ``warmup_steps`` as a step count, so a ratio passed there gave no
    warm-up at all (and an optimizer step at learning rate 0).
    """
    from dataclasses import fields

    from transformers import TrainingArguments

    if "warmup_ratio" in {f.name for f in fields(TrainingArguments)}:
        return {"warmup_ratio": ratio}
    return {"warmup_steps": ratio}


def trainer_args(cfg: Any, output_dir: Path, epochs: float) -> dict[str, Any]:
    """TrainingArguments shared by SFT and DPO."""
    import torch

    on_gpu = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    # transformers refuses bf16 without a GPU unless told that the CPU is meant
    cpu_bf16 = cfg.dtype == "bfloat16" and not on_gpu and not (mps is not None and mps.is_available())
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "num_train_epochs": epochs,
        "max_steps": cfg.max_steps,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler,
        **warmup_args(cfg.warmup_ratio),
        "weight_decay": cfg.weight_decay,
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        # bfloat16 on a CPU as on a GPU: frozen weights in bf16, LoRA adapters in fp32 (peft's default),
        # matmuls under autocast (oneDNN uses AMX / AVX512-BF16 where the CPU has them)
        "bf16": cfg.dtype == "bfloat16",
        **({"use_cpu": True} if cpu_bf16 else {}),
        "fp16": cfg.dtype == "float16" and on_gpu,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }


def is_main_process() -> bool:
    """Only one process writes run files when launched on several GPUs with ``accelerate launch``."""
    from accelerate import PartialState

    return bool(PartialState().is_main_process)


def wait_for_everyone() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def save_trained(trainer: Any, tokenizer: Any, dest: Path) -> None:
    """Save through the trainer (it gathers sharded ZeRO-3/FSDP weights), tokenizer beside them."""
    if is_main_process() and dest.exists():
        shutil.rmtree(dest)
    wait_for_everyone()
    trainer.save_model(str(dest))
    if is_main_process():
        tokenizer.save_pretrained(str(dest))
    wait_for_everyone()


def copy_artifact(src: Path, dest: Path) -> None:
    if not is_main_process():
        return
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(STAGE_DONE))
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)


def last_checkpoint(stage_dir: Path) -> str | None:
    if not stage_dir.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(stage_dir))


def data_identity(paths: Sequence[str | Path], rows: Sequence[Any]) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.path] = counts.get(r.path, 0) + 1
    return [{"path": str(p), "sha256": file_digest(Path(p)), "rows": counts.get(str(p), 0)} for p in paths]


def open_training_run(
    out: Path, kind: str, cfg: Any, paths: Sequence[str | Path], rows: Sequence[Any], ref: ModelRef,
    *, overwrite: bool, outputs: Sequence[str],
) -> tuple[RunDir, list[dict[str, Any]]]:
    """Open or resume the run directory (same config and data, or refuse); a fresh start removes
    earlier ``outputs``. Returns the run and the data's identity for the model card."""
    data_ids = data_identity(paths, rows)
    run = RunDir(out, kind)
    fingerprint = {**output_fingerprint(cfg), "data": [d["sha256"] for d in data_ids]}
    if is_main_process():
        resumed = run.open(
            config=config_to_dict(cfg), fingerprint=fingerprint, model=ref.identity(), prompts={}, seed=cfg.seed,
            input=input_identity(*paths), overwrite=overwrite,
        )
        if not resumed or overwrite or not cfg.resume:
            for name in (*outputs, "adapter", "model"):
                if (out / name).exists():
                    shutil.rmtree(out / name)
            (out / "progress.jsonl").unlink(missing_ok=True)
    wait_for_everyone()
    return run, data_ids
