"""Refuse a llama.cpp build that would crash the process, with a message that says how to fix it.

On CPUs with AMX (Sapphire Rapids and later) a llama-cpp-python built with ``-march=native``
routes Q4_K matmuls through llama.cpp's AMX kernels, which segfault on the first decode
(ggml-org/llama.cpp#20824: machine-dependent, seen here on every run with 0.3.36). A segfault
loses the run without a word, so a build that has AMX compiled in is first tried in a child
process; the project's own set-up (``scripts/install-llama-cpp.sh``) builds without AMX and
skips the probe.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from xinstruct.core.errors import BackendError

PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_batch=64, n_threads=1, verbose=False)
llm.create_completion("def add(a, b):", max_tokens=2)
"""

REBUILD = (
    "rebuild it without AMX: bash scripts/install-llama-cpp.sh .venv/bin/python (in a checkout), or "
    "CMAKE_ARGS=\"-DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8' -DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8'\" "
    "pip install --force-reinstall --no-cache-dir --no-deps llama-cpp-python"
)


def system_info() -> str:
    import llama_cpp.llama_cpp as lib

    lib.llama_backend_init()
    return lib.llama_print_system_info().decode("utf-8", errors="replace")


def has_amx(info: str) -> bool:
    return "AMX_INT8 = 1" in info


@functools.cache
def probe_decode(model_path: Path) -> int:
    """Exit code of a child that loads ``model_path`` and decodes two tokens (negative: a signal)."""
    try:
        return subprocess.run(
            [sys.executable, "-c", PROBE, str(model_path)], capture_output=True, timeout=300, check=False
        ).returncode
    except subprocess.TimeoutExpired:
        return 0  # slow is not a crash; the real load will show what is wrong


def check_build(model_path: Path, info: str | None = None) -> None:
    """Raise ``BackendError`` if this llama.cpp build crashes on ``model_path``."""
    info = system_info() if info is None else info
    if not has_amx(info):
        return
    code = probe_decode(model_path)
    if code < 0:
        raise BackendError(
            f"{model_path}: this llama-cpp-python build has AMX kernels compiled in and they crash "
            f"(signal {-code}) on this CPU when decoding (ggml-org/llama.cpp#20824); {REBUILD}"
        )
