"""Exports: merge a LoRA adapter into a standalone Hugging Face model; write that model as GGUF.

GGUF export has two routes, tried in this order:

1. llama.cpp's ``convert_hf_to_gguf.py`` when a copy is found (``--converter PATH``, or the copy
   ``scripts/fetch-llama-converter.sh`` unpacks from the llama-cpp-python sdist on PyPI into
   ``~/.cache/xinstruct/llama.cpp``). It handles any architecture llama.cpp knows.
2. A built-in writer (the ``gguf`` package) for a model fine-tuned from a GGUF base of a
   non-permuted architecture (Qwen2): the base file's metadata and tokenizer are copied and the
   merged weights written as F16 (norms and biases F32). No converter or network needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError, ModelError, XInstructError
from xinstruct.models.catalog import models_dir
from xinstruct.models.registry import ModelRef, resolve_model
from xinstruct.train.loading import load_model, load_tokenizer
from xinstruct.train.model_card import read_model_card

# Architectures whose HF and GGUF tensors differ only in name (llama-family q/k are permuted).
_PLAIN_ARCHS = {"qwen2": "QWEN2"}


def converter_candidates() -> list[Path]:
    """Where a llama.cpp converter may be (the setup script unpacks one into the models cache)."""
    return [models_dir().parent / "llama.cpp" / "convert_hf_to_gguf.py"]


def find_converter(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise XInstructError(f"{p}: converter script not found")
        return p
    return next((p for p in converter_candidates() if p.is_file()), None)


def base_of_run(run: Path) -> tuple[ModelRef, dict[str, Any]]:
    """The base model a training run started from, checked against the hash in its model card."""
    card = read_model_card(run)
    base = card["base_model"]
    ref = resolve_model(base["path"])
    if ref.sha256 != base["sha256"]:
        raise ModelError(f"{ref.path}: differs from the base this run was trained on (sha256 {base['sha256'][:12]}…)")
    return ref, card


def merge_run(run: str | Path, dest: str | Path, dtype: str = "float32", *, base_only: bool = False,
              stage: str | None = None) -> Path:
    """A standalone HF model directory: base + adapter merged (or the full fine-tune copied).

    ``base_only`` writes the run's base through the same loading path without the trained weights:
    the control that separates what training changed from what the export route changes.
    ``stage`` takes the weights a curriculum stage ended with (``RUN/<stage>/final``) instead of the
    run's final ones, e.g. stage 1 alone against both stages.
    """
    run, dest = Path(run), Path(dest)
    ref, card = base_of_run(run)
    artifact = run / card["artifact"]
    if stage is not None:
        names = [s["name"] for s in card.get("stages", [])]
        if stage not in names or not (run / stage / "final").is_dir():
            raise InputError(f"no finished stage {stage!r} (stages: {', '.join(names) or 'none'})", str(run))
        artifact = run / stage / "final"
    if base_only:
        model = load_model(ref, dtype)
    elif card["artifact"] == "model":
        model = load_model(ref, dtype, path=artifact)
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_model(ref, dtype), str(artifact)).merge_and_unload()
    return _save_merged(model, ref, dest)


def merge_base(base: str | Path | None, dest: str | Path, dtype: str = "float32") -> Path:
    """The untrained base written exactly as ``merge_run`` writes a trained model (the before/after
    control), without needing a training run to name it."""
    ref = resolve_model(str(base) if base is not None else None)
    return _save_merged(load_model(ref, dtype), ref, Path(dest))


def _save_merged(model: Any, ref: ModelRef, dest: Path) -> Path:
    """Model and the base's tokenizer into ``dest`` atomically; a GGUF base is noted for the built-in writer."""
    tokenizer = load_tokenizer(ref)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    if ref.format == "gguf":
        (tmp / "base_gguf.txt").write_text(f"{ref.path}\n{ref.sha256}\n", encoding="utf-8")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def export_gguf(merged: str | Path, dest: str | Path, *, converter: str | Path | None = None,
                template_gguf: str | Path | None = None, route: str = "auto") -> tuple[Path, str]:
    """Write ``merged`` (a HF dir) as an F16 GGUF; returns the path and the route used.

    ``route``: ``auto`` (converter when found, else built-in), ``converter`` or ``builtin``.
    """
    merged, dest = Path(merged), Path(dest)
    script = find_converter(converter) if route != "builtin" else None
    if route == "converter" and script is None:
        raise XInstructError("no llama.cpp converter found: run scripts/fetch-llama-converter.sh or pass --converter")
    if script is not None:
        cmd = [sys.executable, str(script), str(merged), "--outfile", str(dest), "--outtype", "f16"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise XInstructError(f"{script} failed (exit {proc.returncode}):\n{tail}")
        return dest, f"llama.cpp converter {script}"
    template = Path(template_gguf) if template_gguf else _recorded_base(merged)
    if template is None:
        raise XInstructError(
            "no GGUF converter found and the model was not trained from a GGUF base; run "
            "scripts/fetch-llama-converter.sh (fetches llama.cpp's converter from PyPI) or pass --converter"
        )
    write_gguf_like(merged, template, dest)
    return dest, f"built-in writer (metadata and tokenizer from {template.name})"


# llama.cpp file types ``--quantize`` accepts (the common ones; names as llama-quantize spells them)
QUANT_TYPES = ("f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0")


def quantize_gguf(src: str | Path, dest: str | Path, qtype: str, threads: int | None = None) -> Path:
    """Re-quantize an F16 GGUF with llama.cpp's own quantizer (what ``llama-quantize`` runs)."""
    if qtype not in QUANT_TYPES:
        raise XInstructError(f"unknown GGUF type {qtype!r}; choose one of {', '.join(QUANT_TYPES)}")
    try:
        import llama_cpp
    except ImportError as e:
        raise XInstructError("quantizing needs llama-cpp-python: pip install 'xinstruct[llamacpp]'") from e
    src, dest = Path(src), Path(dest)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype.upper()}")
    params.nthread = threads or 0
    tmp = dest.with_name(f".{dest.name}.tmp")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
    if rc != 0:
        tmp.unlink(missing_ok=True)
        raise XInstructError(f"{src}: llama.cpp could not quantize to {qtype} (code {rc})")
    tmp.replace(dest)
    return dest


