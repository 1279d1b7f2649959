"""The evaluation loop: generate, extract, run in the sandbox, record, summarise.

Generation and execution overlap: each finished generation is submitted to a small thread pool of
sandbox runs while the model writes the next answer. Every finished task is appended to the
benchmark's shard at once, so an interrupted run resumes where it stopped (and the LLM call cache
serves calls that finished but whose task did not).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from xinstruct.core.runs import RunDir
from xinstruct.core.seeds import derive_seed
from xinstruct.eval.benchmarks import Task
from xinstruct.eval.config import EvalConfig
from xinstruct.eval.passk import KS, mean_pass_at_k
from xinstruct.eval.programs import build_candidate, extract_code
from xinstruct.eval.prompts import build_request, raw_answer
from xinstruct.llm.base import Backend, GenerateRequest, SamplingParams
from xinstruct.sandbox import Limits, Result, Sandbox, Verdict

NOT_RUNNABLE = {Verdict.UNAVAILABLE.value, Verdict.SANDBOX_ERROR.value}
"""Verdicts that say nothing about the model: the task is reported apart, never counted as a failure."""


def shard_name(benchmark: str) -> str:
    return "results-" + re.sub(r"[^a-z0-9]+", "-", benchmark.replace("+", "plus")).strip("-")


def sampling_params(cfg: EvalConfig, task: Task) -> SamplingParams:
    greedy = cfg.temperature <= 0
    return SamplingParams(
        n=cfg.n, temperature=cfg.temperature if not greedy else 0.0, top_p=1.0 if greedy else cfg.top_p,
        max_tokens=cfg.tokens_for(cfg.style_for(task.benchmark)), seed=None if greedy else derive_seed(cfg.seed, task.benchmark, task.task_id),
    )


@dataclass
class _Pending:
    task: Task
    request: GenerateRequest
    gen_seconds: float
    tokens: int
    cached: bool
    samples: list[dict[str, Any]]
    futures: list[Future[Result]] = field(default_factory=list)


def _sample_row(result: Result, base: dict[str, Any] | None) -> dict[str, Any]:
    row = {
        "verdict": result.verdict.value, "message": result.message, "exit_code": result.exit_code,
        "stderr": result.stderr[-1500:], "exec_seconds": result.total_seconds,
    }
    if base is not None:
        row["base_passed"] = base.get("base", {}).get("passed", False)
        row["plus_detail"] = base.get("plus")
        row["base_detail"] = base.get("base")
    return row


def _evalplus_report(result: Result) -> dict[str, Any] | None:
    import json

    for line in result.stdout.splitlines():
        if line.startswith("XINSTRUCT_EVALPLUS "):
            return json.loads(line.split(" ", 1)[1])
    return None


def evaluate_tasks(
    tasks: list[Task],
    backend: Backend,
    sandbox: Sandbox,
    cfg: EvalConfig,
    run: RunDir,
    on_progress: Callable[[Task, dict[str, Any]], None] | None = None,
) -> dict[str, float]:
    """Evaluate the tasks not yet in the run's shards; returns time accounting for this invocation."""
    limits = Limits(timeout=cfg.exec_timeout)
    done: dict[str, set[str]] = {}
    todo: list[Task] = []
    for t in tasks:
        name = shard_name(t.benchmark)
        if name not in done:
            done[name] = run.done_ids(name)
        if t.task_id not in done[name]:
            todo.append(t)
    writers = {name: run.writer(name) for name in {shard_name(t.benchmark) for t in todo}}
    stats = {"gen_seconds": 0.0, "exec_seconds": 0.0, "tasks": 0, "new_tokens": 0}
    requests = [build_request(t, cfg.style_for(t.benchmark), sampling_params(cfg, t)) for t in todo]
    pending: list[_Pending] = []

    def flush(wait: bool) -> None:
        while pending and (wait or all(f.done() for f in pending[0].futures)):
            p = pending.pop(0)
            for s, f in zip(p.samples, p.futures, strict=True):
                result = f.result()
                s.update(_sample_row(result, _evalplus_report(result) if p.task.kind == "evalplus" else None))
            row = _task_row(p)
            stats["exec_seconds"] += sum(s["exec_seconds"] for s in p.samples)
            writers[shard_name(p.task.benchmark)].write(row)
            stats["tasks"] += 1
            if on_progress is not None:
                on_progress(p.task, row)

    with ThreadPoolExecutor(max_workers=cfg.exec_workers, thread_name_prefix="eval-exec") as pool:
        started = time.perf_counter()
        before_new = getattr(backend, "new_calls", 0)
        for i, result in backend.generate(requests):
            now = time.perf_counter()
            new_calls = getattr(backend, "new_calls", 0)
            cached = new_calls == before_new
            before_new = new_calls
            gen_seconds = 0.0 if cached else now - started
            stats["gen_seconds"] += gen_seconds
            task, request = todo[i], requests[i]
            if not cached:
                stats["new_tokens"] += result.completion_tokens
            samples: list[dict[str, Any]] = []
            futures: list[Future[Result]] = []
            for c in result.completions:
                answer = raw_answer(request, c.text)
                style = cfg.style_for(task.benchmark)
                code = extract_code(task, answer, style, c.text)
                cand = build_candidate(task, code, style, limits)
                samples.append({"raw_answer": answer, "code": cand.code, "finish_reason": c.finish_reason,
                                "tokens": c.tokens})
                futures.append(pool.submit(sandbox.run, cand.job))
            pending.append(_Pending(task, request, gen_seconds, result.completion_tokens, cached, samples, futures))
            flush(wait=False)
            started = time.perf_counter()
        flush(wait=True)
    for w in writers.values():
        w.close()
    return stats


