"""Inverse-Instruct with ``--executor ray``: the same run, its model stage on a Ray cluster.

The driver reads, extracts, deduplicates and decontaminates (``prepare_inverse``, as a local run
does), streams the snippets still to do into ``RUN/snippets/`` and streams them through a pool of
actors (``map_batches``), each with its own backend and cache segment, running the local run's
steps. Every finished batch is one result block; the driver then assembles datasets, skip log
and summary with the local run's code (``finish_inverse``), so both executors write the same files.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.core.errors import ConfigError
from xinstruct.core.pipeline import chain
from xinstruct.core.progress import make_progress
from xinstruct.core.records import Record
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import (
    STAGE,
    InversePrompts,
    drop_row,
    finish_inverse,
    finished_row,
    llm_steps,
    prepare_inverse,
    selector,
)
from xinstruct.llm.base import Backend
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig
from xinstruct.scale.blocks import read_snippets, write_snippets
from xinstruct.scale.cluster import actor_pool_args, connected
from xinstruct.scale.config import ScaleConfig
from xinstruct.scale.segments import merge_segments
from xinstruct.scale.worker import BatchWorker, add_retries


class InverseWorker(BatchWorker):
    """A model actor of Inverse-Instruct: summarize, judge (round-trip) and select one snippet."""

    stage = STAGE

    def __init__(self, run_path: str, plan: Any, threads: int, cfg: InverseConfig, prompts: InversePrompts) -> None:
        super().__init__(run_path, plan, threads)
        self.cfg = cfg
        self.prompts = prompts

    def process(self, record: Record, order: int) -> dict[str, Any]:
        steps = llm_steps(self.llm, self.cfg, self.prompts)  # fresh per record: threads share no step state
        for finished in chain([*steps, selector(self.cfg)], [record]):
            return finished_row(finished, order)
        entry = next(e for step in steps for e in step.skips.entries)
        return drop_row(entry, order)


def run_inverse_ray(
    input_path: str | Path,
    out_dir: str | Path,
    cfg: InverseConfig,
    backend_cfg: BackendConfig,
    reader_cfg: ReaderConfig,
    scale: ScaleConfig,
    *,
    backend: Backend | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run (or resume) Inverse-Instruct into ``out_dir`` on Ray; returns the summary.

    ``backend`` is a built backend every actor receives a copy of (tests, benchmarks); otherwise
    each actor builds the configured one.
    """
    if cfg.world_size != 1:
        raise ConfigError("--executor ray splits the work itself: drop --rank/--world-size")
    console = console or Console(stderr=True)
    prep = prepare_inverse(input_path, out_dir, cfg, backend_cfg, reader_cfg, backend, all_shards=True)
    if prep.resumed:
        console.print(f"resuming {prep.run.path}: {prep.extracted - prep.todo_count} snippets done, "
                      f"{prep.todo_count} to go")
    calls: dict[str, Any] = {"new": 0, "cached": 0, "retries": {}}
    with connected(scale) as ray:
        todo = prep.todo_count
        if todo:
            blocks = min(todo, max(2 * scale.ray_actors, math.ceil(todo / (4 * scale.ray_batch_size))))
            snippets = write_snippets(prep.run, prep.todo(), per_file=math.ceil(todo / blocks))
            results = read_snippets(ray, snippets).map_batches(
                InverseWorker,
                fn_constructor_args=(str(prep.run.path), prep.plan, scale.ray_batch_size, cfg, prep.prompts),
                batch_format="numpy",
                **actor_pool_args(scale),
            )
            with make_progress(console) as progress:
                task = progress.add_task("inverse-instruct (ray)", total=todo)
                for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
                    calls["new"] += int(batch["new_calls"].sum())
                    calls["cached"] += int(batch["cached_calls"].sum())
                    add_retries(calls["retries"], batch["retries"])
                    progress.update(task, advance=len(batch["id"]), cached=calls["cached"])
    merged = merge_segments(prep.run.path)
    executor = {"executor": "ray", "actors": scale.ray_actors, "batch_size": scale.ray_batch_size,
                "cache_merge": asdict(merged)}
    return finish_inverse(prep, cfg, calls, console, extra={"executor": executor})