def export_quantized(merged: str | Path, dest: str | Path, quantize: str = "f16", *,
                     converter: str | Path | None = None, route: str = "auto") -> tuple[Path, str]:
    """``merged`` as a GGUF of type ``quantize``: F16 first, then llama.cpp's quantizer (F16 kept only
    when it is the type asked for). Returns the file and the route used."""
    dest = Path(dest)
    f16 = dest if quantize == "f16" else dest.with_name(f"{dest.stem}.f16.gguf")
    path, used = export_gguf(merged, f16, converter=converter, route=route)
    if quantize != "f16":
        path = quantize_gguf(f16, dest, quantize)
        f16.unlink()
        used += f", quantized to {quantize}"
    return path, used


def export_run(run: str | Path, merged_dir: str | Path | None = None, gguf_file: str | Path | None = None, *,
               quantize: str = "f16", converter: str | Path | None = None, route: str = "auto",
               dtype: str = "float32", base_only: bool = False, stage: str | None = None,
               ) -> tuple[Path, tuple[Path, str] | None]:
    """The ``train export`` step: merge a run's weights (or only its base, or one curriculum stage's)
    into a Hugging Face directory, by default beside the run, and optionally write a GGUF of it.
    Returns the merged directory and, with ``gguf_file``, the GGUF and the route that wrote it."""
    if base_only and stage:
        raise InputError("a base-only export has no trained weights; it does not go with a stage")
    run = Path(run)
    default_dir = run / ("base-export" if base_only else f"merged-{stage}" if stage else "merged")
    merged = merge_run(run, Path(merged_dir) if merged_dir else default_dir, dtype=dtype, base_only=base_only,
                       stage=stage)
    gguf = export_quantized(merged, gguf_file, quantize, converter=converter, route=route) if gguf_file else None
    return merged, gguf


def _recorded_base(merged: Path) -> Path | None:
    note = merged / "base_gguf.txt"
    if not note.exists():
        return None
    path = Path(note.read_text(encoding="utf-8").splitlines()[0])
    return path if path.is_file() else None


_HPARAMS = {  # GGUF key suffix -> HF config field (the merged model's config is the truth)
    "context_length": "max_position_embeddings",
    "embedding_length": "hidden_size",
    "block_count": "num_hidden_layers",
    "feed_forward_length": "intermediate_size",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
}


def write_gguf_like(merged: Path, template: Path, dest: Path) -> None:
    """Write the merged HF weights as a GGUF with the template's tokenizer and metadata.

    Hyperparameters come from the merged model's ``config.json``; everything else (tokenizer,
    chat template, rope settings) from the template, which must share the architecture and vocabulary.
    """
    import gguf
    import numpy as np
    from safetensors.torch import load_file  # numpy cannot read bfloat16 tensors

    reader = gguf.GGUFReader(str(template))
    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    if arch not in _PLAIN_ARCHS:
        raise XInstructError(
            f"the built-in GGUF writer handles {', '.join(_PLAIN_ARCHS)}, not {arch}; "
            "run scripts/fetch-llama-converter.sh to use llama.cpp's converter"
        )
    config = json.loads((merged / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != arch:
        raise XInstructError(f"{merged}: model_type {config.get('model_type')!r} differs from the template's {arch}")
    n_vocab = len(reader.fields[gguf.Keys.Tokenizer.LIST].data)
    if int(config["vocab_size"]) != n_vocab:
        raise XInstructError(f"{merged}: vocab_size {config['vocab_size']} differs from the template tokenizer's {n_vocab}")
    n_blocks = int(config["num_hidden_layers"])
    name_map = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, _PLAIN_ARCHS[arch]), n_blocks)
    state: dict[str, np.ndarray] = {}
    for f in sorted(merged.glob("*.safetensors")):
        state.update({k: v.float().numpy() for k, v in load_file(str(f)).items()})
    if not state:
        raise XInstructError(f"{merged}: no .safetensors weights to export")

    hparams = {f"{arch}.{k}": config[v] for k, v in _HPARAMS.items() if config.get(v) is not None}
    tmp = dest.with_name(f".{dest.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.General.FILE_TYPE or field.name in hparams:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    for key, value in hparams.items():
        vtype = gguf.GGUFValueType.FLOAT32 if isinstance(value, float) else gguf.GGUFValueType.UINT32
        writer.add_key_value(key, value, vtype)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for hf_name in sorted(state):
        tensor = state[hf_name]
        name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise XInstructError(f"cannot map tensor {hf_name} to a {arch} GGUF tensor")
        # llama.cpp multiplies F16 matrices; 1-D tensors (norms, biases) stay F32 as the converter writes them
        writer.add_tensor(name, tensor.astype(np.float16 if tensor.ndim == 2 else np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(dest)
