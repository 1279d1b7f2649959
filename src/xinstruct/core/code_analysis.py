"""Multi-language source scanning shared by every stage: where strings and comments are, where a
function's body starts and ends, which names a piece of code defines.

Regex-and-brace heuristics rather than parsers, because they must work for a dozen languages with
no toolchain installed and on truncated model output (an unclosed brace still yields a span). One
exception uses Python's own parser: :func:`sanitize_python`, which the eval and the round-trip
selector apply to model-written Python before running it (the model's example calls and self-checks
are not part of the code under test).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from xinstruct.core.code_detect import PYTHON_PARSE_FAILURES

BRACE_LANGS = {
    "java", "cpp", "c", "csharp", "go", "rust", "javascript", "typescript", "php", "perl", "bash", "scala",
    "swift", "kotlin", "dart", "d",
}
END_LANGS = {"ruby", "lua", "julia", "elixir"}
_MAIN = re.compile(r"(?:\bstatic\s+void\s+[Mm]ain\s*\(|\bint\s+main\s*\(|\bfn\s+main\s*\(|\bfunc\s+main\s*\(|\bdef\s+main\s*\()")


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


def match_brace(clean: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(clean)):
        if clean[j] == "{":
            depth += 1
        elif clean[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def decl_regex(name: str) -> re.Pattern[str]:
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
    for m in decl_regex(name).finditer(clean):
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


_BRACE_OR_END = re.compile(r"[{;]")
_EMPTY_TYPE = re.compile(r"(?:interface|struct)\s*\{\s*\}")
_OBJECT_TYPE_OPENER = re.compile(r"\)\s*:\s*$")


def _signature_type_end(clean: str, start: int, brace: int) -> int | None:
    """Where the braces opened at ``brace`` end when they belong to a type in the signature, not to
    the body: Go's ``[]interface{}`` / ``struct{}``, or a TypeScript object return type
    (``): {[k: string]: number} {``, taken as a type only when a body brace follows it)."""
    t = _EMPTY_TYPE.search(clean, max(start, brace - 12), brace + 65)
    if t is not None and t.start() <= brace < t.end():
        return t.end()
    if _OBJECT_TYPE_OPENER.search(clean, start, brace):
        close = match_brace(clean, brace)
        after = _BRACE_OR_END.search(clean, close + 1) if close != -1 else None
        if after is not None and after.group() == "{":
            return close + 1
    return None


def _brace_span(clean: str, start: int) -> FunctionSpan | None:
    pos = start
    while True:
        m = _BRACE_OR_END.search(clean, pos)
        if m is None or m.group() != "{":
            return None
        type_end = _signature_type_end(clean, start, m.start())
        if type_end is None:
            break
        pos = type_end
    # a call like `f(x) {` is not a thing; but `if (f(x)) {` would be: require the name on this decl line
    close = match_brace(clean, m.start())
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


# ----------------------------------------------------------------------------- mains
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


# ----------------------------------------------------------------------------- names
# Where each language defines a callable, so the tests prompt can name it: the model otherwise
# copies the hint's example name (`f(2)`) and its tests call a function that does not exist.
_DEFINITIONS = {
    "python": r"^def\s+([A-Za-z_]\w*)\s*\(",
    "php": r"\bfunction\s+([A-Za-z_]\w*)\s*\(",
    "typescript": r"\bfunction\s+([A-Za-z_]\w*)\s*[(<]",
    "javascript": r"\bfunction\s+([A-Za-z_]\w*)\s*\(",
    "bash": r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*(?:\(\s*\))?\s*\{",
    "java": r"\bstatic\s+(?:[\w<>\[\],.?]+\s+)+([A-Za-z_]\w*)\s*\(",
    "csharp": r"\bstatic\s+(?:[\w<>\[\],.?]+\s+)+([A-Za-z_]\w*)\s*\(",
    "cpp": r"^(?:[\w:<>,*&]+\s+)+\**&?([A-Za-z_]\w*)\s*\([^;{]*\)\s*(?:const\s*)?\{",
}
_NOT_NAMES = {"main", "Main", "if", "for", "while", "switch", "return", "function"}


def defined_names(solution: str, language: str) -> list[str]:
    """Names of the functions or methods a solution defines, in order (none for other languages)."""
    pattern = _DEFINITIONS.get(language)
    if pattern is None:
        return []
    found = (m.group(1) for m in re.finditer(pattern, solution, re.MULTILINE))
    return list(dict.fromkeys(n for n in found if n not in _NOT_NAMES))


# ----------------------------------------------------------------------------- Python sanitizing
_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def _parse_prefix(code: str) -> ast.Module | None:
    """Parse the longest prefix of whole lines that is valid Python (a truncated answer keeps its complete part)."""
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except PYTHON_PARSE_FAILURES:
            continue
    return None


def python_declarations(code: str) -> list[str] | None:
    """The top-level imports, defs, classes and constant assignments of ``code``, each as its source
    text (decorators included); None when no prefix of it parses."""
    tree = _parse_prefix(code)
    if tree is None:
        return None
    lines = code.splitlines()
    kept: list[str] = []
    for node in tree.body:
        if not isinstance(node, _KEEP):
            continue
        if isinstance(node, ast.Assign | ast.AnnAssign) and _calls_anything(node):
            continue
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return kept


def sanitize_python(code: str, entry_point: str | None = None) -> str:
    """Imports, defs, classes and constant assignments only (evalplus ``sanitize`` semantics, simplified).

    Unparseable code is returned unchanged so the sandbox reports the syntax error.
    """
    kept = python_declarations(code)
    return "\n\n".join(kept) + "\n" if kept else code


def _calls_anything(node: ast.AST) -> bool:
    """Module-level ``x = f(...)`` is usually example usage; constants and lambdas are kept."""
    return any(isinstance(n, ast.Call) for n in ast.walk(node)) and not any(
        isinstance(n, ast.Lambda) for n in ast.walk(node)
    )
