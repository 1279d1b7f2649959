"""``xinstruct agents``: run the multi-agent generation, or inspect an agent's memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from xinstruct.agents.config import AgentsConfig
from xinstruct.core.config import config_options, resolve_configs
from xinstruct.core.errors import InputError
from xinstruct.core.tables import table_console
from xinstruct.llm.base import retries_text
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig
from xinstruct.scale.config import ScaleConfig

CLASSES = (AgentsConfig, BackendConfig, ReaderConfig, ScaleConfig)


class AgentsGroup(click.Group):
    """``agents INPUT --out DIR`` runs; ``agents memory RUN_DIR`` inspects (first word decides)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is not None and first not in self.commands and first not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("agents", cls=AgentsGroup, invoke_without_command=False)
def agents() -> None:
    """Multi-agent multilingual instruction generation (xCoder), execution-verified.

    \b
    xinstruct agents INPUT --out RUN_DIR [--languages python,java] [--rounds 3] [--mode parallel]
    xinstruct agents INPUT --out RUN_DIR --executor ray [--ray-address auto] [--ray-actors 4]
    xinstruct agents memory RUN_DIR [--language python]
    """


def summary_table(summary: dict[str, Any]) -> Table:
    """Per-language counts of a finished run's summary, for the terminal."""
    table = Table(title=f"xinstruct agents ({summary['mode']})")
    for col in ("language", "proposed", "admitted", "passed (1st try + repaired)", "kept", "rejected by reason",
                "mean total", "tokens", "time s"):
        table.add_column(col, justify="left" if col in ("language", "rejected by reason") else "right")
    for lang, row in summary["per_language"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in row["rejected"].items()) or "-"
        total = row["mean_scores"].get("total")
        passed = f"{row['passed']} ({row['passed_first_try']} + {row['passed_after_repair']})"
        table.add_row(lang, str(row["proposed"]), str(row["admitted"]), passed, str(row["kept"]),
                      reasons, f"{total:.2f}" if total is not None else "-", str(row["tokens"]), f"{row['seconds']:.0f}")
    return table


@agents.command("run")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option("--out", "out", required=True, type=click.Path(), help="run directory (resumed when it exists)")
@click.option("--config", "config_file", type=click.Path(exists=True), help="YAML file of options")
@click.option("--overwrite", is_flag=True, help="start the run directory afresh when its settings changed")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON instead of a table")
@config_options(*CLASSES)
def run_command(input_path: str, out: str, config_file: str | None, overwrite: bool, as_json: bool,
                **values: Any) -> None:
    """Seed samples from INPUT code (Ds1/Ds2), then R collaboration rounds; writes sft.jsonl,
    dpo.jsonl, rejected.jsonl, memory/<lang>.json and summary.json to --out.

    With --executor ray each stage's units (proposals, solutions, tests, scoring) run in a pool of
    Ray actors, one backend each, and sandbox runs as Ray CPU tasks; the driver updates memory and
    reflection between rounds, so the files equal a local run's (docs/scale.md)."""
    from xinstruct.agents.pipeline import AgentsRun

    cfg, backend_cfg, reader_cfg, scale = resolve_configs(CLASSES, config_file, values)
    console = Console(stderr=True)
    kwargs: dict[str, Any] = {"backend_cfg": backend_cfg, "console": console, "overwrite": overwrite,
                              "reader_cfg": reader_cfg}
    if scale.executor == "ray":
        from xinstruct.agents.ray_run import AgentsRayRun

        summary = AgentsRayRun(cfg, input_path, out, scale=scale, **kwargs).execute()
    else:
        summary = AgentsRun(cfg, input_path, out, **kwargs).execute()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    table_console().print(summary_table(summary))
    t = summary["totals"]
    console.print(
        f"kept {t['kept']} of {t['proposed']} proposed (pass rate {summary['pass_rate']}), "
        f"{summary['dpo_rows']} DPO pairs, {summary['wall_seconds']} s -> {out}"
    )
    if summary["llm_calls"].get("retries"):
        console.print(f"LLM retries: {retries_text(summary['llm_calls']['retries'])}", highlight=False)


@agents.command("memory")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--language", "language", help="show one agent's memory in full")
@click.option("--json", "as_json", is_flag=True, help="print the memory JSON")
def memory_command(run_dir: str, language: str | None, as_json: bool) -> None:
    """Show what each agent remembers: best samples by score, with their scores and verdicts."""
    mem_dir = Path(run_dir) / "memory"
    files = sorted(mem_dir.glob("*.json")) if mem_dir.is_dir() else []
    if language:
        files = [f for f in files if f.stem == language]
    if not files:
        raise InputError("no agent memory found" + (f" for {language}" if language else ""), str(mem_dir))
    console = table_console()
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        if as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            continue
        table = Table(title=f"{data['language']} memory ({len(data['items'])}/{data['size']}, "
                            f"similarity < {data['threshold']})")
        for col in ("#", "id", "total", "verdict", "instruction"):
            table.add_column(col)
        for i, item in enumerate(data["items"], 1):
            total = (item.get("scores") or {}).get("total")
            text = str(item.get("instruction") or "")
            table.add_row(str(i), str(item["id"]), "-" if total is None else f"{total:g}", str(item.get("verdict")),
                          text if language else text[:90])
        console.print(table)
