"""Evaluation prompts (data in ``prompts/eval.yaml``) rendered into backend requests.

Instruct style prefills the reply up to the opening code fence, so the model starts writing code at
once and generation stops at the closing fence (saves the explanation tokens small models append).
Continue style asks, as the Qwen2.5-Coder report's MultiPL-E chat evaluation does, to complete the
given code and return all of it in a code block (the reply opens the fence); its answers are
extracted and spliced like instruct answers.
Completion style prefills the reply with the fenced code prompt itself, so the model continues the
function exactly like a base model would; it works through any backend that renders a chat template.
Base style sends the benchmark prompt verbatim with no chat template (a raw completion, as the
original HumanEval and MultiPL-E harnesses do for base models) and stops at the task's stop tokens.
"""

from __future__ import annotations

import functools
from typing import Any

from xinstruct.core.languages import display_name
from xinstruct.core.prompts import PromptFile, load_prompt_file
from xinstruct.eval.benchmarks import Task
from xinstruct.llm.base import GenerateRequest, SamplingParams

FENCE_TAGS = {"cpp": "cpp", "csharp": "csharp", "bash": "bash", "javascript": "javascript", "typescript": "typescript"}
_SCRIPTING = {"python", "bash", "php", "perl", "ruby", "lua", "javascript", "typescript", "r", "julia"}
PROMPT_STYLES = ("instruct", "continue", "completion", "base")


@functools.cache
def _prompt_file() -> PromptFile:
    return load_prompt_file("xinstruct.eval", "eval")


def templates() -> dict[str, Any]:
    return _prompt_file().data


def prompts_hash() -> str:
    """Recorded in run.json so a changed prompt file is visible when comparing runs."""
    return _prompt_file().sha256[:16]


def fence_tag(language: str) -> str:
    return FENCE_TAGS.get(language, language)


def _fields(task: Task) -> dict[str, str]:
    return {
        "display": display_name(task.language),
        "unit": "script" if task.language in _SCRIPTING else "program",
        "fence": fence_tag(task.language),
        "prompt": task.prompt.strip(),
    }


def build_request(task: Task, style: str, params: SamplingParams) -> GenerateRequest:
    """The generation request for one task (its hash keys the LLM call cache, so keep it deterministic)."""
    f = _fields(task)
    if style in ("instruct", "continue"):
        t = templates()[style]
        user = t["user"].format(**f)
        prefix = t["reply_prefix"].format(**f)
        stop = ("\n```",)
    elif style == "base":
        user = ""
        prefix = task.prompt
        stop = task.stop
    else:
        user = templates()["completion"]["user"].format(**f)
        prefix = f"```{f['fence']}\n{task.prompt}"
        stop = (*task.stop, "\n```")
    params = SamplingParams(
        n=params.n, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
        stop=tuple(dict.fromkeys((*params.stop, *stop))), repetition_penalty=params.repetition_penalty,
        seed=params.seed,
    )
    messages = ({"role": "user", "content": user},) if user else ()
    return GenerateRequest(messages=messages, params=params, prefix=prefix)


def raw_answer(request: GenerateRequest, completion: str) -> str:
    """What the model 'said': the prefilled reply start plus its continuation, closed if it stopped at the fence."""
    return request.prefix + completion
