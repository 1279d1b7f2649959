"""Benchmark loaders: one per family, all producing :class:`Task`.

Names: ``humaneval``, ``humaneval+``, ``mbpp+`` (Python, evalplus), ``multipl-e:<lang>`` (HumanEval
translated by MultiPL-E), ``multipl-e-mbpp:<lang>``, ``mxeval:<lang>`` (multilingual HumanEval),
``mbxp:<lang>`` and ``humaneval-x:<lang>``. ``<lang>`` accepts any alias (``js``, ``c++``, ``cs``…).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinstruct.core.code_analysis import strip_literals
from xinstruct.core.errors import ConfigError, InputError
from xinstruct.core.languages import normalize_language
from xinstruct.eval.data import HUMANEVAL, locate


@dataclass(frozen=True)
class Task:
    benchmark: str
    task_id: str
    language: str
    """Canonical language name (``core.languages``), also the sandbox language."""
    prompt: str
    """The code prompt (signature + docstring) the model completes or is asked to implement."""
    entry_point: str
    kind: str
    """How a program is assembled: ``evalplus`` (differential testing against the canonical solution),
    ``check`` (Python code + ``check(entry)`` tests) or ``splice`` (prompt + function body + tests)."""
    tests: str
    stop: tuple[str, ...] = ()
    canonical: str | None = None
    """Reference completion appended to ``prompt`` (body for splice tasks, function for Python)."""
    setup: str = ""
    """Text placed before the prompt in the test program (HumanEval-X Go package and imports)."""
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


# Canonical language -> MultiPL-E file code (25 languages shipped by MultiPL-E).
MULTIPLE_CODES: dict[str, str] = {
    "ada": "ada", "clojure": "clj", "cpp": "cpp", "csharp": "cs", "d": "d", "dart": "dart", "elixir": "elixir",
    "go": "go", "haskell": "hs", "java": "java", "julia": "jl", "javascript": "js", "lua": "lua", "luau": "luau",
    "ocaml": "ml", "php": "php", "perl": "pl", "python": "py", "r": "r", "ruby": "rb", "racket": "rkt",
    "rust": "rs", "scala": "scala", "bash": "sh", "swift": "swift", "typescript": "ts",
}
MXEVAL_HUMANEVAL_FILES: dict[str, str] = {
    "python": "HumanEval.jsonl.gz", "csharp": "HumanEval_csharp_v1.jsonl.gz", "go": "HumanEval_go_v1.jsonl.gz",
    "java": "HumanEval_java_v1.1.jsonl.gz", "javascript": "HumanEval_javascript_v1.1.jsonl.gz",
    "kotlin": "HumanEval_kotlin_v1.1.jsonl.gz", "perl": "HumanEval_perl_v1.1.jsonl.gz",
    "php": "HumanEval_php_v1.1.jsonl.gz", "ruby": "HumanEval_ruby_v1.1.jsonl.gz",
    "scala": "HumanEval_scala_v1.1.jsonl.gz", "swift": "HumanEval_swift_v1.1.jsonl.gz",
    "typescript": "HumanEval_typescript_v1.jsonl.gz",
}
MBXP_FILES: dict[str, str] = {
    "python": "mbpp_release_v1.jsonl.gz", "java": "mbjp_release_v1.2.jsonl.gz",
    "javascript": "mbjsp_release_v1.2.jsonl.gz", "typescript": "mbtsp_release_v1.2.jsonl.gz",
    "kotlin": "mbkp_release_v1.2.jsonl.gz", "ruby": "mbrbp_release_v1.2.jsonl.gz", "php": "mbphp_release_v1.2.jsonl.gz",
    "cpp": "mbcpp_release_v1.2.jsonl.gz", "csharp": "mbcsp_release_v1.2.jsonl.gz", "go": "mbgp_release_v1.1.jsonl.gz",
    "perl": "mbplp_release_v1.jsonl.gz", "scala": "mbscp_release_v1.jsonl.gz", "swift": "mbswp_release_v1.jsonl.gz",
}
HUMANEVAL_X_CODES: dict[str, str] = {
    "cpp": "cpp", "go": "go", "java": "java", "javascript": "js", "python": "python", "rust": "rust",
}
FAMILIES: dict[str, dict[str, str]] = {
    "multipl-e": MULTIPLE_CODES,
    "multipl-e-mbpp": MULTIPLE_CODES,
    "mxeval": MXEVAL_HUMANEVAL_FILES,
    "mbxp": MBXP_FILES,
    "humaneval-x": HUMANEVAL_X_CODES,
}
PYTHON_BENCHMARKS = ("humaneval", "humaneval+", "mbpp+")

# Completion-style stop sequences for Python (the Codex / evalplus set).
PYTHON_STOPS = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nif __name__", "\nprint(", "\nassert ", '\n"""')


