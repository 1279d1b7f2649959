"""Continuous batching in the llama.cpp backend: throughput by number of slots, side by side.

The same requests (HumanEval+ prompts, greedy; then N=``--samples`` sampled candidates of one
prompt, the Inverse-Instruct shape) run through backends with 1, 2, 4 and 8 slots in one process,
one after another (run it on a quiet machine; the table says how long each took). Greedy texts are compared with the
1-slot run: batched matrix products may round differently, which can flip a near-tie argmax.

    .venv/bin/python benchmarks/batch_decoding.py --prompts 8 --max-tokens 128 --slots 1,2,4,8
"""

from __future__ import annotations

import argparse
import time

from _humaneval import load_humaneval  # type: ignore[import-not-found]
from rich.console import Console
from rich.table import Table

from xinstruct.llm.base import GenerateRequest, SamplingParams
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument(
        "--samples", type=int, default=8, help="sampled candidates of one prompt (second workload)"
    )
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--slots", default="1,2,4,8")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    slots = [int(s) for s in args.slots.split(",")]
    model = resolve_model(None)
    problems = load_humaneval()[: args.prompts]
    greedy = [
        GenerateRequest(({"role": "user", "content": "Complete this Python function.\n```python\n" + p["prompt"] + "```"},),
                        SamplingParams(max_tokens=args.max_tokens))
        for p in problems
    ]  # fmt: skip
    sampled = [
        GenerateRequest(({"role": "user", "content": "Explain what this code does.\n```python\n" + problems[0]["prompt"] + "```"},),
                        SamplingParams(max_tokens=args.max_tokens, temperature=0.8, top_p=0.95, seed=i))
        for i in range(args.samples)
    ]  # fmt: skip
    backends = {n: LlamaCppBackend(model, parallel=n, n_threads=args.threads) for n in slots}
    for b in backends.values():  # warm-up outside the measurement
        list(
            b.generate([GenerateRequest(({"role": "user", "content": "hi"},), SamplingParams(max_tokens=4))])
        )
    figures: dict[tuple[str, int], tuple[float, int, list[str]]] = {}
    for workload, requests in (("greedy, distinct prompts", greedy), ("sampled, one prompt", sampled)):
        for n in slots:
            started = time.perf_counter()
            results = dict(backends[n].generate(requests))
            seconds = time.perf_counter() - started
            texts = [results[i].completions[0].text for i in range(len(requests))]
            figures[(workload, n)] = (seconds, sum(r.completion_tokens for r in results.values()), texts)
    table = Table(title=f"continuous batching, {args.max_tokens} max new tokens")
    for col in (
        "workload",
        "slots",
        "requests",
        "tokens",
        "seconds",
        "tok/s",
        "speed-up",
        "same text as 1 slot",
    ):
        table.add_column(col, justify="right")
    for (workload, n), (seconds, tokens, texts) in figures.items():
        base_s, base_tok, base_texts = figures[(workload, slots[0])]
        same = sum(a == b for a, b in zip(texts, base_texts, strict=True))
        table.add_row(workload, str(n), str(len(texts)), str(tokens), f"{seconds:.1f}", f"{tokens / seconds:.1f}",
                      f"{(tokens / seconds) / (base_tok / base_s):.2f}x", f"{same}/{len(texts)}")  # fmt: skip
    Console(width=160).print(table)
    for b in backends.values():
        b.close()


if __name__ == "__main__":
    main()
