"""The agents' yardstick: is what verification keeps *right*, judged by hidden tests it never sees?

Seeds are MBXP tasks (mxeval) whose MBPP id is in neither MBPP+ nor MultiPL-E's MBPP sets, whose
description shares no 13-word n-gram with the benchmarks the eval runs, and whose reference solution
passes its hidden tests in our sandbox. The agent of the task's language sees only the description
and the entry point's declaration (never the prompt's examples or the tests), writes a solution and
tests as ``xinstruct agents`` does, and verification keeps or rejects it. Then the seed's hidden tests
run on every solution the agent wrote, and each verification rule is scored: yield (kept / proposed),
precision (kept and right / kept) and recall (kept and right / seeds with a right solution among
those the rule could keep).

Slices (fixed before any measurement): ``measure`` = free ids >= 601 (255 ids), the reported figures;
``tune`` = free ids < 601 (298 ids), the only tasks prompts or thresholds may be tuned on.
Bash has no MBXP set and MultiPL-E's Bash sets are eval sets, so Bash is not in the yardstick.

    XINSTRUCT_DATA=../shared/benchmarks .venv/bin/python benchmarks/data_quality.py --out /work/runs/dq \\
        --per-language 30 --slice measure
    .venv/bin/python benchmarks/data_quality.py --out /work/runs/dq --report   # tables from what is done
    .venv/bin/python benchmarks/data_quality.py --out /work/runs/dq --report --run runs/agents  # attach

Resumable: finished seeds are lines of ``OUT/samples.jsonl``; LLM calls are in ``OUT/cache.sqlite``.
Besides ``report.json``/``report.md`` it leaves ``OUT/yardstick.json`` (the tables with the command,
slice and seeds per language); ``--run RUN`` also writes it into an agents run directory, whose
``xinstruct report RUN`` then shows it as its "Yardstick" section.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _free_mbpp import SLICES, free_ids, in_slice, number
from rich.console import Console
from rich.table import Table

from xinstruct.agents.agreement import cluster_solutions, decide
from xinstruct.agents.calls import Caller
from xinstruct.agents.collaborate import (
    Agent,
    Team,
    new_sample,
    test_and_score,
    verify_by_agreement,
    write_solution,
)
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.memory import Memory
from xinstruct.agents.profiles import get_profile
from xinstruct.agents.tasks import profile_vars
from xinstruct.core.cache import CallCache
from xinstruct.core.progress import make_progress
from xinstruct.data.decontam import Decontaminator
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark, read_jsonl_gz
from xinstruct.eval.data import locate
from xinstruct.eval.programs import build_candidate
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.coalesce import CoalescingBackend
from xinstruct.sandbox import Limits, Sandbox
from xinstruct.sandbox.capture import Capture

LANGUAGES = ("python", "java", "cpp", "csharp", "typescript", "php", "javascript")
EVAL_BENCHMARKS = ("humaneval+", "mbpp+")
"""Plus MultiPL-E HumanEval of each yardstick language: what ``xinstruct eval`` reports."""
RULES = (("tests", None, False), ("agreement m=3", 3, False), ("agreement m=4", 4, False),
         ("agreement m=5", 5, False), ("both m=2", 2, True), ("both m=3", 3, True))
"""(name, votes, dual): ``tests`` is today's verification (solution 0 passes the model's own tests)."""


# ----------------------------------------------------------------------------- seeds
def declaration(task: Task) -> str:
    """The entry point's declaration line from the prompt (doc comments and examples left out)."""
    for line in task.prompt.splitlines():
        if task.entry_point in line and not re.match(r"\s*(\*|//|#|/\*|>>>|php >|>)", line):
            return line.strip().rstrip("{").rstrip()
    return task.entry_point


def instruction_of(description: str, task: Task) -> str:
    return f"{description.strip()}\nUse this declaration: `{declaration(task)}`"


