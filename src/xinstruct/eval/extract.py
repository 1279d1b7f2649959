"""Turn a model's answer into the code that gets tested.

Three steps, each language-aware:

1. :func:`pick_code` chooses the fenced block (the task's language and containing the entry point
   preferred; a truncated final fence still counts; unfenced answers are taken whole).
2. Python benchmarks keep a *sanitized* script (:func:`sanitize_python`): imports, functions, classes
   and constants, without example calls, prints or ``__main__`` blocks.
3. Prompt-based benchmarks (MultiPL-E, mxeval, HumanEval-X) need ``prompt + body + tests``:
   :func:`splice` finds the target function in the answer, takes its body, and keeps the helpers
   and imports around it (placed where the language needs them), so an answer that rewrites the
   whole function (or class) and one that only gives the body both work.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from xinstruct.core.fences import fenced_blocks

BRACE_LANGS = {
    "java", "cpp", "c", "csharp", "go", "rust", "javascript", "typescript", "php", "perl", "bash", "scala",
    "swift", "kotlin", "dart", "d",
}
END_LANGS = {"ruby", "lua", "julia", "elixir"}
CLASS_WRAPPED = {"java", "csharp", "scala", "kotlin"}
_MAIN = re.compile(r"(?:\bstatic\s+void\s+[Mm]ain\s*\(|\bint\s+main\s*\(|\bfn\s+main\s*\(|\bfunc\s+main\s*\(|\bdef\s+main\s*\()")


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
_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def _parse_prefix(code: str) -> ast.Module | None:
    """Parse the longest prefix of whole lines that is valid Python (a truncated answer keeps its complete part)."""
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except (SyntaxError, ValueError):
            continue
    return None


def sanitize_python(code: str, entry_point: str | None = None) -> str:
    """Imports, defs, classes and constant assignments only (evalplus ``sanitize`` semantics, simplified).

    Unparseable code is returned unchanged so the sandbox reports the syntax error.
    """
    tree = _parse_prefix(code)
    if tree is None:
        return code
    lines = code.splitlines()
    kept: list[str] = []
    for node in tree.body:
        if not isinstance(node, _KEEP):
            continue
        if isinstance(node, ast.Assign | ast.AnnAssign) and _calls_anything(node):
            continue
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return "\n\n".join(kept) + "\n" if kept else code


def _calls_anything(node: ast.AST) -> bool:
    """Module-level ``x = f(...)`` is usually example usage; constants and lambdas are kept."""
    return any(isinstance(n, ast.Call) for n in ast.walk(node)) and not any(
        isinstance(n, ast.Lambda) for n in ast.walk(node)
    )


def prompt_imports(prompt: str) -> str:
    """Import lines of a Python prompt (HumanEval's ``from typing import List``) the answer may omit."""
    return "".join(line + "\n" for line in prompt.splitlines() if re.match(r"^(?:import|from)\s+\w", line))


# ----------------------------------------------------------------------------- scanning
def strip_literals(code: str, language: str) -> str:
    """Same-length copy with strings and comments blanked, so brace counting ignores them."""
    out = list(code)
    i, n = 0, len(code)
    hash_comments = language in ("bash", "perl", "php", "python", "ruby")
    while i < n:
        c = code[i]
        two = code[i : i + 2]
        if two == "//" and language not in ("bash", "perl", "python", "ruby"):
            j = code.find("\n", i)
            j = n if j == -1 else j
        elif two == "/*" and language not in ("bash", "perl", "python", "ruby"):
            j = code.find("*/", i + 2)
            j = n if j == -1 else j + 2
        elif c == "#" and hash_comments and (i == 0 or code[i - 1] in " \t\n;") and code[i - 1 : i] != "$":
            j = code.find("\n", i)
            j = n if j == -1 else j
        elif c in "\"`" or (c == "'" and _is_quote(code, i, language)):
            j = i + 1
            while j < n and code[j] != c:
                if code[j] == "\\":
                    j += 1
                elif code[j] == "\n" and c != "`" and language not in ("bash", "perl", "php", "python"):
                    break
                j += 1
            j = min(j + 1, n)
        else:
            i += 1
            continue
        for k in range(i, j):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def _is_quote(code: str, i: int, language: str) -> bool:
    if language != "rust":
        return not (language == "bash" and i > 0 and code[i - 1].isalnum())
    return re.match(r"'(?:\\.|[^\\'])'", code[i : i + 4]) is not None  # a char literal, not a lifetime


def _match_brace(clean: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(clean)):
        if clean[j] == "{":
            depth += 1
        elif clean[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _decl_regex(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(
        rf"^[ \t]*(?:(?:local\s+)?(?:def|function|func|fn|sub|fun)\s+{n}\b"
        rf"|(?:export\s+)?(?:const|let|var)\s+{n}\s*(?::[^=\n]*)?=[^\n;]*(?:=>|\bfunction\b)"
        rf"|(?!return\b|print|echo\b|assert)[^\n=;()]*?\b{n}\s*(?:<[^()\n]*>)?\s*\()",
        re.M,
    )


@dataclass
class FunctionSpan:
    start: int
    """Offset of the declaration line."""
    body_start: int
    body_end: int
    """Body is ``code[body_start:body_end]``; the closer (``}``, ``end``) follows for brace/end languages."""
    end: int
    """Offset just after the function (after its closer)."""


def find_function(code: str, name: str, language: str) -> FunctionSpan | None:
    """Locate the definition of ``name``: a declaration line followed by a body (not a call)."""
    clean = strip_literals(code, language)
    for m in _decl_regex(name).finditer(clean):
        start = m.start()
        if language == "python" or language not in BRACE_LANGS | END_LANGS:
            span = _python_span(code, clean, start) if language == "python" else None
        elif language in END_LANGS:
            span = _end_span(code, clean, start)
        else:
            span = _brace_span(clean, start)
        if span is not None:
            return span
    return None


_EMPTY_TYPE = re.compile(r"(?:interface|struct)\s*\{\s*\}")
"""Braces that are part of a type in a signature (Go's ``[]interface{}``), not the body's."""


def _brace_span(clean: str, start: int) -> FunctionSpan | None:
    pos = start
    while True:
        m = re.compile(r"[{;]").search(clean, pos)
        if m is None or m.group() != "{":
            return None
        t = _EMPTY_TYPE.search(clean, max(start, m.start() - 12), m.end() + 64)
        if t is None or not (t.start() <= m.start() < t.end()):
            break
        pos = t.end()
    # a call like `f(x) {` is not a thing; but `if (f(x)) {` would be: require the name on this decl line
    close = _match_brace(clean, m.start())
    if close == -1:
        return FunctionSpan(start, m.end(), len(clean), len(clean))
    return FunctionSpan(start, m.end(), close, close + 1)


def _python_span(code: str, clean: str, start: int) -> FunctionSpan | None:
    line = code[start : code.find("\n", start) if "\n" in code[start:] else len(code)]
    if not line.lstrip().startswith(("def ", "async def ")):
        return None
    indent = len(line) - len(line.lstrip())
    # the signature ends at the first ':' at paren depth 0 followed by end of line
    depth, i = 0, start
    while i < len(clean):
        c = clean[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif (c == ":" and depth == 0 and clean[i + 1 : i + 2] in ("\n", "")) or (c == ":" and depth == 0 and
                                                                                 clean[i + 1 :].split("\n", 1)[0].strip() == ""):
            break
        i += 1
    nl = code.find("\n", i)
    if nl == -1:
        return FunctionSpan(start, len(code), len(code), len(code))
    pos = nl + 1
    end = len(code)
    for m in re.finditer(r"^([ \t]*)(\S)", code[pos:], re.M):
        if len(m.group(1)) <= indent:
            end = pos + m.start()
            break
    return FunctionSpan(start, nl + 1, end, end)


def _end_span(code: str, clean: str, start: int) -> FunctionSpan | None:
    line_end = code.find("\n", start)
    if line_end == -1:
        return FunctionSpan(start, len(code), len(code), len(code))
    line = code[start:line_end]
    indent = len(line) - len(line.lstrip())
    for m in re.finditer(r"^([ \t]*)end\b.*$", clean[line_end:], re.M):
        if len(m.group(1)) == indent:
            s = line_end + m.start()
            return FunctionSpan(start, line_end + 1, s, line_end + m.end())
    return FunctionSpan(start, line_end + 1, len(code), len(code))


# ----------------------------------------------------------------------------- helpers around the function
def drop_mains(text: str, language: str) -> str:
    """Remove ``main`` functions and Python ``__main__`` blocks (the benchmark's tests bring their own)."""
    if language == "python":
        m = re.search(r"^if\s+__name__\s*==.*$", text, re.M)
        return text[: m.start()] if m else text
    clean = strip_literals(text, language)
    while True:
        m = _MAIN.search(clean)
        if m is None:
            return text
        line_start = clean.rfind("\n", 0, m.start()) + 1
        span = _brace_span(clean, m.start()) if language in BRACE_LANGS else None
        if span is None:
            return text
        text = text[:line_start] + text[span.end :]
        clean = clean[:line_start] + clean[span.end :]


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
        tree = _parse_prefix(text)
        if tree is None:
            return []
        lines = text.splitlines()
        return [
            "\n".join(lines[min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))]) - 1 : n.end_lineno])
            for n in tree.body
            if isinstance(n, _KEEP) and not (isinstance(n, ast.Assign | ast.AnnAssign) and _calls_anything(n))
        ]
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
        if name and name not in _NOT_NAMES and _decl_regex(name).search(clean_known) and "(" in first:
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