def available_benchmarks() -> list[str]:
    out = list(PYTHON_BENCHMARKS)
    for family, langs in FAMILIES.items():
        out.append(f"{family}:<{'|'.join(sorted(langs))}>")
    return out


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    """Normalised name, e.g. ``multipl-e:java``."""
    family: str
    language: str
    relpath: str


def parse_benchmark(name: str) -> BenchmarkSpec:
    """Validate a ``--benchmark`` value; unknown names list every available one."""
    raw = name.strip().lower()
    aliases = {"humanevalplus": "humaneval+", "mbppplus": "mbpp+", "he": "humaneval", "he+": "humaneval+"}
    raw = aliases.get(raw, raw)
    if raw == "humaneval":
        return BenchmarkSpec(raw, raw, "python", HUMANEVAL)
    if raw == "humaneval+":
        return BenchmarkSpec(raw, raw, "python", "humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz")
    if raw == "mbpp+":
        return BenchmarkSpec(raw, raw, "python", "mbppplus/MbppPlus-v0.2.0.jsonl.gz")
    family, sep, lang = raw.partition(":")
    if family == "multiple":
        family = "multipl-e"
    if family not in FAMILIES or not sep:
        raise ConfigError(f"unknown benchmark {name!r}; available: {', '.join(available_benchmarks())}")
    table = FAMILIES[family]
    canonical = normalize_language(lang) or (lang if lang in table else None)
    if canonical is None or canonical not in table:
        # MultiPL-E codes (rs, sh, pl…) are valid spellings too.
        inverse = {v: k for k, v in table.items()} if family.startswith("multipl-e") else {}
        canonical = inverse.get(lang)
    if canonical is None:
        raise ConfigError(f"unknown language {lang!r} for {family}; available: {', '.join(sorted(table))}")
    if family == "multipl-e":
        rel = f"multipl-e/humaneval-{table[canonical]}-reworded.jsonl.gz"
    elif family == "multipl-e-mbpp":
        rel = f"multipl-e/mbpp-{table[canonical]}-reworded.jsonl.gz"
    elif family == "mxeval":
        rel = f"mxeval/multilingual_humaneval/{table[canonical]}"
    elif family == "mbxp":
        rel = f"mxeval/mbxp/{table[canonical]}"
    else:
        rel = f"humaneval-x/humaneval_{table[canonical]}.jsonl.gz"
    return BenchmarkSpec(f"{family}:{canonical}", family, canonical, rel)


def read_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc}", str(path), lineno) from exc


_DECL_NAME = re.compile(r"\b(?:def|function|func|fn|sub|fun)\s+(\w+)|(\w+)\s*(?:<[^()]*>)?\s*\(")
_NOT_NAMES = {"if", "for", "while", "switch", "return", "catch", "sizeof", "assert", "print", "elif"}


