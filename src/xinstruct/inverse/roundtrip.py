"""Round trip as a selector: a candidate instruction is as good as the code it makes the model
write again. For each candidate the model writes code from the instruction alone (told the function's
name); the original and each regenerated program run on the same model-written calls in the sandbox
(``sandbox/capture.py``), and a candidate's ``roundtrip`` score is the share of calls on which the
regenerated code returns what the original returns. Only for languages whose harness calls
top-level functions; other snippets keep ``roundtrip: null`` and fall back to p(Yes) (counted).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from xinstruct.core.code_analysis import defined_names, sanitize_python
from xinstruct.core.fences import fence, first_fenced_block
from xinstruct.core.languages import display_name
from xinstruct.core.pipeline import Step
from xinstruct.core.prompts import PromptFile
from xinstruct.core.records import Record
from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import Backend, GenerateRequest, SamplingParams
from xinstruct.sandbox import Limits, Sandbox
from xinstruct.sandbox.capture import is_value, parse_calls, run_capture

LANGUAGES = ("python", "javascript", "typescript", "php", "cpp", "bash")
"""Where the original snippet's functions are called as they are (Java/C# need a class around them)."""
MIN_VALUES = 2


def main_name(code: str, language: str) -> str | None:
    """The function the snippet is about: the last one it defines (helpers come first)."""
    names = defined_names(code, language)
    return names[-1] if names else None


def agreement(original: list[str | None], regenerated: list[str | None], stable: list[int]) -> float:
    """Share of the calls with a value from the original on which the regenerated code agrees."""
    counted = [i for i in stable if is_value(original[i])]
    return sum(1 for i in counted if regenerated[i] == original[i]) / len(counted)


class RoundTrip(Step):
    """Adds ``roundtrip`` (0..1 or null) to every usable candidate and ``roundtrip_calls`` to the record."""

    name = "roundtrip"

    def __init__(self, backend: Backend, sandbox: Sandbox, prompt: PromptFile, *, calls: int, seed: int,
                 max_tokens: int = 512, limits: Limits | None = None, window: int = 1) -> None:
        super().__init__()
        self.backend = backend
        self.sandbox = sandbox
        self.prompt = prompt
        self.calls = calls
        self.seed = seed
        self.max_tokens = max_tokens
        self.limits = limits or Limits(timeout=10)
        self.window = window
        """Snippets whose requests go to the backend together (a crash redoes at most these; cached calls are free)."""

    def _request(self, text: str, record: Record, key: str, temperature: float, prefix: str = "",
                 stop: tuple[str, ...] = ()) -> GenerateRequest:
        params = SamplingParams(max_tokens=self.max_tokens, temperature=temperature, stop=stop,
                                seed=derive_seed(self.seed, "roundtrip", record.id, key))
        return GenerateRequest(messages=({"role": "user", "content": text},), params=params, prefix=prefix)

    def plan(self, record: Record) -> tuple[str, list[int], list[GenerateRequest]] | str:
        """(main function, usable candidates, requests: the calls first), or why the snippet cannot be round-tripped."""
        code, language = str(record.data["code"]), str(record.data["language"])
        name = main_name(code, language) if language in LANGUAGES else None
        if name is None:
            return "language" if language not in LANGUAGES else "no_function"
        display = display_name(language)
        cands = record.data["candidates"]
        usable = [i for i, c in enumerate(cands) if c.get("instruction")]
        values = {"display": display, "name": name, "count": self.calls, "fenced_code": fence(code, language)}
        # the reply starts with the first call, as in the agents' calls task: unprompted, the model
        # writes `assert double(0) == 0` lines, which are not calls the harness may run
        requests = [self._request(self.prompt.data["calls"].format(**values), record, "calls", 0.7,
                                  prefix=f"```{language}\n{call_start(name, language)}")]
        # the reply is prefilled with an opening fence and stops at the closing one: the model's
        # explanation after the code costs as many tokens as the code and is thrown away
        requests += [self._request(self.prompt.data["user"].format(instruction=cands[i]["instruction"], **values),
                                   record, f"code{i}", 0.0, prefix=f"```{language}\n", stop=("```",))
                     for i in usable]
        return name, usable, requests

    def finish(self, record: Record, name: str, usable: list[int], texts: list[str]) -> str | None:
        """Scores the candidates in place from the replies (calls first); the reason when it cannot."""
        code, language = str(record.data["code"]), str(record.data["language"])
        cands = record.data["candidates"]
        record.data["roundtrip_calls_raw"] = texts[0]  # kept for audit when no call could be used
        calls = parse_calls(call_start(name, language) + texts[0].split("```", 1)[0], language, name, self.calls)
        record.data["roundtrip_calls"] = calls
        if len(calls) < MIN_VALUES:
            return "no_calls"
        programs = [code]
        for j in range(len(usable)):
            block = first_fenced_block(texts[j + 1])  # a backend that ignores the prefix writes its own fence
            program = block.code if block else texts[j + 1].split("```", 1)[0]
            # the model often ends its code with a self-check whose expected value is wrong; run at
            # module level it crashes the capture, and a right function would agree on nothing
            programs.append(sanitize_python(program, name) if language == "python" else program)
        caps = run_capture(self.sandbox, language, programs, calls, self.limits)
        unstable = {i for c in caps for i in (c.unstable or [])}
        stable = [i for i in range(len(calls)) if i not in unstable]
        values_given = [i for i in stable if is_value(caps[0].outputs[i])]
        if len(values_given) < MIN_VALUES:
            record.data["roundtrip_original"] = caps[0].to_dict()  # why: its verdict and message
            return "original_gives_no_values"
        for j, i in enumerate(usable):
            cands[i]["roundtrip"] = round(agreement(caps[0].outputs, caps[j + 1].outputs, stable), 4)
            cands[i]["roundtrip_code"] = programs[j + 1]
        return None

    def _score_window(self, window: list[Record]) -> list[str | None]:
        """One generate call for every snippet of the window, so their regenerations share the decode
        slots (one snippet's ~11 requests leave most of 8 slots idle while its longest one finishes)."""
        plans = [self.plan(r) for r in window]
        requests = [req for p in plans if not isinstance(p, str) for req in p[2]]
        texts = {i: r.completions[0].text for i, r in self.backend.generate(requests)} if requests else {}
        out: list[str | None] = []
        start = 0
        for record, p in zip(window, plans, strict=True):
            if isinstance(p, str):
                out.append(p)
                continue
            name, usable, mine = p
            out.append(self.finish(record, name, usable, [texts[start + k] for k in range(len(mine))]))
            start += len(mine)
        return out

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        it = iter(records)
        while window := list(itertools.islice(it, self.window)):
            for record, reason in zip(window, self._score_window(window), strict=True):
                if reason is not None:
                    self.stats[f"fallback_pyes.{reason}"] += 1
                    record.data["roundtrip_fallback"] = reason
                else:
                    self.stats["scored"] += 1
                yield record


def call_start(name: str, language: str) -> str:
    """How the prefilled calls reply begins: the first call's name (and parenthesis)."""
    return f"{name} " if language == "bash" else f"{name}("


def roundtrip_order(candidate: dict[str, Any]) -> tuple[float, float]:
    """Sort key (descending) of ``--select roundtrip``: round-trip agreement, then p(Yes)."""
    return (candidate.get("roundtrip") or 0.0, candidate.get("score") or 0.0)
