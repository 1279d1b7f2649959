"""Canonical-solution jobs from public execution benchmarks (HumanEval+, MBPP+, mxeval, HumanEval-X).

They prove per language that the harness passes correct code and fails wrong code. Only the file
formats live here; the data directory is always passed in (tests and benchmarks own the data).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from xinstruct.core.languages import normalize_language

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

# (dataset, relative path, language)
SOURCES: tuple[tuple[str, str, str], ...] = (
    ("humanevalplus", "humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz", "python"),
    ("mbppplus", "mbppplus/MbppPlus-v0.2.0.jsonl.gz", "python"),
    *(
        ("humaneval-x", f"humaneval-x/humaneval_{code}.jsonl.gz", normalize_language(code) or code)
        for code in ("python", "cpp", "java", "js", "go", "rust")
    ),
    *(
        ("mbxp", f"mxeval/mbxp/{name}", lang)
        for name, lang in (
            ("mbcpp_release_v1.2.jsonl.gz", "cpp"),
            ("mbcsp_release_v1.2.jsonl.gz", "csharp"),
            ("mbjp_release_v1.2.jsonl.gz", "java"),
            ("mbjsp_release_v1.2.jsonl.gz", "javascript"),
            ("mbphp_release_v1.2.jsonl.gz", "php"),
            ("mbpp_release_v1.jsonl.gz", "python"),
            ("mbrbp_release_v1.2.jsonl.gz", "ruby"),
            ("mbtsp_release_v1.2.jsonl.gz", "typescript"),
        )
    ),
    ("multi-humaneval", "mxeval/multilingual_humaneval/HumanEval.jsonl.gz", "python"),
)


@dataclass(frozen=True)
class CanonicalTask:
    dataset: str
    language: str
    task_id: str
    solution: str
    wrong: str
    tests: str


def _rows(path: Path) -> Iterator[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _task(dataset: str, language: str, row: dict[str, object]) -> CanonicalTask | None:
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
    """Every task with a canonical solution under ``data_dir`` (missing files are skipped)."""
    for dataset, rel, language in SOURCES:
        path = Path(data_dir) / rel
        if (languages and language not in languages) or not path.exists():
            continue
        for row in _rows(path):
            task = _task(dataset, language, row)
            if task is not None:
                yield task
