"""A run's dataset as a folder the Hub takes as it is: ``dataset/README.md`` (a dataset card whose YAML
header names licence, size, language and task) beside ``dataset/data/train-00000-of-00001.parquet``.

``datasets.load_dataset("RUN/dataset")`` loads it unchanged, and ``huggingface-cli upload`` pushes it
as it is. The card says how the data was made (command, model, settings) and what was dropped, by
reason, so the rows can be traced without the run directory.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from xinstruct.core.errors import StorageError
from xinstruct.core.runs import atomic_write_parquet, atomic_write_text

FOLDER = "dataset"
DATA_FILE = "data/train-00000-of-00001.parquet"
UNKNOWN_LICENSE = "other"


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value for ``n`` rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                         (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def input_license(paths: Sequence[str | Path]) -> str | None:
    """The licence a Hub-style input declares (``license:`` in the YAML header of the README.md in the
    input directory, or beside the input file); None when no input says."""
    found = set()
    for p in paths:
        path = Path(p)
        card = (path if path.is_dir() else path.parent) / "README.md"
        header = _front_matter(card) if card.is_file() else {}
        if isinstance(header.get("license"), str):
            found.add(header["license"])
    return found.pop() if len(found) == 1 else None


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    try:
        data = yaml.safe_load(text[3:end]) if end > 0 else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _write_parquet(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(path, [dict(r) for r in rows])


def _table(pairs: Mapping[str, Any]) -> list[str]:
    return ["| what | value |", "| --- | --- |", *[f"| {k} | {_cell(v)} |" for k, v in pairs.items()]]


def _cell(value: Any) -> str:
    text = f"{value:.3f}" if isinstance(value, float) else json.dumps(value) if isinstance(value, dict | list) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def write_dataset_folder(run_dir: Path, *, stage: str, rows: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any],
                         dropped: Mapping[str, int], headline: Mapping[str, Any]) -> Path:
    """Write ``run_dir/dataset`` from the run's rows; returns the folder."""
    data = run_dir / FOLDER / DATA_FILE
    if rows:
        _write_parquet(rows, data)
    elif data.exists():
        data.unlink()
    languages = sorted({str(r["language"]) for r in rows if r.get("language")})
    return write_dataset_card(run_dir, stage=stage, rows=len(rows), languages=languages, manifest=manifest,
                              dropped=dropped, headline=headline)


def place_parquet(run_dir: Path, parquet: Path | None) -> None:
    """The folder's data file as a copy of a Parquet file the stage wrote already (None: no rows),
    for a stage that streams its rows and so cannot hand them to :func:`write_dataset_folder`."""
    data = run_dir / FOLDER / DATA_FILE
    if parquet is None:
        data.unlink(missing_ok=True)
        return
    data.parent.mkdir(parents=True, exist_ok=True)
    tmp = data.with_name(f".{data.name}.tmp-{os.getpid()}")
    try:
        shutil.copyfile(parquet, tmp)
        os.replace(tmp, data)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(data, exc.strerror or str(exc)) from exc


def write_dataset_card(run_dir: Path, *, stage: str, rows: int, languages: Sequence[str], manifest: Mapping[str, Any],
                       dropped: Mapping[str, int], headline: Mapping[str, Any]) -> Path:
    """``run_dir/dataset/README.md`` for a folder of ``rows`` rows in ``languages``; returns the folder."""
    folder = run_dir / FOLDER
    inputs = [i["path"] for i in manifest.get("input") or [] if isinstance(i, dict) and i.get("path")]
    licence = input_license(inputs)
    model = manifest.get("model") or {}
    header = {
        "license": licence or UNKNOWN_LICENSE,
        "pretty_name": f"xinstruct {stage} data: {run_dir.name}",
        "language": ["en"],  # the instructions' natural language; programming languages are tags
        "size_categories": [size_category(rows)],
        "task_categories": ["text-generation"],
        "tags": ["code", "instruction-tuning", "synthetic", "xinstruct", *languages],
    }
    # no `configs:` entry: the file name alone makes the train split (on the Hub and locally), and
    # `datasets` then keys its cache by the files' absolute paths; a `configs:` pattern is relative,
    # so two runs' folders would share one cache entry and the second load would return the first's rows
    body = [
        f"# xinstruct {stage} data: {run_dir.name}",
        "",
        f"{rows:,} instruction-tuning rows (chat `messages`) made by xinstruct's `{stage}` stage"
        + (f" in {', '.join(languages)}." if languages else "."),
        "",
        "## How it was made",
        "",
        "```",
        " ".join(str(a) for a in manifest.get("command") or []) or "(command not recorded)",
        "```",
        "",
        *_table({"model": model.get("name") or model.get("path") or model.get("backend"),
                 "model sha256": model.get("sha256") or model.get("model_sha256"),
                 "seed": manifest.get("seed"), "created": manifest.get("created"),
                 **{f"input {i + 1}": p for i, p in enumerate(inputs)}}),
        "",
        "Settings that change the output (the run's fingerprint):",
        "",
        *_table(manifest.get("fingerprint") or {}),
        "",
        "## Figures",
        "",
        *_table(headline),
        "",
        "## Dropped, by reason",
        "",
        *(_table(dict(dropped)) if dropped else ["Nothing was dropped."]),
        "",
        "## Licence",
        "",
        f"`{licence}`, as the input declares." if licence else
        "The input declares no licence (`other` above): check the licence of the source code before sharing.",
        "",
    ]
    text = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "README.md", text)
    return folder
