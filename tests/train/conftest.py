"""Fixtures for training tests: a tiny randomly initialised Qwen2 with the embedded model's tokenizer.

The tiny model keeps a real optimizer step to about a second, (its cost is the 152k-token vocabulary head), so the trainer plumbing (masking,
curriculum, checkpoints, export) is exercised for real within the suite's time budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import build_tiny_qwen


@pytest.fixture(scope="session")
def qwen_tokenizer(embedded_model):
    pytest.importorskip("transformers")
    from xinstruct.train.loading import load_tokenizer

    return load_tokenizer(embedded_model)


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory, qwen_tokenizer) -> Path:
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"), qwen_tokenizer)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory, tiny_qwen: Path, embedded_model) -> Path:
    """The tiny Qwen2 as a GGUF file (tokenizer and metadata from the embedded model's GGUF)."""
    from xinstruct.train.export import write_gguf_like

    dest = tmp_path_factory.mktemp("tiny-gguf") / "tiny-qwen2-f16.gguf"
    write_gguf_like(tiny_qwen, embedded_model.path, dest)
    return dest
