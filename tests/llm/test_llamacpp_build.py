"""The llama.cpp build check: the set-up's build has no AMX, the probe really decodes, and a
crashing build is refused with the rebuild command instead of a segfault."""

from __future__ import annotations

import pytest

from xinstruct.core.errors import BackendError
from xinstruct.llm import llamacpp_build

AMX_INFO = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 |"


def test_setup_builds_without_amx() -> None:
    pytest.importorskip("llama_cpp", reason="needs the llamacpp extra")
    info = llamacpp_build.system_info()
    assert "AVX" in info or "NEON" in info, info  # a real system line, not an empty string
    assert not llamacpp_build.has_amx(info), "scripts/install-llama-cpp.sh should build without AMX"


@pytest.mark.model
def test_probe_decodes_the_real_model(embedded_model) -> None:
    pytest.importorskip("llama_cpp", reason="needs the llamacpp extra")
    assert llamacpp_build.probe_decode(embedded_model.path) == 0
    llamacpp_build.check_build(embedded_model.path, info=AMX_INFO)  # probed, passes: no error


def test_a_build_that_crashes_is_refused(monkeypatch, tmp_path) -> None:
    model = tmp_path / "m.gguf"
    monkeypatch.setattr(llamacpp_build, "probe_decode", lambda path: -11)
    with pytest.raises(BackendError, match=r"m\.gguf: .*AMX.*signal 11.*install-llama-cpp\.sh"):
        llamacpp_build.check_build(model, info=AMX_INFO)
    llamacpp_build.check_build(model, info=AMX_INFO.replace("AMX_INT8 = 1", "AMX_INT8 = 0"))  # no probe
