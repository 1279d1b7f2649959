"""Evaluation with ``--executor ray``: the tasks not yet finished go through a pool of actors,
each with its own backend, cache segment and sandbox, running the local harness
(``evaluate_tasks``) on a batch of tasks at once; each batch's rows are one result block per
benchmark, and the summary is made from the shards by the local run's code (``finish_eval``)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.core.progress import make_progress
from xinstruct.eval.config import EvalConfig
from xinstruct.eval.harness import evaluate_tasks, shard_name
from xinstruct.eval.pipeline import STAGE, finish_eval, prepare_eval
from xinstruct.llm.base import Backend
from xinstruct.llm.factory import BackendConfig
from xinstruct.scale.cluster import actor_pool_args, connected
from xinstruct.scale.config import ScaleConfig
from xinstruct.scale.segments import merge_segments
from xinstruct.scale.worker import BatchWorker, BlockRun, add_retries, engine_guard, retries_column

STATS = ("gen_seconds", "exec_seconds", "tasks", "new_tokens")


class EvalWorker(BatchWorker):
    stage = STAGE

    def __init__(self, run_path: str, plan: Any, cfg: EvalConfig, tasks: list[Any]) -> None:
        super().__init__(run_path, plan, threads=1)
        from xinstruct.sandbox import Sandbox

        self.cfg = cfg
        self.tasks = tasks
        self.sandbox = Sandbox()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        todo = [self.tasks[int(i)] for i in batch["index"]]
        stored, hits, retries = self.cache.stored, self.cache.hits, self.inner.retries_by_kind()
        run = BlockRun(self.run.path, self.stage)
        with engine_guard():
            stats = evaluate_tasks(todo, self.llm, self.sandbox, self.cfg, run)
        run.close()
        zeros = [0] * (len(todo) - 1)
        return {
            "index": [int(i) for i in batch["index"]],
            "new_calls": [self.cache.stored - stored, *zeros],
            "cached_calls": [self.cache.hits - hits, *zeros],
            "retries": retries_column(retries, self.inner.retries_by_kind(), len(todo)),
            **{k: [float(stats[k]), *zeros] for k in STATS},
        }


def run_eval_ray(cfg: EvalConfig, bcfg: BackendConfig, out: Path, scale: ScaleConfig, *, overwrite: bool = False,
                 backend: Backend | None = None, console: Console | None = None) -> dict[str, Any]:
    """Evaluate (or resume) into ``out`` on Ray; returns the summary (the local run's shape)."""
    console = console or Console(stderr=True)
    prep = prepare_eval(cfg, bcfg, out, overwrite=overwrite, backend=backend)
    tasks = prep.tasks
    done = {(b, r["id"]) for b in prep.tasks_by_bench for r in prep.run.rows(shard_name(b))}
    todo = [i for i, t in enumerate(tasks) if (t.benchmark, t.task_id) not in done]
    stats = dict.fromkeys(STATS, 0.0)
    calls: dict[str, Any] = {"new": 0, "cached": 0, "retries": {}}
    wall0 = time.perf_counter()
    with connected(scale) as ray:
        if todo:
            import pyarrow as pa

            blocks = min(len(todo), max(2 * scale.ray_actors, math.ceil(len(todo) / (4 * scale.ray_batch_size))))
            per = math.ceil(len(todo) / blocks)
            ds = ray.data.from_arrow([pa.table({"index": todo[k:k + per]}) for k in range(0, len(todo), per)])
            results = ds.map_batches(EvalWorker, fn_constructor_args=(str(prep.run.path), prep.plan, cfg, tasks),
                                     batch_format="numpy", **actor_pool_args(scale))
            with make_progress(console) as progress:
                bar = progress.add_task("eval (ray)", total=len(todo))
                for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
                    calls["new"] += int(batch["new_calls"].sum())
                    calls["cached"] += int(batch["cached_calls"].sum())
                    add_retries(calls["retries"], batch["retries"])
                    for k in STATS:
                        stats[k] += float(batch[k].sum())
                    progress.update(bar, advance=len(batch["index"]), cached=calls["cached"])
    merge_segments(prep.run.path)
    stats["tasks"] = int(stats["tasks"])
    stats["new_tokens"] = int(stats["new_tokens"])
    return finish_eval(prep, cfg, stats, time.perf_counter() - wall0, calls)



