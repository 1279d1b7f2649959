"""The eval stage as a function: benchmarks -> run directory -> generate and execute -> summary.

It follows the run protocol (``core/runs.py``): the run directory is checked against the settings
and the model's identity before the model is built, finished tasks are skipped on a resume, and
the summary is written to the run. Rendering the summary is the CLI's business (``eval/cli.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.core.cache import CallCache
from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.errors import ConfigError
from xinstruct.core.progress import make_progress
from xinstruct.core.runs import RunDir
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark, select_tasks
from xinstruct.eval.config import EvalConfig
from xinstruct.eval.harness import evaluate_tasks, shard_name, summarize
from xinstruct.eval.prompts import prompts_hash
from xinstruct.llm.base import Backend
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.factory import BackendConfig, BackendPlan, GivenBackend, plan_or_given

STAGE = "eval"


@dataclass
class PreparedEval:
    """The tasks and the checked run directory, before the model is built."""

    run: RunDir
    plan: BackendPlan | GivenBackend
    model_identity: dict[str, Any]
    tasks_by_bench: dict[str, list[Task]]

    @property
    def tasks(self) -> list[Task]:
        return [t for ts in self.tasks_by_bench.values() for t in ts]


def prepare_eval(cfg: EvalConfig, bcfg: BackendConfig, out: Path, *, overwrite: bool,
                 backend: Backend | None) -> PreparedEval:
    specs = [parse_benchmark(b) for b in cfg.benchmark]
    tasks_by_bench = {}
    for spec in specs:
        tasks = load_tasks(spec, cfg.data)
        tasks_by_bench[spec.name] = select_tasks(tasks, cfg.tasks or None, cfg.task_regex, cfg.limit)
    if not any(tasks_by_bench.values()):
        raise ConfigError("no task matches the filters")
    run = RunDir(out, STAGE)
    plan = plan_or_given(bcfg, backend)
    model_identity = plan.identity()
    run.open(
        config={"eval": config_to_dict(cfg), "backend": config_to_dict(bcfg)},
        fingerprint=output_fingerprint(cfg, bcfg), model=model_identity,
        prompts={"eval.yaml": prompts_hash()}, seed=cfg.seed, overwrite=overwrite,
    )
    return PreparedEval(run, plan, model_identity, tasks_by_bench)


def finish_eval(prep: PreparedEval, cfg: EvalConfig, stats: dict[str, float], wall: float,
                calls: dict[str, Any]) -> dict[str, Any]:
    """The summary from the shards: one code for every executor."""
    wanted = {b: {t.task_id for t in ts} for b, ts in prep.tasks_by_bench.items()}
    rows = summarize(prep.run, list(prep.tasks_by_bench), wanted)
    busy = stats["gen_seconds"] + stats["exec_seconds"]
    throughput = {
        "wall_seconds": round(wall, 2), "tasks_this_run": stats["tasks"],
        "problems_per_minute": round(stats["tasks"] / wall * 60, 2) if wall > 0 and stats["tasks"] else None,
        "generation_seconds": round(stats["gen_seconds"], 2), "execution_seconds": round(stats["exec_seconds"], 2),
        "generation_share": round(stats["gen_seconds"] / busy, 3) if busy else None,
        "execution_share": round(stats["exec_seconds"] / busy, 3) if busy else None,
        "new_tokens": stats["new_tokens"],
        "tokens_per_second": round(stats["new_tokens"] / stats["gen_seconds"], 1) if stats["gen_seconds"] else None,
        "llm_new_calls": calls["new"], "llm_cached_calls": calls["cached"],
        "llm_retries": calls.get("retries", {}),
    }
    summary = {"benchmarks": rows, "throughput": throughput, "model": prep.model_identity,
               "prompt_style": cfg.prompt_style, "n": cfg.n, "temperature": cfg.temperature}
    prep.run.write_summary(summary)
    return summary


def run_eval(cfg: EvalConfig, bcfg: BackendConfig, out: Path, *, overwrite: bool = False,
             backend: Backend | None = None, console: Console | None = None) -> dict[str, Any]:
    """Evaluate (or resume evaluating) into ``out``; returns the summary.

    ``backend`` overrides the configured one (tests and the experiment pass a loaded model, which
    the caller keeps open); ``console`` only carries the progress bar.
    """
    from xinstruct.sandbox import Sandbox

    console = console or Console(stderr=True)
    prep = prepare_eval(cfg, bcfg, out, overwrite=overwrite, backend=backend)
    run, all_tasks = prep.run, prep.tasks
    inner = prep.plan.build()
    cached = CachedBackend(inner, CallCache(cfg.cache or run.cache_path))
    sandbox = Sandbox()
    wall0 = time.perf_counter()
    progress = make_progress(console)
    with progress:
        bar = progress.add_task("eval", total=len(all_tasks), tokens=0, cached=0)
        done_before = sum(len(run.done_ids(shard_name(b))) for b in prep.tasks_by_bench)
        progress.update(bar, completed=min(done_before, len(all_tasks)))

        def tick(task: Any, row: dict[str, Any]) -> None:
            progress.update(bar, advance=1, tokens=progress.tasks[bar].fields["tokens"] + (
                0 if row["cached_generation"] else row["completion_tokens"]), cached=cached.cached_calls)

        stats = evaluate_tasks(all_tasks, cached, sandbox, cfg, run, on_progress=tick)
    summary = finish_eval(prep, cfg, stats, time.perf_counter() - wall0,
                          {"new": cached.new_calls, "cached": cached.cached_calls,
                           "retries": cached.retries_by_kind()})
    if backend is None:
        cached.close()
    return summary
