"""LLM tasks as pure ``format_input(row) -> Rendered`` / ``format_output(text, row) -> fields`` pairs.

Parsing never raises: a reply that cannot be used gives ``None`` fields next to the raw text, so
the loop can count the failure by reason and keep going (the 0.5B model often breaks formats).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from xinstruct.agents.calls import Rendered
from xinstruct.agents.profiles import Profile
from xinstruct.core.code_analysis import defined_names, drop_mains, strip_literals
from xinstruct.core.code_detect import PYTHON_PARSE_FAILURES
from xinstruct.core.instructions import Cleaned, clean_instruction
from xinstruct.core.languages import normalize_language
from xinstruct.core.prompts import PromptFile, load_prompt_file

PROMPT_FILES = ("seed.yaml", "code.yaml", "evolve.yaml", "scorer.yaml")
MAX_INSTRUCTION_CHARS = 1500
# Where a solution reply starts writing its own tests (they are asked for separately).
_TESTS_START = re.compile(
    r"^(?:(?:#|//)\s*(?:unit\s+)?(?:tests?|testing|example usage)\b|def test_|if __name__ == )", re.I | re.M
)


@cache
def _prompt_files() -> tuple[PromptFile, ...]:
    return tuple(load_prompt_file("xinstruct.agents", name.removesuffix(".yaml")) for name in PROMPT_FILES)


@cache
def load_prompts() -> dict[str, Any]:
    """All prompt templates, merged from the YAML files shipped with the package."""
    out: dict[str, Any] = {}
    for prompt in _prompt_files():
        out.update(prompt.data)
    return out


def prompt_hashes() -> dict[str, str]:
    """sha256 of each prompt file, for the run manifest."""
    return {f"agents/{name}": prompt.sha256 for name, prompt in zip(PROMPT_FILES, _prompt_files(), strict=True)}


def profile_vars(profile: Profile) -> dict[str, str]:
    return {
        "display": profile.display,
        "lang": profile.language,
        "task_definition": profile.task_definition,
        "solution_hint": profile.solution_hint,
        "test_hint": profile.test_hint,
    }


def render(name: str, values: Mapping[str, Any], *, prefix: str | None = None, stop: tuple[str, ...] = ()) -> Rendered:
    """Fill a prompt template; ``prefix`` overrides the template's reply prefix."""
    spec = load_prompts()[name]
    messages = []
    if spec.get("system"):
        messages.append({"role": "system", "content": spec["system"].format(**values).strip()})
    messages.append({"role": "user", "content": spec["user"].format(**values).strip()})
    reply_prefix = prefix if prefix is not None else spec.get("prefix", "").format(**values)
    return Rendered(messages=tuple(messages), prefix=reply_prefix, stop=stop)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "\n..."


# ----------------------------------------------------------------------------- instructions
def clean_task(text: str) -> Cleaned:
    """The task statement cleaned by the rules shared with Inverse-Instruct
    (``core/instructions.py``: labels, restatements, task lists, trailers, references to the
    prompt), clipped to ``MAX_INSTRUCTION_CHARS``."""
    cleaned = clean_instruction(text)
    if cleaned.text is None:
        return cleaned
    return replace(cleaned, text=cleaned.text[:MAX_INSTRUCTION_CHARS].rstrip())


def parse_instruction(text: str) -> str | None:
    """The cleaned task text, or None when cleaning rejects it (see :func:`clean_task` for why)."""
    return clean_task(text).text


