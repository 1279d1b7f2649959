"""Steps 2-4: summarize into candidates, judge each candidate, select.

Each step streams records and calls the backend per record, so a crash loses at most the
record in flight, and the call cache makes even that free to redo.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from xinstruct.core.pipeline import Step
from xinstruct.core.records import Record
from xinstruct.core.seeds import derive_seed
from xinstruct.inverse.roundtrip import roundtrip_order
from xinstruct.inverse.tasks import JudgeTask, SummarizeTask
from xinstruct.llm.base import Backend, GenerateRequest, PromptTooLong, SamplingParams, ScoreRequest


class Summarize(Step):
    """Adds ``candidates``: N instructions per snippet, each with its own prefix and seed."""

    name = "summarize"

    def __init__(self, backend: Backend, task: SummarizeTask, *, samples: int, temperature: float, top_p: float,
                 repetition_penalty: float, max_tokens: int, seed: int, want_logprobs: bool) -> None:
        super().__init__()
        self.backend = backend
        self.task = task
        self.samples = samples
        self.seed = seed
        self.base = SamplingParams(
            n=1, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
            stop=tuple(task.prompt.data.get("stop", ())), repetition_penalty=repetition_penalty,
            logprobs=want_logprobs,
        )
        self.completion_tokens = 0

    def requests(self, record: Record) -> list[GenerateRequest]:
        code, language = record.data["code"], record.data["language"]
        messages = tuple(self.task.format_input(code, language))
        out = []
        for i in range(self.samples):
            params = replace(self.base, seed=derive_seed(self.seed, "summarize", record.id, i))
            out.append(GenerateRequest(messages=messages, params=params, prefix=self.task.prefix(language, self.seed, record.id, i)))
        return out

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for record in records:
            requests = self.requests(record)
            candidates: list[dict[str, Any] | None] = [None] * len(requests)
            prompt_tokens = 0
            try:
                for i, result in self.backend.generate(requests):
                    completion = result.completions[0]
                    prompt_tokens += result.prompt_tokens
                    self.completion_tokens += completion.tokens
                    parsed = self.task.format_output(requests[i].prefix, completion.text)
                    candidates[i] = {
                        **parsed,
                        "prefix": requests[i].prefix,
                        "seed": requests[i].params.seed,
                        "finish_reason": completion.finish_reason,
                        "tokens": completion.tokens,
                        "perplexity": completion.perplexity,
                    }
            except PromptTooLong as exc:
                self.drop(record, "prompt_too_long", detail=str(exc))
                continue
            record.data["candidates"] = candidates
            record.data["prompt_tokens"] = record.data.get("prompt_tokens", 0) + prompt_tokens
            self.stats["candidates"] += len(candidates)
            for c in candidates:
                if c and c["instruction"] is None:
                    self.stats[f"rejected.{c.get('rejected') or 'empty'}"] += 1
            yield record


class Judge(Step):
    """Scores every candidate with the model's own Yes/No judgement of (instruction, code)."""

    name = "judge"

    def __init__(self, backend: Backend, task: JudgeTask) -> None:
        super().__init__()
        self.backend = backend
        self.task = task

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for record in records:
            code, language = record.data["code"], record.data["language"]
            candidates = record.data["candidates"]
            # Only what survived cleaning is judged: a rejected candidate cannot be selected, so
            # its score would cost a call and tell nothing (its row keeps score null and the reason).
            judged = [i for i, c in enumerate(candidates) if c.get("instruction")]
            for c in candidates:
                c.update(score=None, p_yes=None, p_no=None)
            requests = [
                ScoreRequest(
                    messages=tuple(self.task.format_input(candidates[i]["instruction"], code, language)),
                    candidates=self.task.candidates(),
                )
                for i in judged
            ]
            try:
                for j, result in self.backend.first_token_logprobs(requests):
                    record.data["prompt_tokens"] = record.data.get("prompt_tokens", 0) + result.prompt_tokens
                    candidates[judged[j]].update(self.task.format_output(result.logprobs))
            except PromptTooLong as exc:
                self.drop(record, "prompt_too_long", detail=str(exc))
                continue
            self.stats["judged"] += len(requests)
            yield record


def unusable_reason(candidates: list[dict[str, Any]]) -> str:
    """Why a snippet has no candidate to select: ``all_rejected.<reason>``, the commonest reason
    its candidates were rejected by cleaning (ties: the first in name order)."""
    reasons = Counter(c.get("rejected") for c in candidates if c.get("rejected"))
    if not reasons:
        return "no_usable_candidate"
    top = max(reasons.values())
    return f"all_rejected.{min(r for r, n in reasons.items() if n == top)}"


class Select(Step):
    """Marks the chosen candidate(s) of each snippet in ``selected``: one record per snippet leaves,
    also when nothing was chosen (``selected`` empty, ``unselected_reason`` set), so a resumed run
    knows the snippet is finished; the output rows are made from ``selected`` later."""

    name = "select"

    def __init__(self, method: str, *, seed: int, top_k: int = 2, threshold: float = 0.5) -> None:
        super().__init__()
        self.method = method
        self.seed = seed
        self.top_k = top_k
        self.threshold = threshold

    def choose(self, record: Record) -> list[int]:
        cands = record.data["candidates"]
        usable = [i for i, c in enumerate(cands) if c.get("instruction")]
        if not usable:
            return []
        by_score = sorted(usable, key=lambda i: (-(cands[i].get("score") or 0.0), i))
        if self.method == "best":
            return by_score[:1]
        if self.method == "topk":
            return by_score[: self.top_k]
        if self.method == "threshold":
            return [i for i in by_score[:1] if (cands[i].get("score") or 0.0) >= self.threshold]
        if self.method == "random":
            return [random.Random(derive_seed(self.seed, "select", record.id)).choice(usable)]
        if self.method == "roundtrip":
            return sorted(usable, key=lambda i: (tuple(-x for x in roundtrip_order(cands[i])), i))[:1]
        if self.method == "perplexity":
            scored = [i for i in usable if cands[i].get("perplexity") is not None]
            return sorted(scored, key=lambda i: (cands[i]["perplexity"], i))[:1]
        raise ValueError(f"unknown selection {self.method!r}")

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for record in records:
            chosen = self.choose(record)
            if not chosen:
                reason = "below_threshold" if self.method == "threshold" else unusable_reason(record.data["candidates"])
                self.stats[f"unselected.{reason}"] += 1
                # the record still leaves this step (marked) so the run knows it is finished
                record.data["selected"] = []
                record.data["unselected_reason"] = reason
                yield record
                continue
            record.data["selected"] = chosen
            self.stats["selected"] += len(chosen)
            yield record
