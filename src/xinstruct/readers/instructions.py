"""Instruction datasets: JSON, JSONL, Parquet or a saved Hugging Face dataset."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from xinstruct.core.errors import InputError
from xinstruct.core.extraction import is_utf8_text
from xinstruct.core.pipeline import SkipLog
from xinstruct.core.records import Record
from xinstruct.readers.config import ReaderConfig

INSTRUCTION_FALLBACKS = ("prompt", "question", "query", "problem")
OUTPUT_FALLBACKS = ("response", "completion", "answer", "solution")


def _pick(row: dict[str, Any], name: str, fallbacks: tuple[str, ...]) -> Any:
    for key in (name, *fallbacks):
        if key in row:
            return row[key]
    return None


def row_to_pair(row: dict[str, Any], cfg: ReaderConfig) -> tuple[str, str] | str:
    """(instruction, response) from a row, or the reason it has none."""
    messages = row.get(cfg.messages_field)
    if isinstance(messages, list) and messages:
        user = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
        assistant = next(
            (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"), None
        )
        if not isinstance(user, str) or not isinstance(assistant, str):
            return "no_user_or_assistant_turn"
        if not (is_utf8_text(user) and is_utf8_text(assistant)):
            return "lone_surrogate"
        return user, assistant
    instruction = _pick(row, cfg.instruction_field, INSTRUCTION_FALLBACKS)
    output = _pick(row, cfg.output_field, OUTPUT_FALLBACKS)
    if instruction is None or output is None:
        return "missing_field"
    if not isinstance(instruction, str) or not isinstance(output, str):
        return "non_text_field"
    if not output.strip():
        return "empty_response"
    if not (is_utf8_text(instruction) and is_utf8_text(output)):
        return "lone_surrogate"
    return instruction, output


def make_record(row: dict[str, Any], cfg: ReaderConfig, source: Path, index: int, line: int | None,
                skips: SkipLog) -> Record | None:
    pair = row_to_pair(row, cfg)
    if isinstance(pair, str):
        detail = f"keys: {', '.join(sorted(row))[:200]}" if pair == "missing_field" else ""
        skips.add("read", pair, file=str(source), line=line, detail=detail)
        return None
    instruction, response = pair
    return Record(
        id=f"{source.name}:{index}",
        data={"instruction": instruction, "response": response},
        provenance={"file": str(source), "line": line, "index": index},
    )


MAX_LINE_BYTES = 64 << 20
"""A JSONL line longer than this is skipped unread, so one runaway line cannot exhaust memory."""


def _lines(fh: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of each line; ``None`` for a line over MAX_LINE_BYTES, whose rest is
    read and dropped in bounded pieces."""
    lineno = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield lineno, None
            continue
        yield lineno, raw


def read_jsonl(path: Path, skips: SkipLog) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each valid line; bad lines are logged with their number."""
    with open(path, "rb") as fh:
        for lineno, raw in _lines(fh):
            if raw is None:
                skips.add("read", "line_too_long", file=str(path), line=lineno, detail=f"over {MAX_LINE_BYTES} bytes")
                continue
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                skips.add("read", "invalid_utf8", file=str(path), line=lineno, detail=str(exc))
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                skips.add("read", "malformed_json", file=str(path), line=lineno, detail=exc.msg)
                continue
            except RecursionError:
                skips.add("read", "too_deeply_nested", file=str(path), line=lineno)
                continue
            if not isinstance(obj, dict):
                skips.add("read", "not_an_object", file=str(path), line=lineno)
                continue
            yield lineno, obj


def read_json(path: Path) -> list[Any]:
    """A JSON list (or {"data": [...]}); an unreadable file is an error naming line and column."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, EOFError) as exc:
        raise InputError(f"unreadable gzip file: {exc}", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 at byte {exc.start}", str(path)) from exc
    if not text.strip():
        raise InputError("file is empty", str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON (column {exc.colno}): {exc.msg}", str(path), exc.lineno) from exc
    except RecursionError as exc:
        raise InputError("JSON nested too deeply to read; store one record per line as JSONL instead", str(path)) from exc
    if isinstance(data, dict):
        for key in ("data", "rows", "train", "instances"):
            if isinstance(data.get(key), list):
                return list(data[key])
        raise InputError("a JSON object must hold a list under 'data', 'rows', 'train' or 'instances'", str(path))
    if not isinstance(data, list):
        raise InputError("expected a JSON list of records", str(path))
    return data


def read_parquet(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise InputError(f"not a readable Parquet file: {exc}", str(path)) from exc
    yield from table.to_pylist()


def read_hf_dataset(path: Path) -> Iterator[dict[str, Any]]:
    try:
        from datasets import load_from_disk
    except ImportError as exc:
        raise InputError("reading a saved Hugging Face dataset needs: pip install 'xinstruct[hf]'", str(path)) from exc
    ds = load_from_disk(str(path))
    if hasattr(ds, "keys"):  # a DatasetDict: take the train split, else the first
        split = "train" if "train" in ds else next(iter(ds.keys()))
        ds = ds[split]
    yield from ds
