"""Judge cost per snippet, paper vs code-first layout, side by side on the same candidates.

Reads the candidates of a finished inverse run directory (e.g. ``benchmarks/inverse_roundtrip.py
--slice tune``'s ``OUT/inverse``) and judges each snippet's cleaned candidates with both packaged
judge prompts through the real llama.cpp backend, in the pipeline's order (a snippet's N prompts
one after the other), alternating which layout goes first. Per snippet: prompt tokens scored,
prompt tokens evaluated (the rest reuse the KV cells of the previous prompt's common prefix, cut to
the prefill chunk), seconds; and whether both layouts select the same candidate.

    .venv/bin/python benchmarks/inverse_judge_layout.py --run /work/runs/rt-tune/inverse --limit 40
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from xinstruct.core.runs import read_jsonl
from xinstruct.core.tables import table_console
from xinstruct.inverse.config import JUDGE_LAYOUTS, JUDGE_PROMPTS
from xinstruct.inverse.tasks import JudgeTask
from xinstruct.inverse.templates import load_prompt
from xinstruct.llm.base import ScoreRequest
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model


def snippets(run: Path, limit: int) -> list[dict[str, Any]]:
    """Finished snippets with at least two judged candidates, in input order."""
    rows = sorted((r for shard in sorted((run / "shards").glob("results-*.jsonl")) for r in read_jsonl(shard)),
                  key=lambda r: r["order"])
    usable = [r for r in rows if r.get("status") == "ok" and sum(1 for c in r["candidates"] if c.get("instruction")) >= 2]
    return usable[:limit]


def judge_one(backend: LlamaCppBackend, task: JudgeTask, row: dict[str, Any]) -> dict[str, Any]:
    instructions = [c["instruction"] for c in row["candidates"] if c.get("instruction")]
    requests = [ScoreRequest(tuple(task.format_input(text, row["code"], row["language"])), task.candidates())
                for text in instructions]
    scored, evaluated = backend.scored_prompt_tokens, backend.evaluated_prompt_tokens
    started = time.perf_counter()
    scores = [task.format_output(r.logprobs)["score"] or 0.0 for _, r in backend.first_token_logprobs(requests)]
    return {"seconds": time.perf_counter() - started, "scored": backend.scored_prompt_tokens - scored,
            "evaluated": backend.evaluated_prompt_tokens - evaluated, "prompts": len(requests),
            "best": max(range(len(scores)), key=lambda i: (scores[i], -i)), "scores": scores}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="an inverse run directory")
    ap.add_argument("--limit", type=int, default=40, help="snippets")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="write the per-snippet figures as JSON here")
    args = ap.parse_args()
    rows = snippets(args.run, args.limit)
    if not rows:
        raise SystemExit(f"{args.run}: no finished snippet with two judged candidates")
    tasks = {layout: JudgeTask(load_prompt(JUDGE_PROMPTS[layout])) for layout in JUDGE_LAYOUTS}
    backend = LlamaCppBackend(resolve_model(args.model), n_threads=args.threads, parallel=1)
    per: dict[str, list[dict[str, Any]]] = {layout: [] for layout in JUDGE_LAYOUTS}
    for k, row in enumerate(rows):
        for layout in (JUDGE_LAYOUTS if k % 2 == 0 else JUDGE_LAYOUTS[::-1]):
            per[layout].append(judge_one(backend, tasks[layout], row))
    backend.close()

    table = Table(title=f"Judge prompt tokens per snippet, {len(rows)} snippets of {args.run} "
                        f"({statistics.fmean(p['prompts'] for p in per['paper']):.1f} candidates each)")
    for col in ("layout", "tokens scored / snippet", "tokens evaluated / snippet", "evaluated share",
                "seconds / snippet", "same selection as paper"):
        table.add_column(col, justify="right")
    for layout, results in per.items():
        scored = statistics.fmean(r["scored"] for r in results)
        evaluated = statistics.fmean(r["evaluated"] for r in results)
        same = sum(a["best"] == b["best"] for a, b in zip(results, per["paper"], strict=True))
        table.add_row(layout, f"{scored:.0f}", f"{evaluated:.0f}", f"{evaluated / scored:.1%}",
                      f"{statistics.fmean(r['seconds'] for r in results):.2f}", f"{same}/{len(results)}")
    table_console().print(table)
    if args.out is not None:
        args.out.write_text(json.dumps({"run": str(args.run), "ids": [r["id"] for r in rows], "per_snippet": per}, indent=1))


if __name__ == "__main__":
    main()
