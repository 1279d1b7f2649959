"""A run's dataset folder loads with ``datasets.load_dataset`` unchanged and its card says how it was made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from xinstruct.data.dataset_folder import input_license, size_category
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig


def _card(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_inverse_dataset_folder_loads_with_datasets(inverse_run: Path, tmp_path: Path, monkeypatch):
    datasets = pytest.importorskip("datasets", reason="needs the hf extra")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = inverse_run / "dataset"
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))
    rows = [json.loads(line) for line in (inverse_run / "data.jsonl").read_text().splitlines()]
    assert list(loaded) == ["train"] and loaded["train"].num_rows == len(rows) == 20
    assert loaded["train"]["id"] == [r["id"] for r in rows]
    assert loaded["train"][0]["messages"] == rows[0]["messages"]
    header, body = _card(folder)
    assert header["license"] == "other" and header["size_categories"] == ["n<1K"]
    assert header["task_categories"] == ["text-generation"] and "python" in header["tags"]
    summary = json.loads((inverse_run / "summary.json").read_text())
    assert "| extract.too_short | 1 |" in body and "| extract.unparseable_unfenced | 1 |" in body
    assert f"| dataset_rows | {summary['dataset_rows']} |" in body
    assert f"| selected_score_mean | {summary['selected_score_mean']:.3f} |" in body
    assert "| model | scripted |" in body and "| samples | 4 |" in body


def test_licence_is_carried_over_from_a_hub_style_input(tmp_path: Path, scripted_backend):
    src = tmp_path / "corpus"
    src.mkdir()
    (src / "README.md").write_text("---\nlicense: mit\npretty_name: x\n---\n# corpus\n")
    demo = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"
    (src / "data.jsonl").write_text(demo.read_text())
    assert input_license([src / "data.jsonl"]) == "mit"
    run_inverse(src / "data.jsonl", tmp_path / "run", InverseConfig(samples=1, limit=2), BackendConfig(), ReaderConfig(),
                backend=scripted_backend())
    header, body = _card(tmp_path / "run" / "dataset")
    assert header["license"] == "mit" and "`mit`, as the input declares." in body


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 5_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M"]


def test_agents_dataset_folder_holds_the_kept_rows(agents_run: Path, tmp_path: Path):
    datasets = pytest.importorskip("datasets", reason="needs the hf extra")
    loaded = datasets.load_dataset(str(agents_run / "dataset"), cache_dir=str(tmp_path / "hf-cache"))
    kept = [json.loads(line) for line in (agents_run / "sft.jsonl").read_text().splitlines()]
    assert loaded["train"]["id"] == [r["id"] for r in kept] and kept
    header, body = _card(agents_run / "dataset")
    summary = json.loads((agents_run / "summary.json").read_text())
    assert f"| kept | {summary['totals']['kept']} |" in body and header["tags"][-1] == "python"
