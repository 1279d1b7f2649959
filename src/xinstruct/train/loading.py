"""Loading a base model (GGUF or Hugging Face directory) and its tokenizer for training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xinstruct.core.errors import ModelError, XInstructError
from xinstruct.models.catalog import models_dir
from xinstruct.models.registry import ModelRef
from xinstruct.train import HF_HINT


def import_hf() -> tuple[Any, Any]:
    """``(torch, transformers)`` or an error naming the extra to install."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise XInstructError(f"training needs torch and transformers: {HF_HINT}") from exc
    return torch, transformers


def torch_dtype(name: str) -> Any:
    torch, _ = import_hf()
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(ref: ModelRef) -> Any:
    """The base model's tokenizer; a GGUF's is converted once (~20 s) and cached by the file's sha256."""
    _, transformers = import_hf()
    if ref.format == "hf":
        tok = transformers.AutoTokenizer.from_pretrained(str(ref.path))
    else:
        cache = models_dir() / "tokenizers" / ref.sha256[:16]
        if (cache / "tokenizer_config.json").exists():
            tok = transformers.AutoTokenizer.from_pretrained(str(cache))
        else:
            try:
                tok = transformers.AutoTokenizer.from_pretrained(str(ref.path.parent), gguf_file=ref.path.name)
            except (ValueError, OSError, EOFError) as exc:
                raise ModelError(f"{ref.path}: transformers cannot read this GGUF file (truncated or corrupt?): "
                                 f"{exc}; download it again") from exc
            tmp = cache.with_name(cache.name + ".tmp")
            tok.save_pretrained(str(tmp))
            if not cache.exists():
                tmp.rename(cache)
    if not tok.chat_template:
        raise ModelError(f"{ref.path}: the tokenizer has no chat template; train from an instruct model")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(ref: ModelRef, dtype: str = "float32", path: Path | None = None) -> Any:
    """The base model (a GGUF is dequantized to ``dtype``), or the model saved at ``path`` instead."""
    _, transformers = import_hf()
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype)}
    if path is not None:
        return transformers.AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    if ref.format == "gguf":
        return _load_gguf_dense(ref, kwargs)
    return transformers.AutoModelForCausalLM.from_pretrained(str(ref.path), **kwargs)


def apply_lora(model: Any, cfg: Any) -> Any:
    """Wrap ``model`` in a LoRA adapter per the config (PEFT)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise XInstructError(f"LoRA training needs peft: {HF_HINT}") from exc
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in cfg.lora_target_modules if t not in names]
    if missing:
        raise XInstructError(f"LoRA target module(s) {', '.join(missing)} not found in the model")
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _load_gguf_dense(ref: ModelRef, kwargs: dict[str, Any]) -> Any:
    """A GGUF base dequantized to a plain dense model that the Trainer accepts and ``save_pretrained`` writes.

    Newer transformers can keep GGUF blocks quantized (with the ``kernels`` package); training needs
    dense weights, so dequantizing is requested and the leftover quantizer marks are dropped.
    """
    _, transformers = import_hf()
    try:
        from transformers.utils.quantization_config import GgufConfig

        kwargs = {**kwargs, "quantization_config": GgufConfig(gguf_file=ref.path.name, dequantize=True)}
    except ImportError:
        pass  # older transformers always dequantize GGUF files
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(ref.path.parent), gguf_file=ref.path.name, **kwargs)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelError(f"{ref.path}: transformers cannot read this GGUF file (truncated or corrupt?): {exc}; "
                         "download it again") from exc
    for p in model.parameters():
        if not p.is_floating_point():
            raise ModelError(f"{ref.path}: transformers kept quantized weights; cannot train on them")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model
