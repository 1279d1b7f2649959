"""Yield of ``xinstruct agents`` on the embedded model: per-language proposed / admitted / passed,
tokens per kept sample and time, for centralized vs parallel collaboration and for memory +
reflection on vs off. One llama.cpp instance serves every configuration; the seed-stage calls
(identical prompts and seeds) are shared between configurations by copying the call cache.

    python benchmarks/agents_yield.py --out runs/bench-agents --rounds 3          # full (slow)
    python benchmarks/agents_yield.py --out runs/bench-agents --rounds 1 --limit 7 # what fits in ~1 h
    # more configurations later, reusing the seed stage of the first invocation
    python benchmarks/agents_yield.py --out runs/bench-agents-b --configs parallel \
        --seed-cache runs/bench-agents/centralized/llm-cache.sqlite
    # the tables of both invocations merged; or finished runs compared on their first N rounds
    python benchmarks/agents_yield.py --report runs/bench-agents/results.json runs/bench-agents-b/results.json
    python benchmarks/agents_yield.py --compare runs/bench-agents/centralized runs/bench-agents-b/parallel --max-round 3
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.agents.calls import Caller
from xinstruct.agents.cli import summary_table
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.pipeline import AgentsRun
from xinstruct.agents.profiles import DEFAULT_LANGUAGES, get_profile
from xinstruct.agents.scorer import score_sample
from xinstruct.agents.verify import verify
from xinstruct.core.cache import CallCache
from xinstruct.core.config import build_config
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model
from xinstruct.sandbox import Limits, Sandbox

CONFIGS: dict[str, dict[str, Any]] = {
    "centralized": {"mode": "centralized"},
    "parallel": {"mode": "parallel"},
    "centralized-no-memory-no-reflection": {"mode": "centralized", "memory": False, "reflection": False},
}


def copy_cache(src: Path, dst: Path) -> None:
    """Seed the destination's call cache with the source's finished calls (keys are exact)."""
    if not src.exists() or dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def rescore(backend: Any, run_dir: Path) -> list[dict[str, Any]]:
    """Every proposal of a run that has a task and a solution, scored by the expected-rating scorer
    with the verdict the sandbox gave it (calls cached in the run's cache under their own keys)."""
    rows = [json.loads(x) for name in ("sft.jsonl", "rejected.jsonl")
            for x in (run_dir / name).read_text().splitlines() if x.strip()]
    cache = CallCache(run_dir / "llm-cache.sqlite")
    caller = Caller(CachedBackend(backend, cache), 0)
    out = []
    for row in rows:
        if not row.get("instruction") or not row.get("solution"):
            continue
        scores = score_sample(caller, get_profile(row["language"]), row, f"rescore:{row.get('id')}", 96)["scores"]
        out.append({"stage": row["stage"], "round": row.get("round", 0), "language": row["language"],
                    "verdict": row.get("verdict"), "repairs": row.get("repairs") or 0,
                    "total": (scores or {}).get("total")})
    cache.close()
    return out


def describe(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 3) if xs else None

    rounds = [r for r in rows if not r["stage"].startswith("seed")]
    passed = [r for r in rounds if r["verdict"] == "passed"]
    return {
        "round_n": len(rounds),
        "round_pass_rate": round(len(passed) / len(rounds), 3) if rounds else None,
        "round_first_try_rate": round(sum(not r["repairs"] for r in passed) / len(rounds), 3) if rounds else None,
        "round_total": mean([r["total"] for r in rounds if r["total"] is not None]),
        "passed_total": mean([r["total"] for r in rows if r["verdict"] == "passed" and r["total"] is not None]),
        "failed_total": mean([r["total"] for r in rows if r["verdict"] != "passed" and r["total"] is not None]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="examples/agents/seed.jsonl")
    ap.add_argument("--out", default="runs/bench-agents")
    ap.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--dpo-samples", type=int, default=0)
    ap.add_argument("--memory-size", type=int, default=4)
    ap.add_argument("--critics", type=int, default=1)
    ap.add_argument("--solution-tokens", type=int, default=256)
    ap.add_argument("--tests-tokens", type=int, default=160)
    ap.add_argument("--instruction-tokens", type=int, default=96)
    ap.add_argument("--repair-rounds", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=8, help="samples in flight; their calls decode together")
    ap.add_argument("--parallel", type=int, default=8, help="llama.cpp decode slots")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed-cache", type=Path, default=None,
                    help="call cache of an earlier run of this script (same seeds and caps): its seed stage is reused")
    ap.add_argument("--report", type=Path, nargs="+", default=None,
                    help="only print the tables of earlier invocations' results.json files, merged")
    ap.add_argument("--compare", type=Path, nargs="+", default=None,
                    help="only compare finished config directories (e.g. OUT/parallel) up to --max-round")
    ap.add_argument("--max-round", type=int, default=None)
    args = ap.parse_args()
    if args.compare:
        compare(args.compare, args.max_round, args.threads)
        return
    if args.report:
        report({k: v for f in args.report for k, v in json.loads(f.read_text())["results"].items()})
        return

    console = Console(stderr=True)
    out = Path(args.out)
    backend = LlamaCppBackend(resolve_model(None), n_ctx=4096, n_threads=args.threads, parallel=args.parallel)
    results: dict[str, Any] = {}
    rescored: dict[str, list[dict[str, Any]]] = {}
    first_cache: Path | None = args.seed_cache
    for name in args.configs.split(","):
        values = {
            "languages": args.languages, "rounds": args.rounds, "limit": args.limit, "dpo_samples": args.dpo_samples,
            "memory_size": args.memory_size, "critics": args.critics, "solution_tokens": args.solution_tokens,
            "tests_tokens": args.tests_tokens, "instruction_tokens": args.instruction_tokens,
            "critique_tokens": 64, "repair_rounds": args.repair_rounds, "concurrency": args.concurrency,
            **CONFIGS[name],
        }
        cfg = build_config(AgentsConfig, values, where=name)
        run_dir = out / name
        if first_cache is not None:
            copy_cache(first_cache, run_dir / "llm-cache.sqlite")
        started = time.perf_counter()
        summary = AgentsRun(cfg, args.input, run_dir, backend, console=console).execute()
        summary["bench_wall_seconds"] = round(time.perf_counter() - started, 1)
        results[name] = summary
        first_cache = first_cache or run_dir / "llm-cache.sqlite"
        console.print(summary_table(summary))
        rescored[name] = rescore(backend, run_dir)
        summary["rescored"] = describe(rescored[name])
        (out / "results.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2, default=str) + "\n")
    backend.close()

    report(results)


def reverify(run_dir: Path) -> dict[str, int]:
    """The kept samples of a run checked again by the current verification (e.g. after a stricter
    check landed): verdict counts, no LLM calls."""
    sandbox, counts = Sandbox(prestart=0), {}
    for line in (run_dir / "sft.jsonl").read_text().splitlines():
        row = json.loads(line)
        verdict = verify(sandbox, row["language"], row["solution"], row["tests"], Limits(timeout=30))["verdict"]
        counts[verdict] = counts.get(verdict, 0) + 1
    return counts


def compare(run_dirs: list[Path], max_round: int | None, threads: int | None) -> None:
    """Configs of different invocations (or round counts) side by side on their first rounds: the
    rescoring calls are cached in each run, so this costs no generation for rounds already scored."""
    backend = LlamaCppBackend(resolve_model(None), n_ctx=4096, n_threads=threads, parallel=1)
    print(f"\nrounds 1..{max_round}: | config | round samples | passed (1st try) | pass rate | round mean total "
          "| passed mean total | failed mean total | tokens per passed round sample | per language passed/proposed "
          "| kept (all rounds) re-verified now |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run_dir in run_dirs:
        rows = [r for r in rescore(backend, run_dir) if max_round is None or r["round"] <= max_round]
        d = describe(rows)
        rounds = [r for r in rows if not r["stage"].startswith("seed")]
        passed = [r for r in rounds if r["verdict"] == "passed"]
        first = sum(not r["repairs"] for r in passed)
        events = [json.loads(x) for x in (run_dir / "shards" / "events-00000.jsonl").read_text().splitlines() if x.strip()]
        tokens = sum(e.get("tokens") or 0 for e in events
                     if not e["stage"].startswith("seed") and (max_round is None or e["round"] <= max_round))
        per_tok = round(tokens / len(passed)) if passed else "-"
        langs = sorted({r["language"] for r in rounds})
        cells = ", ".join(f"{lang} {sum(r['verdict'] == 'passed' for r in rounds if r['language'] == lang)}/"
                          f"{sum(r['language'] == lang for r in rounds)}" for lang in langs)
        print(f"| {run_dir.parent.name}/{run_dir.name} | {d['round_n']} | {len(passed)} ({first}) | {d['round_pass_rate']} | {d['round_total']} "
              f"| {d['passed_total']} | {d['failed_total']} | {per_tok} | {cells} | {reverify(run_dir)} |")
    backend.close()


def report(results: dict[str, Any]) -> None:
    print("\n| config | stage | proposed | passed (1st try) | kept | pass rate | mean total | tokens/kept | new tokens | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, s in results.items():
        for stage, st in s["by_stage"].items():
            rate = st.get("passed", 0) / st["proposed"] if st.get("proposed") else 0
            print(f"| {name} | {stage} | {st.get('proposed', 0)} | {st.get('passed', 0)} | {st.get('kept', 0)} | {rate:.2f} | | | | |")
        t = s["totals"]
        totals = [r["mean_scores"].get("total") for r in s["per_language"].values() if r["mean_scores"].get("total")]
        mean_total = f"{sum(totals) / len(totals):.2f}" if totals else "-"
        print(f"| {name} | all | {t['proposed']} | {t['passed']} ({t['passed_first_try']}) | {t['kept']} | {s['pass_rate']} | {mean_total} | "
              f"{s['tokens_per_kept']} | {t['new_tokens']} | {s['bench_wall_seconds']} |")
    print("\nEvery sample scored afterwards by one scorer (expected ratings; the same for every config, so")
    print("totals compare across configs, also with reflection off), round samples and all samples:")
    print("\n| config | round samples | round pass rate (1st try) | round mean total | passed mean total | failed mean total |")
    print("|---|---|---|---|---|---|")
    for name, s in results.items():
        d = s["rescored"]
        print(f"| {name} | {d['round_n']} | {d['round_pass_rate']} ({d['round_first_try_rate']}) | {d['round_total']} | "
              f"{d['passed_total']} | {d['failed_total']} |")
    print("\nper language (proposed/admitted/passed/passed first try/kept):")
    for name, s in results.items():
        cells = ", ".join(f"{lang} {r['proposed']}/{r['admitted']}/{r['passed']}/{r['passed_first_try']}/{r['kept']}"
                          for lang, r in s["per_language"].items())
        print(f"- {name}: {cells}")


if __name__ == "__main__":
    main()