def build_seeds(languages: list[str], per_language: int, slice_name: str, data: Path | None,
                sandbox: Sandbox, console: Console) -> tuple[list[dict[str, Any]], dict[str, Counter[str]]]:
    ids = free_ids(data)
    benchmarks = [*EVAL_BENCHMARKS, *(f"multipl-e:{x}" for x in languages)]
    decon = Decontaminator.from_benchmarks(benchmarks, data)
    seeds, counts = [], {}
    for lang in languages:
        spec = parse_benchmark(f"mbxp:{lang}")
        rows = {str(r["task_id"]): r for r in read_jsonl_gz(locate(spec.relpath, data))}
        c: Counter[str] = Counter()
        candidates = []
        for task in load_tasks(spec, data):
            if number(task.task_id) not in ids:
                c["not_free"] += 1
                continue
            if not in_slice(task.task_id, slice_name):
                c["other_slice"] += 1
                continue
            description = str(rows[task.task_id].get("description") or "").strip()
            if not description:
                c["no_description"] += 1
                continue
            if decon.overlaps(description):
                c["benchmark_overlap"] += 1
                continue
            candidates.append((number(task.task_id), task, description))
        candidates.sort(key=lambda x: x[0])
        kept: list[dict[str, Any]] = []
        for start in range(0, len(candidates), per_language):  # references checked a chunk at a time
            if len(kept) >= per_language:
                c["beyond_limit"] += len(candidates) - start
                break
            chunk = candidates[start : start + per_language]
            # the canonical solution through the same assembly path as a model's answer
            jobs = {i: build_candidate(t, t.prompt + t.canonical, "instruct", Limits(timeout=20)).job
                    for i, (_, t, _) in enumerate(chunk) if t.canonical is not None}
            order = list(jobs)
            verdicts = {order[j]: res.verdict.value for j, res in sandbox.run_many([jobs[i] for i in order], concurrency=2)}
            for i, (_, task, description) in enumerate(chunk):
                if len(kept) >= per_language:
                    c["beyond_limit"] += 1
                elif i in verdicts and verdicts[i] != "passed":
                    c["reference_fails"] += 1
                else:
                    c["no_reference" if i not in verdicts else "reference_passes"] += 1
                    kept.append({"id": f"{lang}:{task.task_id}", "language": lang, "task_id": task.task_id,
                                 "instruction": instruction_of(description, task)})
        seeds += kept
        counts[lang] = c
        console.print(f"{lang}: {len(kept)} seeds {dict(c)}")
    return seeds, counts


# ----------------------------------------------------------------------------- one seed
def run_seed(team: Team, seed: dict[str, Any], task: Task) -> dict[str, Any]:
    """Today's pipeline on the seed, then agreement on top, then the hidden tests on every solution."""
    lang = seed["language"]
    agent = Agent(get_profile(lang), Memory(lang, 1, 0.7))
    sample = new_sample(seed["id"], "yardstick", agent, 0)
    sample["instruction"] = seed["instruction"]
    t0 = time.perf_counter()
    if write_solution(team, agent, sample, "solution", {**profile_vars(agent.profile), "instruction": sample["instruction"]}):
        test_and_score(team, agent, sample)  # today's verification (cfg.verify == "tests")
        tests_meter = dataclasses.asdict(team.caller.meter)
        sample["error"] = None  # no tests written: today's rule rejects (tests_verdict), agreement may not
        verify_by_agreement(dataclasses.replace(team, cfg=dataclasses.replace(team.cfg, verify="both")), agent, sample)
    else:
        tests_meter = dataclasses.asdict(team.caller.meter)
    codes = [s.get("code") for s in (sample.get("agreement") or {}).get("solutions", [])] or [sample["solution"]]
    hidden: list[str | None] = [None] * len(codes)
    jobs = {k: build_candidate(task, code, "instruct", Limits(timeout=20)).job for k, code in enumerate(codes) if code}
    order = list(jobs)
    for j, res in team.sandbox.run_many([jobs[k] for k in order], concurrency=2):
        hidden[order[j]] = res.verdict.value
    return {
        "id": seed["id"], "language": lang, "task_id": seed["task_id"], "instruction": sample["instruction"],
        "error": sample.get("error"), "tests_verdict": sample.get("tests_verdict") or sample.get("verdict"),
        "model_tests": sample.get("model_tests") or sample.get("tests"), "verdict": sample.get("verdict"),
        "agreement": sample.get("agreement"), "hidden": hidden, "solution0": sample["solution"] if not codes else codes[0],
        "meter_tests": tests_meter, "meter_all": dataclasses.asdict(team.caller.meter),
        "seconds": round(time.perf_counter() - t0, 2),
    }


