"""Negative log-likelihood of a benchmark's canonical solutions under the evaluation prompt.

Pass@1 of a greedy sample flips on small changes; the likelihood the model gives the reference
solution, in exactly the context the evaluation uses (chat template, user turn, prefilled reply),
moves smoothly and is paired per task, so it shows what training did to the model without any
generation. It is computed with the exported weights before GGUF quantization (the merged
Hugging Face directory), in fp32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xinstruct.eval.benchmarks import Task
from xinstruct.eval.prompts import build_request
from xinstruct.llm.base import SamplingParams


def reference_text(task: Task, style: str) -> str | None:
    """What a perfect answer continues the prefilled reply with (None when the task has no canonical solution).

    Instruct and continue replies are prefilled up to the opening fence, so the answer is the whole
    function and the closing fence; completion replies already hold the prompt; base prompts are raw code.
    """
    if not task.canonical:
        return None
    if style in ("instruct", "continue"):
        return (task.prompt + task.canonical).rstrip("\n") + "\n```"
    if style == "completion":
        return task.canonical.rstrip("\n") + "\n```"
    return task.canonical


class NllScorer:
    """A merged Hugging Face model directory, loaded once, scoring reference answers token by token."""

    def __init__(self, model_dir: str | Path, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
        self.model.eval()

    def context(self, task: Task, style: str) -> str:
        """The text the model sees before its answer, rendered as the transformers backend renders it."""
        request = build_request(task, style, SamplingParams())
        if not request.messages:
            return request.prefix
        rendered = self.tokenizer.apply_chat_template(
            [dict(m) for m in request.messages], add_generation_prompt=True, tokenize=False
        )
        return str(rendered) + request.prefix

    def score(self, context: str, answer: str) -> tuple[float, int]:
        """Mean NLL per answer token (nats) and the number of answer tokens.

        The pair is tokenized as one text (as the model would have produced it) and the answer's
        tokens are those starting at or after the context's end.
        """
        torch = self.torch
        enc = self.tokenizer(context + answer, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        first = next((i for i, (start, _end) in enumerate(enc["offset_mapping"]) if start >= len(context)), len(ids))
        if first == 0 or first == len(ids):
            raise ValueError("the answer must follow a non-empty context and have tokens of its own")
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(ids[1:])
        token_lp = logprobs.gather(1, targets.unsqueeze(1)).squeeze(1)[first - 1:]
        return float(-token_lp.mean()), int(token_lp.numel())

    def score_tasks(self, tasks: Sequence[Task], style: str) -> dict[str, dict[str, Any]]:
        """task id -> {nll, tokens} for every task that has a canonical solution."""
        out = {}
        for task in tasks:
            answer = reference_text(task, style)
            if answer is None:
                continue
            nll, tokens = self.score(self.context(task, style), answer)
            out[task.task_id] = {"nll": round(nll, 6), "tokens": tokens}
        return out
