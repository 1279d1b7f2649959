"""Step 5: dataset rows (chat ``messages`` for TRL's SFTTrainer) and their JSONL/Parquet export."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xinstruct.core.fences import fence
from xinstruct.core.runs import atomic_write_parquet, write_jsonl_atomic

SOURCE = "xinstruct-inverse"


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


def export(out_dir: Path, name: str, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Write ``name.jsonl`` and ``name.parquet``; both loadable with ``datasets.load_dataset``."""
    rows = list(rows)
    jsonl = out_dir / f"{name}.jsonl"
    write_jsonl_atomic(jsonl, rows)
    files = {"jsonl": str(jsonl), "rows": len(rows)}
    if rows:
        parquet = out_dir / f"{name}.parquet"
        atomic_write_parquet(parquet, rows)  # provenance: one JSON-compatible struct per row
        files["parquet"] = str(parquet)
    return files
