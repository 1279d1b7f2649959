"""``xinstruct experiment CONFIG --out DIR``: the whole data -> train -> export -> eval -> compare loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from xinstruct.core.config import config_options
from xinstruct.experiment.config import ExperimentConfig, load_experiment

console = Console(stderr=True, highlight=False)


def _log(message: str) -> None:
    console.print(message, markup=False)


@click.command("experiment")
@click.argument("config_file", metavar="CONFIG", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="experiment directory (rerun to resume)")
@config_options(ExperimentConfig)
def experiment(config_file: str, out: str, **values: Any) -> None:
    """Generate data, train every arm CONFIG names, export each and the base the same way, evaluate them
    on the same benchmarks with the same settings, and write OUT/report.json and OUT/report.md.

    Rerunning resumes: a phase whose settings did not change is not redone; a changed setting redoes
    only the phases that depend on it. Top-level keys of CONFIG can be overridden here."""
    from xinstruct.experiment.pipeline import run_experiment

    cfg = load_experiment(config_file, values)
    run_experiment(cfg, Path(out), log=_log, console=console)
    click.echo((Path(out) / "report.md").read_text(encoding="utf-8"))
