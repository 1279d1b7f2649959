"""``xinstruct train``: sft, dpo and export commands; options come from the config dataclasses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from xinstruct.core.config import config_options, resolve_configs
from xinstruct.train.config import DpoTrainConfig, SftTrainConfig
from xinstruct.train.export import QUANT_TYPES

console = Console(stderr=True, highlight=False)


def _log(message: str) -> None:
    console.print(message, markup=False)


@click.group("train")
def train() -> None:
    """Fine-tune on instruction data (SFT, two-stage curriculum) or preference pairs (DPO); export the result.

    CPU defaults (LoRA, fp32). GPU presets: configs/train/*.yaml; multi-GPU: `accelerate launch`
    with configs/accelerate/*.yaml (see docs/training.md)."""


@train.command("sft")
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="run directory (checkpoints, adapter, model card)")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="YAML file of options")
@click.option("--overwrite", is_flag=True, help="start afresh when --out holds a run made with other settings")
@config_options(SftTrainConfig)
def sft_command(data: tuple[str, ...], out: str, config_file: str | None, overwrite: bool, **values: Any) -> None:
    """Supervised fine-tuning on DATA files (JSONL, JSON, Parquet or saved datasets) of `messages` rows.

    Loss is on assistant tokens only. With --curriculum two-stage (default) rows with stage 1
    (generated) are trained first, then rows with stage 2 (original) continue from those weights."""
    from xinstruct.train.sft import run_sft

    (cfg,) = resolve_configs([SftTrainConfig], config_file, values)
    summary = run_sft(list(data), Path(out), cfg, overwrite=overwrite, log=_log)
    for s in summary["stages"]:
        _log(f"{s['name']}: {s['rows']} rows, {s['steps']} steps, loss {s['first_loss']:.4f} -> {s['final_loss']:.4f}")
    click.echo(summary["artifact"])


@train.command("dpo")
@click.argument("pairs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="run directory")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="YAML file of options")
@click.option("--overwrite", is_flag=True, help="start afresh when --out holds a run made with other settings")
@config_options(DpoTrainConfig)
def dpo_command(pairs: tuple[str, ...], out: str, config_file: str | None, overwrite: bool, **values: Any) -> None:
    """DPO on PAIRS files with prompt/chosen/rejected (TRL format; conversational or plain strings)."""
    from xinstruct.train.dpo import run_dpo

    (cfg,) = resolve_configs([DpoTrainConfig], config_file, values)
    summary = run_dpo(list(pairs), Path(out), cfg, overwrite=overwrite, log=_log)
    click.echo(summary["artifact"])


@train.command("export")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--merged", "merged_dir", type=click.Path(file_okay=False), help="merged HF model dir [default: RUN/merged]")
@click.option("--gguf", "gguf_file", type=click.Path(dir_okay=False), help="also write a GGUF here (F16 unless --quantize)")
@click.option("--quantize", type=click.Choice(QUANT_TYPES), default="f16", show_default=True,
              help="GGUF type, re-quantized from F16 by llama.cpp (q8_0 keeps a LoRA's small deltas)")
@click.option("--base-only", is_flag=True,
              help="export the run's base without the trained weights (the before/after control)")
@click.option("--stage", help="export the weights this curriculum stage ended with (stage1, stage2) instead of the final ones")
@click.option("--converter", type=click.Path(exists=True, dir_okay=False), help="llama.cpp convert_hf_to_gguf.py to use")
@click.option("--gguf-route", type=click.Choice(["auto", "converter", "builtin"]), default="auto", show_default=True,
              help="llama.cpp's converter, the built-in writer (GGUF Qwen2 bases), or the first that is available")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32", show_default=True,
              help="dtype of the merged weights")
def export_command(run: str, merged_dir: str | None, gguf_file: str | None, converter: str | None,
                   gguf_route: str, dtype: str, quantize: str, base_only: bool, stage: str | None) -> None:
    """Merge RUN's adapter into its base model (a standalone HF dir) and optionally write a GGUF."""
    from xinstruct.train.export import export_run

    if base_only and stage:
        raise click.UsageError("--base-only exports no trained weights; it does not go with --stage")
    merged, gguf = export_run(run, merged_dir, gguf_file, quantize=quantize, converter=converter, route=gguf_route,
                              dtype=dtype, base_only=base_only, stage=stage)
    _log(f"merged model: {merged}")
    click.echo(str(merged))
    if gguf is not None:
        path, route = gguf
        _log(f"GGUF: {path} ({route})")
        click.echo(str(path))
