"""Resuming a training run on other base weights is refused (the same manifest check as every stage)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from xinstruct.core.errors import ConfigError
from xinstruct.models.registry import ModelRef

pytest.importorskip("accelerate")


def test_other_base_weights_are_refused(tmp_path):
    from xinstruct.train.config import SftTrainConfig
    from xinstruct.train.training_run import open_training_run

    data = tmp_path / "rows.jsonl"
    data.write_text('{"messages": []}\n')

    def base(sha: str) -> ModelRef:
        return ModelRef(name="base", path=Path("/models/base"), format="hf", sha256=sha)

    out, cfg = tmp_path / "run", SftTrainConfig()
    open_training_run(out, "train-sft", cfg, [data], [], base("a" * 64), overwrite=False, outputs=())
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["input"] == [{"path": str(data.resolve()), "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}]
    open_training_run(out, "train-sft", cfg, [data], [], base("a" * 64), overwrite=False, outputs=())
    with pytest.raises(ConfigError, match=r"model\.sha256"):
        open_training_run(out, "train-sft", cfg, [data], [], base("b" * 64), overwrite=False, outputs=())
