"""xinstruct's llama.cpp backend against raw llama-cpp-python on the same prompts, interleaved.

Two Llama instances with the same settings (so neither reuses the other's KV cache); for each
prompt both run greedy generation of the same rendered text, alternating which goes first, so
load from other processes on a shared machine hits both alike. The ratio must be >= 0.95.

    .venv/bin/python benchmarks/engine_overhead.py --prompts 8 --max-tokens 64
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console
from rich.table import Table

from xinstruct.llm.base import GenerateRequest, SamplingParams
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model

TASKS = [
    "Write a Python function that returns the n-th Fibonacci number.",
    "Write a Python function that checks whether a string is a palindrome.",
    "Write a Python function that merges two sorted lists.",
    "Write a Python function that counts the words in a text file.",
    "Write a Python function that flattens a nested list.",
    "Write a Python function that parses an ISO date string.",
    "Write a Python function that returns the prime factors of n.",
    "Write a Python function that removes duplicates from a list, keeping order.",
    "Write a Python function that transposes a matrix given as a list of lists.",
    "Write a Python function that computes the edit distance between two strings.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--n-ctx", type=int, default=4096)
    args = ap.parse_args()
    from llama_cpp import Llama

    model = resolve_model(None)
    backend = LlamaCppBackend(model, n_ctx=args.n_ctx)
    raw = Llama(model_path=str(model.path), n_ctx=args.n_ctx, n_threads=os.cpu_count() or 1, n_batch=512,
                logits_all=False, verbose=False)  # fmt: skip
    requests = [
        GenerateRequest(({"role": "user", "content": TASKS[i % len(TASKS)]},), SamplingParams(max_tokens=args.max_tokens))
        for i in range(args.prompts)
    ]
    # warm both (first-call allocations), outside the measurement
    list(backend.generate([GenerateRequest(({"role": "user", "content": "hi"},), SamplingParams(max_tokens=4))]))
    raw.create_completion(prompt=backend.template.render(({"role": "user", "content": "hi"},)), max_tokens=4)

    def run_raw(request: GenerateRequest) -> tuple[float, int, str]:
        started = time.perf_counter()
        out: dict = raw.create_completion(  # type: ignore[assignment]
            prompt=backend.template.render(request.messages), max_tokens=args.max_tokens, temperature=0.0,
            top_p=1.0, top_k=0, min_p=0.0, repeat_penalty=1.0,
        )  # fmt: skip
        return time.perf_counter() - started, int(out["usage"]["completion_tokens"]), out["choices"][0]["text"]

    def run_ours(request: GenerateRequest) -> tuple[float, int, str]:
        started = time.perf_counter()
        [(_, res)] = list(backend.generate([request]))
        return time.perf_counter() - started, res.completion_tokens, res.completions[0].text

    table = Table(title=f"greedy generation, {args.max_tokens} new tokens, side by side")
    for col in ("prompt", "raw s", "xinstruct s", "tokens", "raw tok/s", "xinstruct tok/s", "same text"):
        table.add_column(col, justify="right")
    totals = {"raw": [0.0, 0], "ours": [0.0, 0]}
    for i, request in enumerate(requests):
        order = [("raw", run_raw), ("ours", run_ours)]
        if i % 2:
            order.reverse()
        got = {name: fn(request) for name, fn in order}
        for name in totals:
            totals[name][0] += got[name][0]
            totals[name][1] += got[name][1]
        (rs, rt, rtext), (os_, ot, otext) = got["raw"], got["ours"]
        table.add_row(str(i), f"{rs:.2f}", f"{os_:.2f}", f"{rt}/{ot}", f"{rt / rs:.1f}", f"{ot / os_:.1f}", str(rtext == otext))
    raw_tps = totals["raw"][1] / totals["raw"][0]
    our_tps = totals["ours"][1] / totals["ours"][0]
    table.add_row("all", f"{totals['raw'][0]:.2f}", f"{totals['ours'][0]:.2f}", f"{totals['raw'][1]}/{totals['ours'][1]}",
                  f"{raw_tps:.1f}", f"{our_tps:.1f}", "")  # fmt: skip
    console = Console()
    console.print(table)
    ratio = our_tps / raw_tps
    console.print(f"xinstruct / raw tokens/s = {ratio:.3f} ({'OK' if ratio >= 0.95 else 'BELOW 0.95'})")
    backend.close()
    raw.close()


if __name__ == "__main__":
    main()