# ----------------------------------------------------------------------------- scoring
def judge(row: dict[str, Any], votes: int | None, dual: bool) -> tuple[bool, bool | None, bool]:
    """(kept, kept solution right?, some solution the rule could keep is right) for one rule."""
    hidden = row["hidden"]
    if votes is None:
        kept = row["tests_verdict"] == "passed"
        right = hidden[0] == "passed" if hidden else False
        return kept, (right if kept else None), right
    ev = row.get("agreement")
    if not ev:
        return False, None, False
    caps = [Capture(s["outputs"], s["verdict"], unstable=s["unstable"]) for s in ev["solutions"]]
    clusters = cluster_solutions(caps, len(ev["calls"]), [s["tests_verdict"] == "passed" for s in ev["solutions"]])
    d = decide(clusters, min_votes=votes, dual=dual)
    any_right = any(h == "passed" for h in hidden)
    return d.kept, (hidden[d.solution] == "passed" if d.kept and d.solution is not None else None), any_right


def report(rows: list[dict[str, Any]], console: Console) -> tuple[list[dict[str, Any]], str]:
    """Per language and rule, plus a Markdown copy of the table for docs/results.md."""
    out = []
    langs = [x for x in LANGUAGES if any(r["language"] == x for r in rows)]
    for lang in [*langs, "all"]:
        sel = [r for r in rows if lang in ("all", r["language"])]
        for name, votes, dual in RULES:
            kept = right = ceiling = 0
            for r in sel:
                k, ok, reachable = judge(r, votes, dual)
                kept += k
                right += bool(ok)
                ceiling += reachable
            meter = "meter_tests" if votes is None else "meter_all"
            tokens = sum((r.get(meter) or {}).get("tokens", 0) for r in sel)
            calls = sum((r.get(meter) or {}).get("calls", 0) for r in sel)
            out.append({
                "language": lang, "rule": name, "proposed": len(sel), "kept": kept, "kept_right": right,
                "kept_wrong": kept - right, "right_available": ceiling,
                "yield": round(kept / len(sel), 3) if sel else None,
                "precision": round(right / kept, 3) if kept else None,
                "recall": round(right / ceiling, 3) if ceiling else None,
                "ceiling": round(ceiling / len(sel), 3) if sel else None,
                "tokens_per_kept": round(tokens / kept) if kept else None,
                "calls_per_kept": round(calls / kept, 1) if kept else None,
            })
    md = ["| language | rule | proposed | kept | right / wrong | yield | precision | recall | ceiling | tokens per kept |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['language']} | {r['rule']} | {r['proposed']} | {r['kept']} | {r['kept_right']} / {r['kept_wrong']} | "
           f"{r['yield']} | {r['precision']} | {r['recall']} | {r['ceiling']} | {r['tokens_per_kept']} |" for r in out]
    markdown = "\n".join(md) + "\n"
    table = Table(title="Agents verification against hidden tests")
    for col in ("language", "rule", "proposed", "kept", "right/wrong", "yield", "precision", "recall", "ceiling",
                "tokens/kept"):
        table.add_column(col)
    for r in out:
        table.add_row(r["language"], r["rule"], str(r["proposed"]), str(r["kept"]), f"{r['kept_right']}/{r['kept_wrong']}",
                      str(r["yield"]), str(r["precision"]), str(r["recall"]), str(r["ceiling"]), str(r["tokens_per_kept"]))
    console.print(table)
    return out, markdown


