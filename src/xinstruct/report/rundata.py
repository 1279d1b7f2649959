"""Reading a run directory for viewing: tolerant of what a viewer must survive.

The stages read their shards strictly (``core.runs.read_jsonl``); a viewer meets runs still going,
hand-edited files and hostile data, so here invalid UTF-8 is shown replaced, and a line that is
not JSON is counted by file and line instead of stopping the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError

STAGES = ("inverse", "agents", "eval", "sft", "dpo", "train", "experiment")


@dataclass
class BadLine:
    file: str
    line: int
    reason: str


@dataclass
class Run:
    """A run directory's manifest and summary; rows are read lazily."""

    path: Path
    stage: str
    manifest: dict[str, Any]
    summary: dict[str, Any]
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def jsonl(self, path: Path) -> Iterator[dict[str, Any]]:
        """Rows of one JSONL file; undecodable bytes replaced, broken lines recorded in ``bad_lines``."""
        if not path.exists():
            return
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if not line.endswith("\n"):
                    self.bad_lines.append(BadLine(str(path), n, "torn last line (run still going?)"))
                    break
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    self.bad_lines.append(BadLine(str(path), n, f"not JSON: {exc.msg}"))
                    continue
                if isinstance(row, dict):
                    yield row
                else:
                    self.bad_lines.append(BadLine(str(path), n, "not a JSON object"))

    def shard_rows(self, prefix: str) -> Iterator[dict[str, Any]]:
        for shard in sorted((self.path / "shards").glob(f"{prefix}-*.jsonl")):
            yield from self.jsonl(shard)

    def file_rows(self, name: str) -> Iterator[dict[str, Any]]:
        yield from self.jsonl(self.path / name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a JSON object")
    return data


def open_run(path: str | Path) -> Run:
    """The run at ``path``; its stage comes from ``run.json`` (train runs keep it in ``summary.json``)."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: not a run directory")
    manifest = _read_json(root / "run.json") if (root / "run.json").exists() else {}
    summary = _read_json(root / "summary.json") if (root / "summary.json").exists() else {}
    if not manifest and not summary and (root / "report.json").exists():
        # an experiment directory: its comparison lives in report.json, its stages' runs under arms/
        return Run(root, "experiment", {}, _read_json(root / "report.json"))
    stage = manifest.get("stage") or summary.get("stage")
    if not stage:
        raise InputError(f"{root}: no run.json or summary.json naming a stage; is this a run directory?")
    return Run(root, str(stage), manifest, summary)