@dataclass(frozen=True)
class InstructionTask:
    """Writes a task statement (from code, from a solution, by evolving memory, or finalizing)."""

    prompt: str

    def format_input(self, row: Mapping[str, Any]) -> Rendered:
        return render(self.prompt, row)

    def format_output(self, text: str, row: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``error`` names why a statement was rejected (``task_list``, ``refers_to_prompt``, ...)."""
        cleaned = clean_task(text)
        return {"instruction": cleaned.text, "raw": text, "error": cleaned.reason, "rule": cleaned.rule}


# ----------------------------------------------------------------------------- code
def _cut_fence(text: str) -> str:
    """Code up to the closing fence (the stop string usually removes it already)."""
    text = re.sub(r"\A[ \t]*```[^\n]*\n", "", text)  # the model re-opened the prefilled fence
    m = re.search(r"^[ \t]*```", text, re.M)
    return text[: m.start()] if m else text


def _cut_at_marker(code: str, marker: str) -> str:
    """Drop tests the model appended to a solution (the tests are asked for separately)."""
    m = _TESTS_START.search(code)
    if m and m.start() > 0:
        code = code[: m.start()]
    if not marker:
        return code
    at = code.find(marker.lstrip("\n"))
    while at > 0 and code[at - 1] != "\n":
        at = code.find(marker.lstrip("\n"), at + 1)
    return code[:at] if at > 0 else code


def wrong_fence_language(text: str, language: str) -> bool:
    """True when the reply opened a fence tagged with another known language."""
    for tag in re.findall(r"^[ \t]*```[ \t]*([^\s`]+)", text, re.M):
        found = normalize_language(tag)
        if found and found != language:
            return True
    return False


@dataclass(frozen=True)
class CodeTask:
    """Writes a solution; the reply is prefilled with the opening fence and the profile's scaffold."""

    prompt: str
    profile: Profile

    def format_input(self, row: Mapping[str, Any]) -> Rendered:
        p = self.profile
        return render(self.prompt, row, prefix=f"```{p.language}\n{p.solution_prefix}", stop=("\n```",))

    def format_output(
        self, text: str, row: Mapping[str, Any] | None = None, finish_reason: str = "stop"
    ) -> dict[str, Any]:
        """``finish_reason="length"`` (cut off by the token cap) makes the solution unusable: a body
        cut mid-way cannot be completed, and testing it would only spend calls on a compile error."""
        if wrong_fence_language(text, self.profile.language):
            return {"solution": None, "raw": text, "error": "wrong_language"}
        if finish_reason == "length":
            return {"solution": None, "raw": text, "error": "solution_truncated"}
        code = _cut_at_marker(self.profile.solution_prefix + _cut_fence(text), self.profile.tests_marker).rstrip()
        # the tests bring the entry point: a main of the solution's own would be a second one (C#, C++)
        code = drop_mains(code, self.profile.language).rstrip()
        if len(code.strip()) <= len(self.profile.solution_prefix.strip()) + 5:
            return {"solution": None, "raw": text, "error": "no_solution"}
        return {"solution": code, "raw": text, "error": None}


_STATEMENT_END = {"java": ";}", "cpp": ";}", "csharp": ";}", "typescript": ";)}", "javascript": ";)}", "php": ";}"}
"""Characters a complete test statement ends with, per language (other languages: any line)."""


def complete_tests(tests: str, language: str) -> str:
    """Tests cut off by the token cap end at their last complete statement, and the blocks the
    scaffold opened (``int main() {``, ``class Main { ... main(...) {``) are closed, so a truncated
    test block is a shorter test block rather than a compile error."""
    if language == "python":
        lines = tests.splitlines()
        while lines:
            try:
                ast.parse("\n".join(lines))
                break
            except PYTHON_PARSE_FAILURES:
                lines.pop()
        return "\n".join(lines)
    clean = strip_literals(tests, language)
    ends = _STATEMENT_END.get(language)
    depth = {"(": 0, "[": 0, "{": 0}
    closers = {")": "(", "]": "[", "}": "{"}
    cut, open_blocks, at = None, 0, 0
    for line in clean.splitlines(keepends=True):
        for c in line:
            if c in depth:
                depth[c] += 1
            elif c in closers:
                depth[closers[c]] -= 1
        at += len(line)
        last = line.rstrip()
        if last and depth["("] <= 0 and depth["["] <= 0 and (ends is None or last[-1] in ends):
            cut, open_blocks = at, max(depth["{"], 0)
    if cut is None:
        return tests
    kept = tests[:cut].rstrip()
    return kept + "".join("\n" + "    " * level + "}" for level in reversed(range(open_blocks)))


@dataclass(frozen=True)
class TestsTask:
    """Writes unit tests for a solution, starting from the profile's test scaffold."""

    __test__ = False  # not a pytest class

    profile: Profile
    prompt: str = "tests"
    """``tests`` writes them; ``repair_tests`` rewrites tests that failed, given the sandbox output."""

    def reply_prefix(self, row: Mapping[str, Any] | None) -> str:
        """The scaffold, then (where the profile has a call site) the call of the function the
        task is about: the one the instruction names, else the first the solution defines."""
        p = self.profile
        names = defined_names(str((row or {}).get("solution") or ""), p.language)
        if not (p.tests_call and names):
            return p.tests_prefix
        instruction = str((row or {}).get("instruction") or "")
        name = next((n for n in names if re.search(rf"\b{re.escape(n)}\b", instruction)), names[0])
        return p.tests_prefix + p.tests_call.format(name=name)

    def format_input(self, row: Mapping[str, Any]) -> Rendered:
        p = self.profile
        names = defined_names(str(row.get("solution") or ""), p.language)[:3]
        if names:
            listed = ", ".join(f"`{n}`" for n in names)
            them = "them by these names" if len(names) > 1 else "it by that name"
            row = {**row, "test_hint": f"{row.get('test_hint', p.test_hint)} The solution defines {listed}; call {them}."}
        return render(self.prompt, row, prefix=f"```{p.language}\n{self.reply_prefix(row)}", stop=("\n```",))

    def format_output(self, text: str, row: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``row``: the values ``format_input`` had, so the prefilled call is put back in front."""
        if wrong_fence_language(text, self.profile.language):
            return {"tests": None, "raw": text, "error": "wrong_language"}
        body = _cut_fence(text)
        prefix = self.reply_prefix(row)
        if prefix.endswith(" "):
            body = body.lstrip(" ")  # the reply often repeats the space the prefix ends with
        tests = complete_tests((prefix + body).rstrip(), self.profile.language)
        if len(tests.strip()) <= len(prefix.strip()) + 3:
            return {"tests": None, "raw": text, "error": "no_tests"}
        return {"tests": tests, "raw": text, "error": None}


@dataclass(frozen=True)
class CritiqueTask:
    """A teammate's one-or-two sentence suggestion."""

    def format_input(self, row: Mapping[str, Any]) -> Rendered:
        return render("critique", row)

    def format_output(self, text: str, row: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = text.split("```", 1)[0].strip()
        return {"critique": body[:400] if len(body) >= 10 else None, "raw": text}
