"""Choosing the vLLM backend without vLLM (CI's venv) fails with an error naming the extra, before
any work starts. What runs against the real package is in ``test_vllm_real.py`` (skipped here)."""

from __future__ import annotations

import importlib.util

import pytest

from xinstruct.core.errors import BackendError
from xinstruct.llm.factory import BackendConfig, plan_backend


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_vllm_without_vllm_names_the_extra(embedded_model):
    plan = plan_backend(BackendConfig(backend="vllm"))
    assert plan.identity()["backend"] == "vllm"  # the run directory can be checked first
    with pytest.raises(BackendError, match=r"xinstruct\[vllm\]"):
        plan.build()
