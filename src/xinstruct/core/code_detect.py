"""Does a piece of unfenced text parse as code, and in which language?

Python is checked with ``ast``; other languages with tree-sitter grammars bundled by
``tree-sitter-language-pack`` (0.13; the 1.x line downloads grammars at run time, which this
project must not do). Grammars such as Bash accept almost any prose, so non-Python text must
also look like code (brackets, operators, statement ends) to count.
"""

from __future__ import annotations

import ast
import re
import warnings
from functools import cache
from typing import Any

from xinstruct.core.languages import normalize_language

# canonical name -> tree-sitter-language-pack name
TREE_SITTER_NAMES = {
    "javascript": "javascript", "typescript": "typescript", "java": "java", "cpp": "cpp", "c": "c",
    "csharp": "csharp", "go": "go", "rust": "rust", "php": "php", "bash": "bash", "ruby": "ruby",
    "perl": "perl", "lua": "lua", "r": "r", "scala": "scala", "kotlin": "kotlin", "haskell": "haskell",
    "sql": "sql", "swift": "swift", "html": "html", "css": "css",
}
# Tried in this order when the language is unknown (permissive grammars last or not at all).
GUESS_ORDER = ("java", "cpp", "csharp", "javascript", "typescript", "go", "rust", "php", "c", "sql")
_LANGUAGE_WORDS = re.compile(
    r"\b(python|javascript|typescript|java|c\+\+|c#|golang|go|rust|php|bash|shell|ruby|perl|lua|sql|kotlin|swift|scala|html|css)\b",
    re.IGNORECASE,
)
_CODE_SIGNS = re.compile(r"[;{}()\[\]=<>]")
# Grammars that treat free text as valid content (PHP outside <?php, HTML text) need a marker.
_REQUIRED_MARKERS = {
    "php": re.compile(r"<\?php|\$[A-Za-z_]\w*\s*(=|->)"),
    "html": re.compile(r"<[A-Za-z][\w-]*[\s>]"),
    "bash": re.compile(r"^\s*(#!|\w+=|if \[|for \w+ in|echo |function \w+)", re.MULTILINE),
}


PYTHON_PARSE_FAILURES = (SyntaxError, ValueError, RecursionError, MemoryError)
"""What ``ast.parse`` raises for text that is not Python: NUL bytes give ValueError, deep nesting
(``a+a+...``, ``----1``) RecursionError or MemoryError (the parser's own stack), not SyntaxError."""


def looks_like_python(text: str) -> bool:
    """Parses as Python and is more than a bare name or constant (prose sometimes parses)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # corpus code is full of invalid escapes
            tree = ast.parse(text)
    except PYTHON_PARSE_FAILURES:
        return False
    trivial = (ast.Name, ast.Constant, ast.Attribute, ast.Tuple)
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, trivial)) for node in tree.body)


@cache
def _parser(ts_name: str) -> Any:
    try:
        from tree_sitter_language_pack import get_parser
    except ImportError:
        return None
    try:
        return get_parser(ts_name)  # type: ignore[arg-type]
    except LookupError:
        return None


def tree_sitter_available() -> bool:
    return _parser("javascript") is not None


def parses_as(text: str, language: str) -> bool | None:
    """True/False when a parser for ``language`` is available, None when it is not."""
    if language == "python":
        return looks_like_python(text)
    ts_name = TREE_SITTER_NAMES.get(language)
    parser = _parser(ts_name) if ts_name else None
    if parser is None:
        return None
    if len(_CODE_SIGNS.findall(text)) < 2:
        return False
    marker = _REQUIRED_MARKERS.get(language)
    if marker is not None and not marker.search(text):
        return False
    tree = parser.parse(text.encode("utf-8"))
    return not tree.root_node.has_error


def language_hint(instruction: str) -> str | None:
    """A language the instruction names, e.g. 'Write a Java method' -> java."""
    m = _LANGUAGE_WORDS.search(instruction or "")
    return normalize_language(m.group(1)) if m else None


def detect_unfenced(text: str, hint: str | None) -> str | None:
    """The language an unfenced response parses as, or None when it does not parse as code."""
    candidates = [hint] if hint else []
    candidates += ["python", *GUESS_ORDER]
    for language in dict.fromkeys(candidates):
        if language and parses_as(text, language):
            return language
    return None
