"""Training configs: one dataclass per command; fields give defaults, ``--help``, YAML keys and checks.

Defaults are for a CPU (fp32, LoRA, small batches); ``configs/train/*.yaml`` hold GPU presets.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class _CommonTrainConfig:
    base: str | None = option(
        None, "base model: registered name, GGUF file or Hugging Face directory (default: the embedded model)"
    )
    method: str = option("lora", "'lora' trains a low-rank adapter; 'full' updates every weight", choices=("lora", "full"))
    lora_r: int = option(16, "LoRA rank")
    lora_alpha: int = option(32, "LoRA alpha (scale = alpha / r)")
    lora_dropout: float = option(0.05, "LoRA dropout")
    lora_target_modules: list[str] = option(
        LORA_TARGETS, "modules that get LoRA adapters (comma-separated)"
    )
    max_steps: int = option(-1, "stop each stage after this many optimizer steps (-1: run the epochs)")
    learning_rate: float = option(2e-4, "peak learning rate")
    lr_scheduler: str = option("cosine", "learning-rate schedule", choices=("cosine", "linear", "constant"))
    warmup_ratio: float = option(0.03, "fraction of steps spent warming up")
    weight_decay: float = option(0.0, "AdamW weight decay")
    batch_size: int = option(2, "sequences per device per step")
    grad_accum: int = option(8, "micro-batches accumulated per optimizer step")
    max_length: int = option(1024, "token budget per sequence")
    dtype: str = option(
        "float32", "weights/compute dtype: 'bfloat16' on recent GPUs; on a CPU it runs under bf16 autocast "
        "(whether that is faster depends on the CPU: benchmarks/train_throughput.py --dtype float32,bfloat16)",
        choices=("float32", "bfloat16", "float16"),
    )
    gradient_checkpointing: bool = option(False, "trade compute for memory (large models / long sequences)")
    seed: int = option(42, "seed for data order, dropout and LoRA init")
    save_steps: int = option(50, "write a checkpoint every N optimizer steps", affects_output=False)
    save_total_limit: int = option(2, "checkpoints kept per stage", affects_output=False)
    logging_steps: int = option(1, "log the loss every N optimizer steps", affects_output=False)
    threads: int | None = option(
        None, "CPU threads for torch (default: torch's choice; 1 helps on a shared, busy machine)", affects_output=False
    )
    resume: bool = option(True, "continue from the last checkpoint in --out after a crash", affects_output=False)
    decontaminate: list[str] = option(
        [], "drop rows sharing a 13-word n-gram with these benchmarks: names (humaneval+,mbpp+) or n-gram "
        "files from 'xinstruct eval decontam-export'"
    )

    def _validate_common(self) -> None:
        if self.method == "lora" and (self.lora_r < 1 or self.lora_alpha < 1 or not self.lora_target_modules):
            raise ConfigError("LoRA needs lora_r >= 1, lora_alpha >= 1 and at least one target module")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.learning_rate <= 0 or self.batch_size < 1 or self.grad_accum < 1:
            raise ConfigError("learning_rate must be > 0, batch_size and grad_accum >= 1")
        if self.max_length < 16:
            raise ConfigError(f"max_length must be >= 16 tokens, got {self.max_length}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError("max_steps must be -1 (use epochs) or a positive number")
        if self.save_steps < 1 or self.logging_steps < 1:
            raise ConfigError("save_steps and logging_steps must be >= 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class SftTrainConfig(_CommonTrainConfig):
    """Supervised fine-tuning on ``messages`` rows (loss on assistant tokens only)."""

    curriculum: str = option(
        "two-stage",
        "two-stage: train on stage-1 rows (generated) then continue on stage-2 rows (original), as in "
        "Inverse-Instruct; mixed: one pass over all rows shuffled together",
        choices=("two-stage", "mixed"),
    )
    stage1_epochs: float = option(1.0, "epochs over stage-1 (generated) rows in the two-stage curriculum")
    stage2_epochs: float = option(2.0, "epochs over stage-2 (original) rows in the two-stage curriculum")
    epochs: float = option(1.0, "epochs for the mixed curriculum (or when no row has a stage)")
    overlong: str = option(
        "drop", "rows longer than max_length: drop them (counted) or truncate them", choices=("drop", "truncate")
    )
    packing: bool = option(False, "pack several rows into one max_length sequence (faster on GPUs)")

    def validate(self) -> None:
        self._validate_common()
        if min(self.stage1_epochs, self.stage2_epochs, self.epochs) <= 0:
            raise ConfigError("epochs must be > 0")


@dataclass
class DpoTrainConfig(_CommonTrainConfig):
    """Direct preference optimisation on (prompt, chosen, rejected) pairs."""

    epochs: float = option(1.0, "epochs over the pairs")
    beta: float = option(0.1, "DPO beta: how far the policy may move from the reference")
    loss_type: str = option("sigmoid", "DPO loss variant", choices=("sigmoid", "ipo", "hinge"))
    learning_rate: float = option(5e-5, "peak learning rate (DPO wants a smaller one than SFT)")

    def validate(self) -> None:
        self._validate_common()
        if self.beta <= 0 or self.epochs <= 0:
            raise ConfigError("beta and epochs must be > 0")
