"""Pre-started sandboxes: jobs run in them, dead ones are skipped, close() leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from xinstruct.sandbox import Job, Sandbox, Verdict

pytestmark = pytest.mark.toolchain


@pytest.fixture
def root() -> Iterator[Path]:
    """A work-dir root the sandbox's unprivileged uid can reach (pytest's tmp root is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="xinstruct-pool-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_ready(sb: Sandbox, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(sb.idle()) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sb.idle()) >= n


def test_jobs_take_prestarted_sandboxes(root: Path) -> None:
    with Sandbox(use_cache=False, workdir_root=root, prestart=2) as sb:
        sb.run(Job("python", "print(1)"))  # the first job starts the pool
        _wait_ready(sb, 2)
        waiting = {p.proc.pid for p in sb.idle()}
        r = sb.run(Job("python", "import sys\nprint(sys.stdin.read().upper())", stdin="from stdin"))
        assert r.verdict is Verdict.PASSED and r.stdout.strip() == "FROM STDIN", r.to_dict()
        _wait_ready(sb, 2)
        assert waiting - {p.proc.pid for p in sb.idle()}, "the job should have used a waiting sandbox"
        # the environment a job sees is the job's own, not the launcher's
        env = sb.run(Job("python", "import os\nprint(sorted(os.environ))"))
        assert "job" not in env.stdout and "PATH" in env.stdout


def test_dead_prestarted_sandboxes_are_skipped(root: Path) -> None:
    with Sandbox(use_cache=False, workdir_root=root, prestart=2) as sb:
        sb.run(Job("python", "print(1)"))
        _wait_ready(sb, 2)
        for p in sb.idle():
            os.killpg(p.proc.pid, signal.SIGKILL)
            p.proc.wait()
        r = sb.run(Job("python", "print(2)"))
        assert r.verdict is Verdict.PASSED and r.stdout.strip() == "2", r.to_dict()


def test_close_removes_waiting_sandboxes(root: Path) -> None:
    sb = Sandbox(use_cache=False, workdir_root=root, prestart=2)
    sb.run(Job("python", "print(1)"))
    _wait_ready(sb, 2)
    procs = [p.proc for p in sb.idle()]
    sb.close()
    assert all(p.poll() is not None for p in procs)
    assert list(root.iterdir()) == []
    assert sb.run(Job("python", "print(3)")).verdict is Verdict.PASSED  # still works, without a pool