def declared_name(prompt: str, language: str = "") -> str:
    """Name of the last function declared in a code prompt (the one to implement); comments are ignored."""
    for line in reversed(strip_literals(prompt, language).rstrip().splitlines()):
        s = line.strip()
        if not s or s.startswith(("//", "#", "*", "/*", "--", '"""', ">>>")):
            continue
        m = re.match(r"^(?:local\s+)?(?:\w[\w<>\[\],.?*&:\s]*\s)?(?:def|function|func|fn|sub|fun)\s+(\w+)", s)
        if m:
            return m.group(1)
        m = re.match(r"^(?:export\s+)?(?:const|let|var)\s+(\w+)\s*=.*=>", s)
        if m:
            return m.group(1)
        if s.endswith("{") or s.endswith(":"):
            for m2 in _DECL_NAME.finditer(s):
                name = m2.group(1) or m2.group(2)
                if name and name not in _NOT_NAMES:
                    return name
    raise InputError("cannot find the function declaration in the prompt")


def _declares_function(prompt: str, language: str) -> bool:
    try:
        declared_name(prompt, language)
    except InputError:
        return False
    return True


def _check_tests(test: str, entry: str) -> str:
    """HumanEval-style ``check(candidate)`` tests need the call that runs them."""
    if re.search(r"^check\(", test, re.M):
        return test
    return test.rstrip() + f"\n\ncheck({entry})\n"


def load_tasks(spec: BenchmarkSpec, data: Path | None = None) -> list[Task]:
    """All tasks of one benchmark, in file order."""
    path = locate(spec.relpath, data)
    rows = list(read_jsonl_gz(path))
    out: list[Task] = []
    for row in rows:
        if spec.family in ("humaneval+", "mbpp+"):
            out.append(
                Task(
                    spec.name, row["task_id"], "python", row["prompt"], row["entry_point"], "evalplus",
                    tests=row.get("test") or row.get("assertion") or "", stop=PYTHON_STOPS,
                    canonical=row["canonical_solution"],
                    extra={"base_input": row["base_input"], "plus_input": row["plus_input"],
                           "atol": row.get("atol") or 0, "dataset": "mbpp" if spec.family == "mbpp+" else "humaneval"},
                )
            )
        elif spec.family == "humaneval":
            out.append(
                Task(spec.name, row["task_id"], "python", row["prompt"], row["entry_point"], "check",
                     tests=_check_tests(row["test"], row["entry_point"]), stop=PYTHON_STOPS,
                     canonical=row["canonical_solution"])
            )
        elif spec.family.startswith("multipl-e"):
            prompt = row["prompt"]
            out.append(
                Task(spec.name, row["name"], spec.language, prompt, declared_name(prompt, spec.language), "splice",
                     tests=row["tests"], stop=tuple(row.get("stop_tokens") or ()), canonical=None)
            )
        elif spec.family in ("mxeval", "mbxp"):
            tests = row["test"]
            if spec.language == "python":
                tests = _check_tests(tests, row["entry_point"])
            out.append(
                Task(spec.name, row["task_id"], spec.language, row["prompt"], row["entry_point"], "splice",
                     tests=tests, canonical=row.get("canonical_solution"))
            )
        else:  # humaneval-x
            prompt = row["prompt"]
            decl = row.get("declaration") or ""
            if decl.strip() and not _declares_function(prompt, spec.language):
                prompt = prompt.rstrip("\n") + "\n" + decl.lstrip("\n")  # Rust: the prompt is only the doc
            tests = row["test"]
            setup = row.get("test_setup", "") if spec.language == "go" else ""
            if spec.language == "go" and not prompt.lstrip().startswith("package"):
                setup = setup or "package main\n"
            out.append(
                Task(spec.name, row["task_id"], spec.language, prompt, declared_name(row.get("declaration") or prompt, spec.language),
                     "splice", tests=tests, canonical=row.get("canonical_solution"), setup=setup)
            )
    return out


