"""``xinstruct eval``: pass@k of a model on code benchmarks, executed in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from xinstruct.core.config import config_options, resolve_configs
from xinstruct.core.tables import table_console
from xinstruct.eval.config import EvalConfig
from xinstruct.llm.base import retries_text
from xinstruct.llm.factory import BackendConfig
from xinstruct.scale.config import ScaleConfig


class EvalGroup(click.Group):
    """``xinstruct eval --benchmark …`` runs the evaluation; ``xinstruct eval decontam-export`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            self.invoke_without_command = False
        return super().parse_args(ctx, args)


@click.group("eval", cls=EvalGroup, invoke_without_command=True)
@click.option("--benchmark", "-b", "benchmarks", multiple=True, help="benchmark name (repeatable; comma-separated ok); "
              "humaneval, humaneval+, mbpp+, multipl-e:<lang>, multipl-e-mbpp:<lang>, mxeval:<lang>, mbxp:<lang>, "
              "humaneval-x:<lang>")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="run directory (resumable)")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file with option values")
@click.option("--overwrite", is_flag=True, help="start afresh when RUN_DIR holds a run with other settings")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON instead of a table")
@config_options(EvalConfig, BackendConfig, ScaleConfig)
@click.pass_context
def eval_command(ctx: click.Context, benchmarks: tuple[str, ...], out: Path | None, config_file: str | None,
                 overwrite: bool, as_json: bool, **values: Any) -> None:
    """Generate answers with the model, run them against the benchmark tests in the sandbox, report pass@k.

    \b
    xinstruct eval --benchmark humaneval+ --out runs/he
    xinstruct eval -b multipl-e:java -b multipl-e:cpp --limit 20 --out runs/multiple
    xinstruct eval -b mbpp+ --n 10 --temperature 0.8 --out runs/mbpp-sampled
    """
    if ctx.invoked_subcommand is not None:
        return
    names = [n.strip() for b in benchmarks for n in b.split(",") if n.strip()]
    if config_file and not names:
        from xinstruct.core.config import load_yaml

        loaded = load_yaml(config_file).get("benchmark") or []
        names = [loaded] if isinstance(loaded, str) else list(loaded)
    if not names:
        raise click.UsageError("give at least one --benchmark (e.g. humaneval+, multipl-e:java)")
    if out is None:
        raise click.UsageError("--out RUN_DIR is required")
    cfg, bcfg, scale = resolve_configs([EvalConfig, BackendConfig, ScaleConfig], config_file, {**values, "benchmark": names})
    from xinstruct.eval.pipeline import run_eval

    console = Console(stderr=True)
    if scale.executor == "ray":
        from xinstruct.eval.ray_run import run_eval_ray

        summary = run_eval_ray(cfg, bcfg, out, scale, overwrite=overwrite, console=console)
    else:
        summary = run_eval(cfg, bcfg, out, overwrite=overwrite, console=console)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    print_summary(summary, table_console())


def print_summary(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="xinstruct eval", show_lines=False)
    for col in ("benchmark", "language", "tasks", "pass@1", "base pass@1", "pass@10", "pass@100", "not runnable",
                "verdicts"):
        table.add_column(col, justify="right" if col not in ("benchmark", "language", "verdicts") else "left")
    for r in summary["benchmarks"]:
        def fmt(key: str, row: dict[str, Any] = r) -> str:
            v = row.get(key)
            return "-" if v is None else f"{v:.1f}"

        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(r["verdicts"].items(), key=lambda kv: -kv[1]))
        table.add_row(r["benchmark"], r["language"] or "-", f"{r['scored']}/{r['tasks']}", fmt("pass@1"),
                      fmt("base_pass@1"), fmt("pass@10"), fmt("pass@100"), str(r["not_runnable"]), verdicts)
    console.print(table)
    t = summary["throughput"]
    share = t["generation_share"]
    console.print(
        f"{t['tasks_this_run']} task(s) in {t['wall_seconds']:.0f} s"
        + (f" = {t['problems_per_minute']:.1f} problems/min" if t["problems_per_minute"] else "")
        + (f"; generation {100 * share:.0f}% / execution {100 * (1 - share):.0f}% of busy time" if share is not None else "")
        + (f"; {t['tokens_per_second']} tok/s" if t["tokens_per_second"] else "")
        + f"; LLM calls: {t['llm_new_calls']} new, {t['llm_cached_calls']} cached"
        + (f"; retries: {retries_text(t['llm_retries'])}" if t.get("llm_retries") else ""),
        highlight=False,
    )
    for r in summary["benchmarks"]:
        if r.get("not_runnable_reasons"):
            console.print(f"[yellow]{r['benchmark']}: {r['not_runnable']} task(s) could not run: "
                          f"{json.dumps(r['not_runnable_reasons'])}", highlight=False)


@eval_command.command("decontam-export")
@click.option("--benchmark", "-b", "benchmarks", multiple=True, required=True, help="benchmarks to export")
@click.option("--data", type=click.Path(path_type=Path), help="benchmark file or data directory")
@click.option("--n-gram", "ngram", type=int, default=13, show_default=True, help="word shingle length")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSON file to write")
def decontam_export(benchmarks: tuple[str, ...], data: Path | None, ngram: int, out: Path) -> None:
    """Export benchmark prompts and solutions as n-gram shingle sets for training-data decontamination."""
    from xinstruct.data.decontam import export_ngrams

    names = [n.strip() for b in benchmarks for n in b.split(",") if n.strip()]
    info = export_ngrams(names, out, n=ngram, data=data)
    click.echo(f"wrote {info['ngrams']} {ngram}-grams from {info['texts']} texts of {', '.join(names)} to {out}")
