"""The sandbox's /etc view: one per process, and the views of processes killed before their exit
handler ran are swept by the next process that builds one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from xinstruct.sandbox import host

pytestmark = pytest.mark.toolchain


def test_views_of_killed_processes_are_swept() -> None:
    code = "import os, sys\nfrom xinstruct.sandbox import host\nprint(host.etc_view(), flush=True)\nos._exit(0)\n"
    leaked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert Path(leaked).is_dir() and Path(leaked).name.startswith(host.ETC_VIEW_PREFIX)  # os._exit: no exit handler ran
    live = tempfile.mkdtemp(prefix=f"{host.ETC_VIEW_PREFIX}{os.getppid()}-")  # a live process's view stays
    kept = host._etc_view
    host._etc_view = None  # build afresh in this process, as a new process would
    try:
        mine = host.etc_view()
        assert not Path(leaked).exists() and Path(live).is_dir() and Path(mine).is_dir()
        assert Path(mine).name.startswith(f"{host.ETC_VIEW_PREFIX}{os.getpid()}-")
    finally:
        os.rmdir(live)
        if kept is not None and host._etc_view is not None and host._etc_view[1] != kept[1]:
            shutil.rmtree(host._etc_view[1], ignore_errors=True)
            host._etc_view = kept
