"""Inverse-Instruct throughput on the embedded model, and its decode speed against the raw engine.

Runs the real pipeline on the shipped demo input (fresh run directory), then replays the same
summarize prompts (same rendered text, prefixes, seeds, max_tokens) through raw llama-cpp-python
``create_completion`` in the same process, so the ratio is measured side by side.

    .venv/bin/python benchmarks/inverse_throughput.py --limit 8 --samples 4
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from xinstruct.core.seeds import derive_seed
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.inverse.tasks import SummarizeTask
from xinstruct.inverse.templates import load_prompt
from xinstruct.llm.factory import BackendConfig
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model
from xinstruct.readers import ReaderConfig

DEMO = Path(__file__).resolve().parents[1] / "examples" / "inverse" / "demo.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()
    backend = LlamaCppBackend(resolve_model(None))
    out = Path(tempfile.mkdtemp(prefix="xinstruct-bench-"))
    cfg = InverseConfig(samples=args.samples, limit=args.limit, max_tokens=args.max_tokens)
    t0 = time.perf_counter()
    summary = run_inverse(DEMO, out / "run", cfg, BackendConfig(), ReaderConfig(), backend=backend)
    wall = time.perf_counter() - t0
    results = [json.loads(line) for line in (out / "run" / "shards" / "results-00000.jsonl").read_text().splitlines()]

    # replay the summarize calls on the raw engine
    task = SummarizeTask(load_prompt("summarize"))
    llm = backend.llm
    raw_tokens, raw_seconds, ours_tokens = 0, 0.0, 0
    for r in results:
        messages = task.format_input(r["code"], r["language"])
        for i, cand in enumerate(r["candidates"]):
            prompt = backend.template.render(messages, cand["prefix"])
            start = time.perf_counter()
            o = llm.create_completion(
                prompt=prompt, max_tokens=args.max_tokens, temperature=cfg.temperature, top_p=cfg.top_p, top_k=0,
                min_p=0.0, repeat_penalty=cfg.repetition_penalty, stop=["```"],
                seed=derive_seed(derive_seed(cfg.seed, "summarize", r["id"], i), 0),
            )
            raw_seconds += time.perf_counter() - start
            raw_tokens += o["usage"]["completion_tokens"]
            ours_tokens += cand["tokens"]
    shutil.rmtree(out)
    table = Table(title="Inverse-Instruct throughput (embedded model, 2 threads)")
    for col in ("what", "value"):
        table.add_column(col)
    table.add_row("snippets", str(summary["snippets_finished"]))
    table.add_row("candidates per snippet", str(args.samples))
    table.add_row("end-to-end wall seconds (summarize + judge + write)", f"{wall:.1f}")
    table.add_row("snippets per minute", f"{60 * summary['snippets_finished'] / wall:.2f}")
    table.add_row("completion tokens (pipeline / raw replay)", f"{ours_tokens} / {raw_tokens}")
    table.add_row("raw engine summarize-only tokens/s", f"{raw_tokens / raw_seconds:.1f}")
    table.add_row("pipeline completion tokens/s over its whole wall time", f"{ours_tokens / wall:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
