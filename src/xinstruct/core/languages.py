"""Canonical programming-language names, aliases and file extensions.

Every stage (code extraction, sandbox, agents, evaluation) speaks the same canonical names, so a
fence tag ``c++``, a MultiPL-E ``cpp`` and a file ``x.cc`` all meet as ``cpp``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class LanguageName:
    name: str
    display: str
    aliases: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()


LANGUAGE_NAMES: tuple[LanguageName, ...] = (
    LanguageName("python", "Python", ("py", "python3", "py3"), (".py",)),
    LanguageName("javascript", "JavaScript", ("js", "node", "nodejs", "jsx"), (".js", ".mjs", ".cjs")),
    LanguageName("typescript", "TypeScript", ("ts", "tsx"), (".ts",)),
    LanguageName("java", "Java", (), (".java",)),
    LanguageName("cpp", "C++", ("c++", "cxx", "cc", "hpp"), (".cpp", ".cc", ".cxx", ".hpp", ".hh")),
    LanguageName("c", "C", ("h",), (".c", ".h")),
    LanguageName("csharp", "C#", ("c#", "cs", "dotnet"), (".cs",)),
    LanguageName("go", "Go", ("golang",), (".go",)),
    LanguageName("rust", "Rust", ("rs",), (".rs",)),
    LanguageName("php", "PHP", (), (".php",)),
    LanguageName("bash", "Bash", ("sh", "shell", "zsh", "console"), (".sh", ".bash")),
    LanguageName("ruby", "Ruby", ("rb",), (".rb",)),
    LanguageName("perl", "Perl", ("pl",), (".pl", ".pm")),
    LanguageName("lua", "Lua", (), (".lua",)),
    LanguageName("r", "R", (), (".r", ".R")),
    LanguageName("scala", "Scala", (), (".scala",)),
    LanguageName("kotlin", "Kotlin", ("kt",), (".kt",)),
    LanguageName("haskell", "Haskell", ("hs",), (".hs",)),
    LanguageName("racket", "Racket", ("rkt",), (".rkt",)),
    LanguageName("ocaml", "OCaml", ("ml",), (".ml",)),
    LanguageName("d", "D", (), (".d",)),
    LanguageName("elixir", "Elixir", ("ex", "exs"), (".ex", ".exs")),
    LanguageName("clojure", "Clojure", ("clj",), (".clj",)),
    LanguageName("julia", "Julia", ("jl",), (".jl",)),
    LanguageName("swift", "Swift", (), (".swift",)),
    LanguageName("dart", "Dart", (), (".dart",)),
    LanguageName("ada", "Ada", ("adb",), (".adb", ".ads")),
    LanguageName("sql", "SQL", ("mysql", "postgresql", "sqlite"), (".sql",)),
    LanguageName("html", "HTML", (), (".html", ".htm")),
    LanguageName("css", "CSS", (), (".css",)),
)

_BY_ALIAS: dict[str, LanguageName] = {}
_BY_EXT: dict[str, LanguageName] = {}
for _lang in LANGUAGE_NAMES:
    for _alias in (_lang.name, _lang.display.lower(), *_lang.aliases):
        _BY_ALIAS.setdefault(_alias.lower(), _lang)
    for _ext in _lang.extensions:
        _BY_EXT.setdefault(_ext, _lang)


def normalize_language(name: str | None) -> str | None:
    """Map a fence tag, alias or display name to its canonical name; None when unknown."""
    if not name:
        return None
    key = name.strip().lower().split()[0] if name.strip() else ""
    key = key.lstrip(".{").rstrip("}")
    found = _BY_ALIAS.get(key)
    return found.name if found else None


def language_from_path(path: str | os.PathLike[str]) -> str | None:
    """Canonical language of a source file from its extension; None when unknown."""
    ext = os.path.splitext(str(path))[1]
    found = _BY_EXT.get(ext) or _BY_EXT.get(ext.lower())
    return found.name if found else None


def display_name(name: str) -> str:
    """Human name used in prompts ("C++" for ``cpp``); the input itself when unknown."""
    canonical = normalize_language(name)
    for lang in LANGUAGE_NAMES:
        if lang.name == canonical:
            return lang.display
    return name
