"""Sandboxes started ahead of the jobs that will use them.

bubblewrap spends 20–35 ms here creating the user, mount and PID namespaces and binding the
read-only system view, which is most of what a trivial Python job costs. A pre-started sandbox
has done all of that and waits in a tiny shell launcher on its stdin, inside its own fresh work
directory; a job writes its files into that directory, sends one line (limits, environment,
argv) and streams its stdin after it. Each sandbox serves exactly one job and is never reused,
so isolation is unchanged; a background thread keeps ``size`` of them ready.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = 'IFS= read -r job || exit 125; eval "$job"'
"""Runs inside the sandbox: one line from stdin, built by the host with ``shlex.quote``, then exec."""


@dataclass
class Prestarted:
    proc: subprocess.Popen[bytes]
    info_fd: int
    """bwrap's --info-fd: its JSON names the PID-namespace init to kill on timeout."""
    workdir: Path
    uid: int
    etc: str
    """The /etc view it was started with (a package install makes a new one)."""
    used: bool = False
    """A job's first process ran in it (its streams and reaping belong to that job from then on)."""

    def discard(self) -> None:
        """Kill an unused sandbox and remove its work directory."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            os.close(self.info_fd)
        shutil.rmtree(self.workdir, ignore_errors=True)


class SandboxPool:
    """Keeps ``size`` pre-started sandboxes; ``take()`` never waits for one to start."""

    def __init__(self, start: Callable[[], Prestarted | None], size: int) -> None:
        self._start = start
        self.size = size
        self._ready: deque[Prestarted] = deque()
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def take(self, valid: Callable[[Prestarted], bool]) -> Prestarted | None:
        """A ready sandbox that is alive and passes ``valid``, or None (the caller starts one itself)."""
        if self._closed or self.size < 1:
            return None
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._refill, name="sandbox-prestart", daemon=True)
                    self._thread.start()
        found = None
        while True:
            with self._lock:
                item = self._ready.popleft() if self._ready else None
            if item is None:
                break
            if item.proc.poll() is None and valid(item):
                found = item
                break
            item.discard()
        self._wanted.set()
        return found

    def ready(self) -> list[Prestarted]:
        """The sandboxes waiting for a job right now."""
        with self._lock:
            return list(self._ready)

    def _refill(self) -> None:
        while not self._closed:
            self._wanted.wait()
            self._wanted.clear()
            while not self._closed:
                with self._lock:
                    if len(self._ready) >= self.size:
                        break
                item = self._start()
                if item is None:  # cannot start (bwrap missing or failing): jobs will report it themselves
                    self.size = 0
                    return
                with self._lock:
                    if self._closed:
                        item.discard()
                        return
                    self._ready.append(item)

    def close(self) -> None:
        self._closed = True
        self._wanted.set()
        with self._lock:
            items, self._ready = list(self._ready), deque()
        for item in items:
            item.discard()
