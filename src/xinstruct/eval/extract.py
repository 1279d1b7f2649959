"""Turn a model's answer into the code that gets tested.

Three steps, each language-aware:

1. :func:`pick_code` chooses the fenced block (the task's language and containing the entry point
   preferred; a truncated final fence still counts; unfenced answers are taken whole).
2. Python benchmarks keep a *sanitized* script (``core.code_analysis.sanitize_python``): imports,
   functions, classes and constants, without example calls, prints or ``__main__`` blocks.
3. Prompt-based benchmarks (MultiPL-E, mxeval, HumanEval-X) need ``prompt + body + tests``:
   :func:`splice` finds the target function in the answer, takes its body, and keeps the helpers
   and imports around it (placed where the language needs them), so an answer that rewrites the
   whole function (or class) and one that only gives the body both work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xinstruct.core.code_analysis import (
    BRACE_LANGS,
    END_LANGS,
    decl_regex,
    drop_mains,
    find_function,
    python_declarations,
    strip_literals,
)
from xinstruct.core.fences import fenced_blocks


def pick_code(answer: str, language: str, entry_point: str | None = None) -> str:
    """The code block to test; the whole answer when it has no fence."""
    blocks = [b for b in fenced_blocks(answer) if b.code.strip()]
    if not blocks:
        return answer.strip("\n")

    def score(item: tuple[int, object]) -> tuple[int, int, int, int]:
        i, b = item
        assert hasattr(b, "code")
        lang_ok = int(b.language == language or (not b.tag))  # type: ignore[attr-defined]
        has_entry = int(bool(entry_point) and re.search(rf"\b{re.escape(entry_point or '')}\b", b.code) is not None)  # type: ignore[attr-defined]
        return (has_entry, lang_ok, len(b.code), -i)  # type: ignore[attr-defined]

    best = max(enumerate(blocks), key=score)[1]
    return best.code


def cut_at_stops(text: str, stops: tuple[str, ...]) -> str:
    """Completion text up to the earliest stop sequence (MultiPL-E / Codex semantics)."""
    cut = len(text)
    for s in stops:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


# ----------------------------------------------------------------------------- Python
def prompt_imports(prompt: str) -> str:
    """Import lines of a Python prompt (HumanEval's ``from typing import List``) the answer may omit."""
    return "".join(line + "\n" for line in prompt.splitlines() if re.match(r"^(?:import|from)\s+\w", line))


# ----------------------------------------------------------------------------- scanning
_TOP_DECL = re.compile(
    r"^\s*(?:#include|#define|using\b|import\b|from\b|use\b|require\b|package\b|extern\b|def\b|class\b|struct\b|"
    r"enum\b|impl\b|trait\b|type\b|fn\b|func\b|function\b|sub\b|const\b|static\b|let\b|var\b|val\b|object\b|"
    r"interface\b|template\b|typedef\b|namespace\b|public\b|private\b|protected\b|internal\b|async\b|export\b|"
    r"local\b|module\b|@|[A-Za-z_][\w:<>,\s*&\[\]]*\s+[*&]*[A-Za-z_]\w*\s*\([^;{]*\)\s*(?:const\s*)?(?:\{.*)?$|"
    r"[A-Za-z_]\w*\s*\(\)\s*\{|[A-Z_][A-Z0-9_]*\s*=)"
)


def _declaration_chunks(text: str, language: str) -> list[str]:
    """Top-level chunks of ``text`` that declare something (drops example calls, prints, stray statements)."""
    if not text.strip():
        return []
    if language == "python":
        return python_declarations(text) or []
    clean = strip_literals(text, language)
    chunks: list[str] = []
    i, n = 0, len(text)
    while i < n:
        nl = clean.find("\n", i)
        line_end = n if nl == -1 else nl
        line = clean[i:line_end]
        if not line.strip():
            i = line_end + 1
            continue
        # a chunk runs to the end of its line, or of its braces when it opens one (Allman braces too)
        depth, j = 0, i
        while j < n:
            c = clean[j]
            depth += (c in "{(") - (c in "})")
            if c == "\n" and depth <= 0 and not clean[j + 1 :].lstrip(" \t\n").startswith("{"):
                break
            j += 1
        end = min(j + 1, n)
        php_decl = re.match(r"^\s*(?:function|class|use|const|\$\w+\s*=)", line)
        if (language == "php" and php_decl) or (language != "php" and _TOP_DECL.match(line)):
            chunks.append(text[i:end].rstrip())
        i = end
    return chunks


_CHUNK_NAME = re.compile(r"\b(?:def|fn|func|function|sub|fun|class|struct)\s+(\w+)|(\w+)\s*(?:<[^()]*>)?\s*\(")


_OWN_TESTS = re.compile(r"^\s*(?:func\s+(?:Test|Benchmark|Example)\w*\s*\(|#\[(?:test|cfg\(test\))\])")


def _declarations(text: str, language: str, prompt: str = "", tests: str = "") -> str:
    """Declaration chunks of ``text`` minus what the prompt or the benchmark's tests already declare,
    minus the answer's own test functions and any chunk cut off by the token budget."""
    known_lines = {line.strip() for line in prompt.splitlines()}
    clean_known = strip_literals(prompt, language) + "\n" + strip_literals(tests, language)
    kept = []
    for chunk in _declaration_chunks(text, language):
        if chunk.strip() in known_lines:
            continue
        clean = strip_literals(chunk, language)
        if language in BRACE_LANGS and clean.count("{") != clean.count("}"):
            continue  # truncated mid-declaration: it would break the whole program
        first = clean.strip().splitlines()[0] if chunk.strip() else ""
        if _OWN_TESTS.match(first):
            continue  # the model's own Go/Rust tests: the benchmark brings its own
        m = _CHUNK_NAME.search(first)
        name = (m.group(1) or m.group(2)) if m else None
        if name and name not in _NOT_NAMES and decl_regex(name).search(clean_known) and "(" in first:
            continue
        kept.append(chunk)
    return "\n".join(kept)


_NOT_NAMES = {"if", "for", "while", "switch", "return", "catch", "sizeof", "main", "Main"}


# ----------------------------------------------------------------------------- splice
@dataclass
class Spliced:
    program: str
    found: bool
    """Whether the answer contained a definition of the entry point (else it was used as the body)."""


def _leading_closers(tests: str, closer: str) -> tuple[int, str]:
    count, rest = 0, tests
    while True:
        stripped = rest.lstrip()
        if stripped.startswith(closer) and not re.match(rf"{re.escape(closer)}\w", stripped):
            count += 1
            rest = stripped[len(closer) :]
        else:
            return count, rest


def _excess_closers(text: str, language: str) -> int:
    """How many enclosing blocks ``text`` closes itself (tests that end the class: MultiPL-E Java, MBXP C#)."""
    clean = strip_literals(text, language)
    return max(0, clean.count("}") - clean.count("{"))


def _open_depth(text: str, language: str) -> int:
    clean = strip_literals(text, language)
    return max(0, clean.count("{") - clean.count("}"))


def splice(prompt: str, tests: str, answer_code: str, entry_point: str, language: str, setup: str = "") -> Spliced:
    """``prompt`` with the answer's body for ``entry_point`` spliced in, helpers kept, then ``tests``."""
    target = find_function(prompt, entry_point, language)
    fn = find_function(answer_code, entry_point, language)
    if target is None:
        # no declaration found in the prompt: plain concatenation (MultiPL-E semantics)
        return Spliced(setup + prompt + answer_code + "\n" + tests, fn is not None)
    head = prompt[: target.body_start]
    if not head.endswith("\n"):
        head += "\n"
    if fn is None:
        body, outer, inner, post = answer_code, "", "", ""
    else:
        body = answer_code[fn.body_start : fn.body_end]
        before = answer_code[: fn.start]
        after = answer_code[fn.end :]
        outer, inner = before, ""
        if language in BRACE_LANGS and _open_depth(before, language) > 0:
            # the function sits inside a class/namespace: imports go to the top, sibling members
            # before it stay in the (prompt's) class, members after it up to the class's end follow it
            clean = strip_literals(before, language)
            stack: list[int] = []
            for k, c in enumerate(clean):
                if c == "{":
                    stack.append(k)
                elif c == "}" and stack:
                    stack.pop()
            outer = "\n".join(
                line for line in before[: stack[0]].splitlines() if re.match(r"^\s*(?:import|using|#include|use)\b", line)
            )
            inner = before[stack[-1] + 1 :]
            after_clean = strip_literals(after, language)
            depth, cut = 0, len(after)
            for k, c in enumerate(after_clean):
                depth += (c == "{") - (c == "}")
                if depth < 0:
                    cut = k
                    break
            after = after[:cut]
        post = after
    outer = _declarations(drop_mains(outer, language), language, prompt + setup)
    inner = _declarations(drop_mains(inner, language), language, prompt, tests) if inner.strip() else ""
    post = _declarations(drop_mains(post, language), language, prompt, tests)
    if language == "php":
        outer = re.sub(r"<\?php|\?>", "", outer)
    body = body.rstrip()
    if language in BRACE_LANGS:
        count, rest = _leading_closers(tests, "}")
        supply = max(1, _open_depth(head, language) - _excess_closers(rest, language))
        tail = "\n}\n" + (post + "\n" if post else "") + "}\n" * (supply - 1) + rest
    elif language in END_LANGS:
        count, rest = _leading_closers(tests, "end")
        tail = "\nend\n" + (post + "\n" if post else "") + (rest if count else tests)
    else:
        tail = "\n" + (post + "\n" if post else "") + "\n" + tests
    decl_line_start = prompt.rfind("\n", 0, target.start) + 1
    before_decl, decl_part = head[:decl_line_start], head[decl_line_start:]
    if inner:
        before_decl += inner + "\n"
    program = before_decl + decl_part + body + tail
    if outer.strip():
        program = _place_outer(program, outer, language)
    return Spliced(setup + program, fn is not None)


def _place_outer(program: str, outer: str, language: str) -> str:
    """Imports/helpers from before the answer's function go to the top (after ``<?php`` / shebang)."""
    if language == "php":
        m = re.match(r"\s*<\?php\s*\n?", program)
        if m:
            return program[: m.end()] + outer + "\n" + program[m.end() :]
        return "<?php\n" + outer + "\n" + program
    if language == "bash" and program.startswith("#!"):
        nl = program.find("\n") + 1
        return program[:nl] + outer + "\n" + program[nl:]
    if language == "go":
        m = re.match(r"\s*package\s+\w+\s*\n", program)
        if m:
            return program[: m.end()] + outer + "\n" + program[m.end() :]
    return outer + "\n" + program
