"""Progress bars that show items/s, new-token throughput and ETA for long LLM work."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Task as ProgressTask  # not a benchmark task (eval.benchmarks.Task)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task: ProgressTask) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} it/s" if speed else "-- it/s", style="progress.data.speed")


class TokensColumn(ProgressColumn):
    """Tokens generated (not served from cache) per second of elapsed time."""

    def render(self, task: ProgressTask) -> Text:
        tokens = task.fields.get("tokens", 0)
        elapsed = task.elapsed or 0.0
        cached = task.fields.get("cached", 0)
        rate = f"{tokens / elapsed:.1f} tok/s" if elapsed > 0 and tokens else "-- tok/s"
        suffix = f" ({cached} cached)" if cached else ""
        return Text(rate + suffix, style="cyan")


def make_progress(console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TokensColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
    )