def select_tasks(tasks: list[Task], ids: list[str] | None = None, pattern: str | None = None,
                 limit: int | None = None) -> list[Task]:
    """``--tasks`` (exact ids or their trailing number), ``--task-regex`` and ``--limit`` applied in order."""
    picked = tasks
    if ids:
        wanted = set(ids)
        picked = [t for t in picked if t.task_id in wanted or t.task_id.rsplit("/", 1)[-1] in wanted]
        if not picked:
            raise ConfigError(f"none of --tasks {', '.join(ids)} is in the benchmark (ids look like {tasks[0].task_id})")
    if pattern:
        rx = re.compile(pattern)
        picked = [t for t in picked if rx.search(t.task_id)]
    if limit is not None:
        picked = picked[:limit]
    return picked


# ----------------------------------------------------------------------------- canonical jobs
# Body that is syntactically complete but wrong: returns a default (or fails to compile in typed
# languages, which is also "not passed").
_STUB: dict[str, str] = {
    "python": "    pass\n",
    "javascript": "}\n",
    "typescript": "}\n",
    "php": "}\n",
    "ruby": "\nend\n",
    "cpp": "    return {};\n}\n",  # falling off a non-void function is UB that may "pass"
    "go": "}\n",
    "rust": "}\n",
    "csharp": "}\n",
    "java": "}\n}\n",
}

CANONICAL_SOURCES: tuple[tuple[str, str], ...] = (
    ("humanevalplus", "humaneval+"),
    ("mbppplus", "mbpp+"),
    *(("humaneval-x", f"humaneval-x:{lang}") for lang in ("python", "cpp", "java", "javascript", "go", "rust")),
    *(("mbxp", f"mbxp:{lang}") for lang in ("cpp", "csharp", "java", "javascript", "php", "python", "ruby", "typescript")),
    ("multi-humaneval", "mxeval:python"),
)
"""(dataset label, benchmark) pairs whose canonical solutions prove the sandbox per language."""


@dataclass(frozen=True)
class CanonicalTask:
    """A benchmark task's canonical solution and a wrong stub, each a whole program with its tests:
    the sandbox must pass the one and not the other (no model, no answer extraction involved)."""

    dataset: str
    language: str
    task_id: str
    solution: str
    wrong: str
    tests: str


def _canonical_task(dataset: str, language: str, row: dict[str, Any]) -> CanonicalTask | None:
    get = lambda k: str(row.get(k) or "")  # noqa: E731
    canonical = get("canonical_solution")
    if not canonical.strip():
        return None
    prompt, test, entry = get("prompt"), get("test"), get("entry_point")
    if dataset == "mbppplus":
        # evalplus runs the assertions in a namespace that already imported math
        solution, tests = canonical, "import math\n" + get("assertion")
        wrong = f"def {entry}(*args, **kwargs):\n    return None\n"
        return CanonicalTask(dataset, language, get("task_id"), solution, wrong, tests)
    if dataset == "humaneval-x" and language == "rust":
        head = get("declaration")
    elif dataset == "humaneval-x" and language == "go":
        head, test = prompt, get("test_setup") + "\n" + test
    else:
        head = prompt
    tests = test
    if language == "python" and entry and f"check({entry})" not in test:
        tests = test + f"\n\ncheck({entry})\n"
    return CanonicalTask(dataset, language, get("task_id"), head + canonical, head + _STUB[language], tests)


def canonical_tasks(data_dir: Path | str, languages: set[str] | None = None) -> Iterator[CanonicalTask]:
    """Every task with a canonical solution under ``data_dir`` (missing files are skipped, never downloaded:
    tests and benchmarks own the data)."""
    for dataset, name in CANONICAL_SOURCES:
        spec = parse_benchmark(name)
        path = Path(data_dir) / spec.relpath
        if (languages and spec.language not in languages) or not path.exists():
            continue
        for row in read_jsonl_gz(path):
            task = _canonical_task(dataset, spec.language, row)
            if task is not None:
                yield task
