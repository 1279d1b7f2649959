"""``xinstruct cache``: the LLM call cache of a run directory."""

from __future__ import annotations

import click

from xinstruct.core.errors import InputError
from xinstruct.scale.segments import merge_segments, segment_paths


@click.group("cache")
def cache() -> None:
    """The LLM call cache of a run directory (``RUN/llm-cache.sqlite``)."""


@cache.command("merge")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def merge(run_dir: str) -> None:
    """Fold the per-actor segments of a cluster run (``RUN/cache/segment-*.sqlite``) into
    ``RUN/llm-cache.sqlite``, which a local run and every later cluster run read. A finished
    cluster run does this itself; run it after an interrupted one, when no actor is writing."""
    from pathlib import Path

    if not segment_paths(Path(run_dir)) and not (Path(run_dir) / "llm-cache.sqlite").exists():
        raise InputError(f"{run_dir}: no LLM call cache (llm-cache.sqlite) and no segments (cache/segment-*.sqlite)")
    report = merge_segments(run_dir)
    click.echo(f"{report.segments} segments, {report.rows} calls, {report.added} new to {run_dir}/llm-cache.sqlite")
