"""Step 5: dataset rows (chat ``messages`` for TRL's SFTTrainer) and their JSONL/Parquet export."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xinstruct.core.fences import fence
from xinstruct.core.runs import atomic_write_parquet_batches, parquet_schema, read_jsonl, write_jsonl_atomic

SOURCE = "xinstruct-inverse"
PARQUET_BATCH = 1000
"""Rows per Parquet row group of the exported files (and the most of them held at once)."""


def dataset_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One SFT row per selected candidate of a finished snippet."""
    rows = []
    for rank, i in enumerate(result.get("selected") or []):
        cand = result["candidates"][i]
        code_block = fence(result["code"], result["language"])
        rows.append(
            {
                "id": result["id"] if rank == 0 else f"{result['id']}#{rank}",
                "messages": [
                    {"role": "user", "content": cand["instruction"]},
                    {"role": "assistant", "content": code_block},
                ],
                "instruction": cand["instruction"],
                "response": code_block,
                "language": result["language"],
                "score": cand.get("score"),
                "selected_index": i,
                "candidates": [
                    {
                        "instruction": c.get("instruction"),
                        "raw": c.get("raw"),
                        "rejected": c.get("rejected"),
                        "score": c.get("score"),
                        "perplexity": c.get("perplexity"),
                        "roundtrip": c.get("roundtrip"),
                        "prefix": c.get("prefix"),
                        "finish_reason": c.get("finish_reason"),
                    }
                    for c in result["candidates"]
                ],
                "source": SOURCE,
                "provenance": result["provenance"],
            }
        )
    return rows


def original_row(result: dict[str, Any]) -> dict[str, Any] | None:
    """The input's own (instruction, response) pair, for the paper's second training stage."""
    if not result.get("original_instruction") or not result.get("original_response"):
        return None
    return {
        "id": f"{result['id']}@original",
        "messages": [
            {"role": "user", "content": result["original_instruction"]},
            {"role": "assistant", "content": result["original_response"]},
        ],
        "instruction": result["original_instruction"],
        "response": result["original_response"],
        "language": result["language"],
        "source": "original",
        "provenance": result["provenance"],
    }


def jsonl_batches(path: Path, size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """The rows of a JSONL output file, ``size`` (:data:`PARQUET_BATCH`) at a time."""
    size = size or PARQUET_BATCH
    rows = read_jsonl(path)
    while batch := list(itertools.islice(rows, size)):
        yield batch


def export(out_dir: Path, name: str, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Write ``name.jsonl`` and ``name.parquet``; both loadable with ``datasets.load_dataset``.

    The rows stream into the JSONL file; the Parquet file is made from it a batch (row group) at a
    time, its schema the one of all rows together, so no more than one batch is ever held.
    """
    jsonl = out_dir / f"{name}.jsonl"
    n = write_jsonl_atomic(jsonl, rows)
    files: dict[str, Any] = {"jsonl": str(jsonl), "rows": n}
    if n:
        parquet = out_dir / f"{name}.parquet"
        schema = parquet_schema(jsonl_batches(jsonl))  # provenance: one JSON-compatible struct per row
        atomic_write_parquet_batches(parquet, jsonl_batches(jsonl), schema)
        files["parquet"] = str(parquet)
    return files