def yardstick(table: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary an agents run's report shows (``xinstruct.report.yardstick_view``)."""
    slices = sorted({name for r in rows for name in SLICES if in_slice(r["task_id"], name)})
    return {"benchmark": "data_quality", "command": " ".join(sys.argv),
            "slice": slices[0] if len(slices) == 1 else "+".join(slices) or None,
            "seeds": dict(Counter(r["language"] for r in rows)), "rules": table}


def attach_to(run: Path) -> Path:
    """``run``'s yardstick.json path, after checking ``run`` is an agents run directory."""
    manifest = run / "run.json"
    stage = json.loads(manifest.read_text()).get("stage") if manifest.exists() else None
    if stage != "agents":
        raise SystemExit(f"--run {run}: not an agents run directory (run.json stage: {stage})")
    return run / "yardstick.json"


def write_report(out: Path, rows: list[dict[str, Any]], console: Console, attach: Path | None = None) -> None:
    table, markdown = report(rows, console)
    (out / "report.json").write_text(json.dumps(table, indent=1))
    (out / "report.md").write_text(markdown)
    summary = json.dumps(yardstick(table, rows), indent=1)
    for path in (out / "yardstick.json", *([attach_to(attach)] if attach else [])):
        path.write_text(summary)


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--languages", default=",".join(LANGUAGES))
    ap.add_argument("--per-language", type=int, default=30)
    ap.add_argument("--slice", choices=SLICES, default="measure")
    ap.add_argument("--solutions", type=int, default=5, help="K solutions per task for agreement")
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--model", default=None, help="registered model name or GGUF path (default: embedded)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--parallel", type=int, default=8, help="decode slots")
    ap.add_argument("--concurrency", type=int, default=8, help="seeds worked on at once")
    ap.add_argument("--data", type=Path, default=None, help="benchmark data root (default: XINSTRUCT_DATA)")
    ap.add_argument("--report", action="store_true", help="only print the tables of finished seeds")
    ap.add_argument("--run", type=Path, default=None,
                    help="an agents run directory to write yardstick.json into (its report shows the tables)")
    args = ap.parse_args()
    data = args.data or (Path(os.environ["XINSTRUCT_DATA"]) if os.environ.get("XINSTRUCT_DATA") else None)
    console = Console()
    if args.run is not None:
        attach_to(args.run)  # a wrong --run stops now, not after the measurement
    args.out.mkdir(parents=True, exist_ok=True)
    samples_path = args.out / "samples.jsonl"
    done = {}
    if samples_path.exists():
        for line in samples_path.read_text().splitlines():
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line from a kill: that seed is redone (its calls are cached)
                done[row["id"]] = row
    if args.report:
        write_report(args.out, list(done.values()), console, args.run)
        return

    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    sandbox = Sandbox()
    seeds_path = args.out / f"seeds-{args.slice}.json"
    if seeds_path.exists():
        seeds = json.loads(seeds_path.read_text())["seeds"]
    else:
        seeds, counts = build_seeds(languages, args.per_language, args.slice, data, sandbox, console)
        seeds_path.write_text(json.dumps({"seeds": seeds, "counts": counts}, indent=1))
    seeds = [s for s in seeds if s["language"] in languages]
    per_lang: Counter[str] = Counter()
    picked = []
    for s in seeds:
        if per_lang[s["language"]] < args.per_language:
            per_lang[s["language"]] += 1
            picked.append(s)
    tasks = {t.task_id: t for lang in languages for t in load_tasks(parse_benchmark(f"mbxp:{lang}"), data)}
    # round-robin over languages, so that a run stopped early has about as many seeds of each
    position: Counter[str] = Counter()
    order = []
    for s in picked:
        order.append((position[s["language"]], languages.index(s["language"]), s))
        position[s["language"]] += 1
    todo = [s for _, _, s in sorted(order, key=lambda x: x[:2]) if s["id"] not in done]

    from xinstruct.llm.llamacpp import LlamaCppBackend
    from xinstruct.models import resolve_model

    model = resolve_model(args.model)
    engine = LlamaCppBackend(model, n_threads=args.threads, parallel=args.parallel)
    shared = CoalescingBackend(CachedBackend(engine, CallCache(args.out / "cache.sqlite")))
    cfg = AgentsConfig(languages=languages, reflection=False, memory=False, solutions=args.solutions, calls=args.calls,
                       verify="tests", concurrency=args.concurrency)
    cfg.validate()
    base = Team(cfg, Caller(shared, cfg.seed), sandbox, {}, [])
    lock = threading.Lock()
    console.print(f"{len(todo)} seeds to run ({len(picked) - len(todo)} done), model {model.name}")
    with make_progress() as progress, open(samples_path, "a") as fh:
        bar = progress.add_task("seeds", total=len(todo))

        def one(seed: dict[str, Any]) -> None:
            team = dataclasses.replace(base, caller=Caller(shared, cfg.seed))
            row = run_seed(team, seed, tasks[seed["task_id"]])
            with lock:
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                done[row["id"]] = row
                progress.update(bar, advance=1)

        with ThreadPoolExecutor(args.concurrency) as pool:
            for f in [pool.submit(one, s) for s in todo]:
                f.result()
    write_report(args.out, [done[s["id"]] for s in picked if s["id"] in done], console, args.run)


if __name__ == "__main__":
    main()
