"""Fixtures for the experiment tests: the tiny random Qwen2 the training tests build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # tests/ is not a package

from train_helpers import build_tiny_qwen


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, embedded_model) -> Path:
    pytest.importorskip("transformers")
    from xinstruct.train.loading import load_tokenizer

    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-base"), load_tokenizer(embedded_model))
