"""``xinstruct inverse``: the project's main job."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from xinstruct.core.config import config_options, resolve_configs
from xinstruct.core.tables import table_console
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.base import retries_text
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig
from xinstruct.scale.config import ScaleConfig

CLASSES = (InverseConfig, BackendConfig, ReaderConfig, ScaleConfig)


def print_summary(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="Inverse-Instruct summary", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")

    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    for key in ("records_read", "snippets_extracted", "snippets_finished", "dataset_rows", "candidates_generated",
                "empty_candidates", "score_mean", "score_median", "selected_score_mean", "seconds", "snippets_per_minute"):
        table.add_row(key.replace("_", " "), fmt(summary.get(key)))
    table.add_row("tokens (prompt / completion)", f"{summary['tokens']['prompt']:,} / {summary['tokens']['completion']:,}")
    table.add_row("LLM calls (new / cached)", f"{summary['llm_calls']['new']} / {summary['llm_calls']['cached']}")
    table.add_row("LLM retries by kind", retries_text(summary["llm_calls"].get("retries") or {}) or "none")
    cleaning = summary.get("cleaning") or {}
    if cleaning:
        rejected = cleaning["rejected_by_reason"]
        table.add_row("candidates rejected by cleaning", ", ".join(f"{k} {v}" for k, v in rejected.items()))
        table.add_row("kept candidates cut by cleaning", f"{cleaning['edited']}: "
                      + ", ".join(f"{k} {v}" for k, v in cleaning["cuts"].items()))
    for reason, n in summary["skipped_by_reason"].items():
        table.add_row(f"skipped: {reason}", str(n))
    table.add_row("languages", ", ".join(f"{k} {v}" for k, v in summary["languages"].items()))
    hist = summary["score_histogram"]
    table.add_row("score histogram", "  ".join(f"{k}:{v}" for k, v in hist.items()))
    for name, f in summary["files"].items():
        table.add_row(f"output {name}", f"{f['rows']} rows: {f.get('jsonl') or f['path']}")  # hub_folder: a directory
    console.print(table)


@click.command("inverse")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="run directory (created; reused to resume)")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="YAML file of options (CLI wins)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON instead of a table")
@config_options(*CLASSES)
def inverse(input_path: str, out_dir: str, config_file: str | None, as_json: bool, **values: Any) -> None:
    """Inverse-Instruct (InverseCoder): extract the code of each response (or each file of a code
    corpus), let the model summarize it into N candidate instructions, let the same model judge each
    (instruction, code) pair by p(Yes)/(p(Yes)+p(No)), keep the best, and write a chat-format dataset.

    INPUT is a JSON/JSONL/Parquet instruction dataset, a saved Hugging Face dataset, a directory of
    source files, or JSONL of code records. Re-running the same command resumes.
    """
    cfg, backend_cfg, reader_cfg, scale = resolve_configs(CLASSES, config_file, values)
    console = Console(stderr=True)
    if scale.executor == "ray":
        from xinstruct.inverse.ray_run import run_inverse_ray

        summary = run_inverse_ray(input_path, out_dir, cfg, backend_cfg, reader_cfg, scale, console=console)
    else:
        summary = run_inverse(input_path, out_dir, cfg, backend_cfg, reader_cfg, console=console)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    print_summary(summary, table_console())
