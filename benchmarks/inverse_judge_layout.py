"""Judge cost per snippet, paper vs code-first layout, side by side on the same candidates.

Reads the candidates of a finished inverse run directory (e.g. ``benchmarks/inverse_roundtrip.py
--slice tune``'s ``OUT/inverse``) and judges each snippet's cleaned candidates with both packaged
judge prompts through the real llama.cpp backend, in the pipeline's order (a snippet's N prompts
one after the other), alternating which layout goes first. Per snippet: prompt tokens scored,
prompt tokens evaluated (the rest reuse the KV cells of the previous prompt's common prefix, cut to
the prefill chunk), seconds; and whether both layouts select the same candidate.

    .venv/bin/python benchmarks/inverse_judge_layout.py --run /work/runs/rt-tune/inverse --limit 40

``--tokens-only`` counts without evaluating: the model's tokenizer and chat template, and the
backend's own reuse rule (``llamacpp_batch.reusable_prefix``), give the same token figures in
seconds on a loaded machine (no scores, so no seconds and no selection column).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from xinstruct.core.runs import read_jsonl
from xinstruct.core.tables import table_console
from xinstruct.inverse.config import JUDGE_LAYOUTS, JUDGE_PROMPTS
from xinstruct.inverse.tasks import JudgeTask
from xinstruct.inverse.templates import load_prompt
from xinstruct.llm.base import ScoreRequest, ScoreResult
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.llm.llamacpp_batch import reusable_prefix
from xinstruct.llm.template import ChatTemplate
from xinstruct.models import resolve_model
from xinstruct.models.registry import ModelRef


def snippets(run: Path, limit: int) -> list[dict[str, Any]]:
    """Finished snippets with at least two judged candidates, in input order."""
    rows = sorted((r for shard in sorted((run / "shards").glob("results-*.jsonl")) for r in read_jsonl(shard)),
                  key=lambda r: r["order"])
    usable = [r for r in rows if r.get("status") == "ok" and sum(1 for c in r["candidates"] if c.get("instruction")) >= 2]
    return usable[:limit]


class TokenCounter:
    """What ``LlamaCppBackend.first_token_logprobs`` evaluates, counted without running the model."""

    def __init__(self, model: ModelRef) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(model.path), vocab_only=True, verbose=False)
        self.template = ChatTemplate(source=self.llm.metadata["tokenizer.chat_template"])
        self.cached: list[int] = []
        self.scored_prompt_tokens = self.evaluated_prompt_tokens = 0

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        for index, request in enumerate(requests):
            text = self.template.render(request.messages, request.prefix)
            tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            self.scored_prompt_tokens += len(tokens)
            self.evaluated_prompt_tokens += len(tokens) - reusable_prefix(self.cached, tokens)
            self.cached = tokens
            yield index, ScoreResult(logprobs={}, prompt_tokens=len(tokens))

    def close(self) -> None:
        self.llm.close()


def judge_one(backend: LlamaCppBackend | TokenCounter, task: JudgeTask, row: dict[str, Any]) -> dict[str, Any]:
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
    ap.add_argument("--tokens-only", action="store_true", help="count tokens with the tokenizer; evaluate nothing")
    args = ap.parse_args()
    rows = snippets(args.run, args.limit)
    if not rows:
        raise SystemExit(f"{args.run}: no finished snippet with two judged candidates")
    tasks = {layout: JudgeTask(load_prompt(JUDGE_PROMPTS[layout])) for layout in JUDGE_LAYOUTS}
    model = resolve_model(args.model)
    backend = TokenCounter(model) if args.tokens_only else LlamaCppBackend(model, n_threads=args.threads, parallel=1)
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
        seconds = "-" if args.tokens_only else f"{statistics.fmean(r['seconds'] for r in results):.2f}"
        table.add_row(layout, f"{scored:.0f}", f"{evaluated:.0f}", f"{evaluated / scored:.1%}", seconds,
                      "-" if args.tokens_only else f"{same}/{len(results)}")
    table_console().print(table)
    if args.out is not None:
        args.out.write_text(json.dumps({"run": str(args.run), "ids": [r["id"] for r in rows], "per_snippet": per}, indent=1))


if __name__ == "__main__":
    main()
