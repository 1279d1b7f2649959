"""OpenAIBackend throughput against llama-cpp-python's server on loopback, 1/2/4 requests in flight.

llama-cpp-python's server serialises requests (one model, one lock), so more requests in flight
only hide the round-trip latency; a batching server (vLLM, SGLang, llama.cpp's own llama-server
with --parallel) is what turns concurrency into throughput.

    .venv/bin/python benchmarks/http_throughput.py --prompts 8 --max-tokens 32
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _llama_server import start_llama_server
from rich.console import Console
from rich.table import Table

from xinstruct.llm.base import GenerateRequest, SamplingParams
from xinstruct.llm.openai import OpenAIBackend
from xinstruct.models import resolve_model

TASKS = [
    "Write a Python function that returns the n-th Fibonacci number.",
    "Write a Python function that checks whether a string is a palindrome.",
    "Write a Python function that merges two sorted lists.",
    "Write a Python function that flattens a nested list.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--levels", default="1,2,4")
    args = ap.parse_args()
    model = resolve_model(None)
    requests = [
        GenerateRequest(
            ({"role": "user", "content": TASKS[i % len(TASKS)] + f" (variant {i})"},),
            SamplingParams(max_tokens=args.max_tokens, temperature=0.0),
        )
        for i in range(args.prompts)
    ]
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_llama_server(model.path, Path(tmp) / "server.log", logits_all=False)
        try:
            table = Table(title=f"OpenAIBackend -> llama_cpp.server (loopback), {args.prompts} prompts x {args.max_tokens} tokens")
            for col in ("in flight", "seconds", "requests/s", "tokens/s"):
                table.add_column(col, justify="right")
            warm = OpenAIBackend(url, model, api="completions")
            list(warm.generate(requests[:1]))
            for level in (int(x) for x in args.levels.split(",")):
                backend = OpenAIBackend(url, model, api="completions", concurrency=level, timeout=600)
                backend.served_model()
                started = time.perf_counter()
                results = dict(backend.generate(requests))
                elapsed = time.perf_counter() - started
                tokens = sum(r.completion_tokens for r in results.values())
                table.add_row(str(level), f"{elapsed:.1f}", f"{len(results) / elapsed:.2f}", f"{tokens / elapsed:.1f}")
            console.print(table)
            console.print("note: llama-cpp-python's server serialises requests; concurrency only overlaps HTTP round trips.")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
