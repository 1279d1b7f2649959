"""Pick the reader from what the input is (directory, extension, record shape)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError
from xinstruct.core.pipeline import SkipLog
from xinstruct.core.records import Record
from xinstruct.readers.code import CODE_FALLBACKS, code_record, read_code_dir
from xinstruct.readers.config import ReaderConfig
from xinstruct.readers.instructions import make_record, read_hf_dataset, read_json, read_jsonl, read_parquet


def _is_code_row(row: dict[str, Any], cfg: ReaderConfig) -> bool:
    has_code = any(k in row for k in (cfg.code_field, *CODE_FALLBACKS))
    has_pair = cfg.messages_field in row or cfg.output_field in row or "response" in row
    return has_code and not has_pair


def _rows(path: Path, skips: SkipLog) -> Iterator[tuple[int, int | None, dict[str, Any]]]:
    """(index, line, row) for file inputs; ``line`` is None where the format has no lines."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        if name.endswith(".gz"):
            raise InputError("gzipped JSONL is not supported; decompress it first", str(path))
        for index, (line, row) in enumerate(read_jsonl(path, skips)):
            yield index, line, row
    elif name.endswith((".json", ".json.gz")):
        rows = read_json(path)
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                skips.add("read", "not_an_object", file=str(path), line=None, detail=f"item {index}")
                continue
            yield index, None, row
    elif name.endswith(".parquet"):
        for index, row in enumerate(read_parquet(path)):
            yield index, None, row
    else:
        raise InputError("unsupported input; use a code directory, .json, .jsonl, .parquet or a saved dataset", str(path))


def read_input(path: str | Path, cfg: ReaderConfig, skips: SkipLog) -> Iterator[Record]:
    """Records from any supported input. Empty input raises after reading, never yields nothing."""
    p = Path(path)
    if not p.exists():
        raise InputError("input not found", str(p))
    count = 0
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            source: Iterator[Record | None] = (
                make_record(dict(row), cfg, p, i, None, skips) for i, row in enumerate(read_hf_dataset(p))
            )
        else:
            source = read_code_dir(p, cfg, skips)
    else:
        if p.stat().st_size == 0:
            raise InputError("file is empty", str(p))
        source = (
            (code_record if _is_code_row(row, cfg) else make_record)(row, cfg, p, index, line, skips)
            for index, line, row in _rows(p, skips)
        )
    for record in source:
        if record is not None:
            count += 1
            yield record
    if count == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in skips.counts.items()) or "no rows"
        fix = ("a code directory needs source files with a known extension (.py, .js, .java, ...)" if p.is_dir()
               else "check the field names (--instruction-field, --output-field)")
        raise InputError(f"no usable records ({reasons}); {fix}", str(p))
