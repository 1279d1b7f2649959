"""Model card: what a trained model was made from, so a result can be traced to data, base and settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError
from xinstruct.core.runs import atomic_write_json, atomic_write_text, package_versions

CARD_JSON = "model_card.json"


def write_model_card(
    out: Path,
    *,
    kind: str,
    base: dict[str, Any],
    data: list[dict[str, Any]],
    config: dict[str, Any],
    stages: list[dict[str, Any]],
    artifact: str,
    decontamination: dict[str, Any] | None = None,
) -> Path:
    """Write ``model_card.json`` (machine-readable, read by ``train export``) and ``README.md``."""
    card = {
        "kind": kind,
        "artifact": artifact,
        "base_model": base,
        "data": data,
        "config": config,
        "stages": stages,
        "decontamination": decontamination,
        "final_loss": next((s.get("final_loss") for s in reversed(stages) if s.get("final_loss") is not None), None),
        "versions": package_versions(),
    }
    atomic_write_json(out / CARD_JSON, card)
    lines = [
        f"# {kind.upper()} fine-tune of {base.get('name')}",
        "",
        f"- base model: `{base.get('path')}` (sha256 `{base.get('sha256')}`)",
        f"- trained weights: `{artifact}` ({config.get('method')})",
        "",
        "## Data",
        "",
        "| file | sha256 | rows |",
        "| --- | --- | --- |",
        *[f"| `{d['path']}` | `{d['sha256'][:16]}…` | {d.get('rows', '')} |" for d in data],
        "",
        *([f"Decontaminated against {', '.join(decontamination['against'])}: "
           f"{decontamination['dropped']} row(s) sharing a 13-word n-gram dropped.", ""] if decontamination else []),
        "## Stages (in training order)",
        "",
        "| stage | rows | epochs | steps | first loss | final loss |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {s['name']} | {s.get('rows')} | {s.get('epochs')} | {s.get('steps')} | "
            f"{_fmt(s.get('first_loss'))} | {_fmt(s.get('final_loss'))} |"
            for s in stages
        ],
        "",
        "## Config",
        "",
        "```json",
        json.dumps(config, indent=2),
        "```",
        "",
    ]
    atomic_write_text(out / "README.md", "\n".join(lines))
    return out / CARD_JSON


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else "-"


def read_model_card(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / CARD_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"no {CARD_JSON}: not a finished 'xinstruct train' run; give the --out of 'train sft' or "
                         "'train dpo'", str(out)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{CARD_JSON} is unreadable ({exc}); rerun the training command to rewrite it", str(out)) from exc
