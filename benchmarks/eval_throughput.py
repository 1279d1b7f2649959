"""Throughput of the evaluation loop: problems/minute and generation vs execution share.

    XINSTRUCT_DATA=../shared/benchmarks python benchmarks/eval_throughput.py --out /tmp/eval-tp --limit 5

Runs a small greedy slice of each benchmark on the embedded model (fresh run dir each time) and
prints the summary's throughput block; ``--canonical`` replaces the model by the benchmark's
reference solutions to measure the execution side alone.

    XINSTRUCT_DATA=../shared/benchmarks python benchmarks/eval_throughput.py --out /tmp/eval-ov \
        --benchmark multipl-e:java --limit 24 --prompt-style continue --max-tokens 1024 --compare-overlap

``--compare-overlap`` runs the same tasks twice on one loaded model, side by side: as `xinstruct
eval` does (each answer goes to the sandbox while the model writes the next) and one phase after
the other (every answer first, then every program), alternating which goes first over
``--repeats``; it prints problems/min of each, their ratio, and the time in each phase.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections import Counter
from pathlib import Path

from xinstruct.eval.config import EvalConfig
from xinstruct.eval.pipeline import run_eval
from xinstruct.llm.factory import BackendConfig


class _Canonical:
    """Backend stand-in answering every request with the task's reference solution."""

    kind = "canonical"

    def __init__(self, benchmarks: list[str]) -> None:
        from xinstruct.eval.benchmarks import load_tasks, parse_benchmark

        self.table = {t.prompt.strip(): t.prompt + (t.canonical or "") for b in benchmarks
                      for t in load_tasks(parse_benchmark(b))}

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests):  # type: ignore[no-untyped-def]
        from xinstruct.llm.base import Completion, GenerateResult

        for i, req in enumerate(requests):
            prompt = req.messages[0]["content"].split("```", 1)[1].split("\n", 1)[1].rsplit("\n```", 1)[0]
            text = self.table[prompt.strip()] + "\n```"
            yield i, GenerateResult([Completion(text, "stop", len(text.split()))], 0)

    def retries_by_kind(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass


def _sequential(tasks: list, backend, cfg: EvalConfig) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every answer first, then every program: the one-after-the-other baseline."""
    from xinstruct.eval.harness import sampling_params
    from xinstruct.eval.programs import build_candidate, extract_code
    from xinstruct.eval.prompts import build_request, raw_answer
    from xinstruct.sandbox import Limits, Sandbox

    requests = [build_request(t, cfg.style_for(t.benchmark), sampling_params(cfg, t)) for t in tasks]
    start = time.perf_counter()
    answers = dict(backend.generate(requests))
    gen = time.perf_counter() - start
    limits = Limits(timeout=cfg.exec_timeout)
    jobs = []
    for i, task in enumerate(tasks):
        text = answers[i].completions[0].text
        style = cfg.style_for(task.benchmark)
        code = extract_code(task, raw_answer(requests[i], text), style, text)
        jobs.append(build_candidate(task, code, style, limits).job)
    start = time.perf_counter()
    with Sandbox(use_cache=False) as sandbox:  # a compile cache would serve later passes for free
        verdicts = Counter(r.verdict.value for _, r in sandbox.run_many(jobs, concurrency=cfg.exec_workers))
    execution = time.perf_counter() - start
    return {"wall_seconds": gen + execution, "generation_seconds": gen, "execution_seconds": execution,
            "verdicts": dict(verdicts)}


def _overlapped(tasks: list, backend, cfg: EvalConfig, out: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """As `xinstruct eval` runs: the harness submits each answer to the sandbox as it arrives."""
    from xinstruct.core.runs import RunDir
    from xinstruct.eval.harness import evaluate_tasks, shard_name
    from xinstruct.sandbox import Sandbox

    shutil.rmtree(out, ignore_errors=True)
    run = RunDir(out, "eval")
    run.open(config={}, fingerprint={"benchmark": "overlap"}, model=None, prompts={}, seed=0)
    start = time.perf_counter()
    with Sandbox(use_cache=False) as sandbox:  # a compile cache would serve later passes for free
        stats = evaluate_tasks(tasks, backend, sandbox, cfg, run)
    wall = time.perf_counter() - start
    verdicts = Counter(s["verdict"] for name in {shard_name(t.benchmark) for t in tasks}
                       for r in run.rows(name) for s in r["samples"])
    return {"wall_seconds": wall, "generation_seconds": stats["gen_seconds"],
            "execution_seconds": stats["exec_seconds"], "verdicts": dict(verdicts)}


def compare_overlap(cfg: EvalConfig, out: Path, repeats: int) -> None:
    from xinstruct.core.cache import CallCache
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark, select_tasks
    from xinstruct.llm.cached import CachedBackend
    from xinstruct.llm.factory import make_backend

    shutil.rmtree(out, ignore_errors=True)
    tasks = [t for b in cfg.benchmark for t in select_tasks(load_tasks(parse_benchmark(b), cfg.data), limit=cfg.limit)]
    backend = make_backend(BackendConfig(parallel=8))
    rows = []
    for rep in range(repeats):
        order = ("overlapped", "sequential") if rep % 2 == 0 else ("sequential", "overlapped")
        for mode in order:
            # a fresh, empty call cache per pass: both modes pay the same cache writes, neither gets hits,
            # and the harness can tell new calls from cached ones when it times generation
            cache = CallCache(out / f"cache-{mode}-{rep}.sqlite")
            fresh = CachedBackend(backend, cache)
            r = _overlapped(tasks, fresh, cfg, out / mode) if mode == "overlapped" else _sequential(tasks, fresh, cfg)
            cache.close()
            r.update(mode=mode, repeat=rep, problems_per_minute=round(len(tasks) / r["wall_seconds"] * 60, 2))
            rows.append(r)
            print(json.dumps(r))
    backend.close()
    per = {m: [r["problems_per_minute"] for r in rows if r["mode"] == m] for m in ("overlapped", "sequential")}
    mean = {m: sum(v) / len(v) for m, v in per.items()}
    print("| mode | problems/min (each repeat) | mean |\n|---|---|---|")
    for m, v in per.items():
        print(f"| {m} | {', '.join(f'{x:.2f}' for x in v)} | {mean[m]:.2f} |")
    print(f"overlapped / sequential = {mean['overlapped'] / mean['sequential']:.2f} on {len(tasks)} tasks")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", action="append", default=None)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--canonical", action="store_true")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prompt-style", default="instruct")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--compare-overlap", action="store_true", help="overlapped vs one phase after the other")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    benchmarks = args.benchmark or ["humaneval+", "mbpp+"]
    if args.compare_overlap:
        cfg = EvalConfig(benchmark=benchmarks, limit=args.limit, prompt_style=args.prompt_style,
                         max_tokens=args.max_tokens)
        compare_overlap(cfg, args.out, args.repeats)
        return
    shutil.rmtree(args.out, ignore_errors=True)
    backend = _Canonical(benchmarks) if args.canonical else None
    summary = run_eval(EvalConfig(benchmark=benchmarks, limit=args.limit), BackendConfig(), args.out, backend=backend)
    print(json.dumps(summary["throughput"], indent=2))


if __name__ == "__main__":
    main()