def _task_row(p: _Pending) -> dict[str, Any]:
    verdicts = [s["verdict"] for s in p.samples]
    runnable = not any(v in NOT_RUNNABLE for v in verdicts)
    row: dict[str, Any] = {
        "id": p.task.task_id, "benchmark": p.task.benchmark, "task_id": p.task.task_id, "language": p.task.language,
        "prompt": p.task.prompt, "n": len(p.samples), "passed": sum(v == Verdict.PASSED.value for v in verdicts),
        "runnable": runnable, "gen_seconds": round(p.gen_seconds, 3),
        "exec_seconds": round(sum(s["exec_seconds"] for s in p.samples), 3), "completion_tokens": p.tokens,
        "cached_generation": p.cached, "samples": p.samples,
    }
    if p.task.kind == "evalplus":
        row["base_passed"] = sum(bool(s.get("base_passed")) for s in p.samples)
    return row


def summarize(run: RunDir, benchmarks: list[str], wanted: dict[str, set[str]] | None = None) -> list[dict[str, Any]]:
    """One summary row per benchmark from the shards (only the selected task ids when given)."""
    out = []
    for b in benchmarks:
        rows = [r for r in run.rows(shard_name(b)) if wanted is None or r["task_id"] in wanted.get(b, set())]
        scored = [r for r in rows if r["runnable"]]
        counts = [(r["n"], r["passed"]) for r in scored]
        verdicts: Counter[str] = Counter(s["verdict"] for r in rows for s in r["samples"])
        summary: dict[str, Any] = {
            "benchmark": b, "language": rows[0]["language"] if rows else None, "tasks": len(rows),
            "scored": len(scored), "not_runnable": len(rows) - len(scored), "verdicts": dict(verdicts),
            "gen_seconds": round(sum(r["gen_seconds"] for r in rows), 2),
            "exec_seconds": round(sum(r["exec_seconds"] for r in rows), 2),
            "completion_tokens": sum(r["completion_tokens"] for r in rows),
        }
        for k in KS:
            value = mean_pass_at_k(counts, k)
            if value is not None:
                summary[f"pass@{k}"] = round(100 * value, 2)
        if scored and "base_passed" in scored[0]:
            base = mean_pass_at_k([(r["n"], r["base_passed"]) for r in scored], 1)
            summary["base_pass@1"] = round(100 * base, 2) if base is not None else None
        if not_runnable := [r for r in rows if not r["runnable"]]:
            msgs = Counter(f"{r['language']}: {s['message']}" for r in not_runnable for s in r["samples"]
                           if s["verdict"] in NOT_RUNNABLE)
            summary["not_runnable_reasons"] = dict(msgs.most_common(3))
        out.append(summary)
    return out
