"""The process layer: one program run under bubblewrap and prlimit, with the wall-clock limit, the
output cap and the resident-memory watchdog enforced from outside, and the whole tree killed on a breach.

Isolation is bwrap's: new user, PID, network, IPC, UTS and cgroup namespaces, a non-root uid, a
read-only view of /usr plus a few /etc entries, a private writable work dir and /tmp that vanish
with the job, a cleared environment. Limits are rlimits set by prlimit(1) on bwrap and inherited
by the program (cgroups are not writable in containers like CI, so they are not relied upon).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from xinstruct.sandbox.host import SANDBOX_PATH, etc_view, host_uid, user_threads
from xinstruct.sandbox.jobs import Limits, RawOutcome
from xinstruct.sandbox.pool import LAUNCHER, Prestarted

BOX = "/box"
NOBODY = 65534
_PAGE = os.sysconf("SC_PAGE_SIZE")


@functools.cache
def _bwrap_base() -> tuple[str, ...]:
    args = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for link in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        p = Path("/") / link
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--clearenv"]
    return tuple(args)


def _prlimit(cpu: float, memory_mb: int | None, limits: Limits, processes: int, fsize_mb: int) -> list[str]:
    cpu_s = max(1, int(cpu + 0.999))
    mem = f"{memory_mb << 20}" if memory_mb else "unlimited"
    fsize = fsize_mb << 20
    return [
        "prlimit",
        f"--cpu={cpu_s}:{cpu_s + 1}",
        f"--as={mem}",
        f"--nproc={processes}",
        f"--fsize={fsize}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (a scan of /proc; no cgroups needed)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * _PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total


def _sandbox_args(workdir: Path, env: Mapping[str, str], info_fd: int) -> list[str]:
    args = list(_bwrap_base())
    args += [
        "--ro-bind",
        etc_view(),
        "/etc",
        "--info-fd",
        str(info_fd),
        "--bind",
        str(workdir),
        BOX,
        "--chdir",
        BOX,
    ]
    for k, v in env.items():
        args += ["--setenv", k, v]
    return [*args, "--remount-ro", "/"]  # the root tmpfs too: only /box and /tmp are writable


def _spawn(cmd: list[str], uid: int, info_w: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        pass_fds=(info_w,),
        env={"PATH": SANDBOX_PATH},  # bwrap's own pid 1 stays visible inside: keep its environ empty
        **({"user": uid, "group": uid, "extra_groups": []} if os.geteuid() == 0 else {}),  # type: ignore[arg-type]
    )


def prestart(workdir_root: str | None, env: Mapping[str, str]) -> Prestarted | None:
    """A sandbox with an empty work dir, waiting in the launcher for one job (see pool.py)."""
    workdir = Path(tempfile.mkdtemp(prefix="xinstruct-sb-", dir=workdir_root))
    uid = host_uid()
    if os.geteuid() == 0:
        os.chown(workdir, uid, uid)
    etc = etc_view()
    info_r, info_w = os.pipe()
    cmd = [*_sandbox_args(workdir, env, info_w), "--", "/bin/sh", "-c", LAUNCHER]
    try:
        proc = _spawn(cmd, uid, info_w)
    except OSError:
        os.close(info_r)
        shutil.rmtree(workdir, ignore_errors=True)
        return None
    finally:
        os.close(info_w)
    return Prestarted(proc, info_r, workdir, uid, etc)


def run_process(
    argv: list[str],
    workdir: Path,
    env: Mapping[str, str],
    *,
    wall: float,
    cpu: float,
    rlimit_mb: int | None,
    watch_mb: int | None,
    limits: Limits,
    processes: int,
    uid: int,
    stdin: bytes = b"",
    fsize_mb: int | None = None,
    pre: Prestarted | None = None,
) -> RawOutcome:
    """Run argv in the pre-started sandbox given (if unused and alive) or a fresh one, enforcing wall time, output cap
    and the RSS watchdog."""
    if uid == os.geteuid() and uid != 0:
        processes += user_threads(uid)
    limit = _prlimit(cpu, rlimit_mb, limits, processes, fsize_mb or limits.file_size_mb)
    start = time.monotonic()
    if pre is not None and not pre.used and pre.proc.poll() is None:
        # the launcher inside reads this one line, then execs; the limits apply from the exec on
        pre.used = True
        exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items())
        line = exports + "exec " + shlex.join([*limit, *argv])
        proc, info_r, stdin = pre.proc, pre.info_fd, line.encode() + b"\n" + stdin
    else:
        info_r, info_w = os.pipe()
        cmd = limit + _sandbox_args(workdir, env, info_w) + ["--", *argv]
        try:
            proc = _spawn(cmd, uid, info_w)
        except OSError as e:
            os.close(info_r)
            return RawOutcome(None, b"", f"bwrap: cannot start sandbox: {e}".encode(), 0.0)
        finally:
            os.close(info_w)
    out: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}  # type: ignore[union-attr]
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)  # type: ignore[union-attr]
        sel.register(stream, selectors.EVENT_READ)  # type: ignore[arg-type]
    pending = memoryview(stdin)
    if pending:
        os.set_blocking(proc.stdin.fileno(), False)  # type: ignore[union-attr]
        sel.register(proc.stdin, selectors.EVENT_WRITE)  # type: ignore[arg-type]
    else:
        proc.stdin.close()  # type: ignore[union-attr]
    killed = ""
    total = 0
    deadline = start + wall
    next_watch = start + 0.03
    open_streams = 2
    while open_streams and not killed:
        now = time.monotonic()
        if now >= deadline:
            killed = "timeout"
            break
        if watch_mb is not None and now >= next_watch:
            next_watch = now + 0.05
            if _tree_rss(proc.pid) > watch_mb << 20:
                killed = "memory"
                break
        timeout = deadline - now
        if watch_mb is not None:
            timeout = min(timeout, max(0.0, next_watch - now))
        for key, _ in sel.select(timeout):
            stream = key.fileobj
            if stream is proc.stdin:
                try:
                    n = os.write(stream.fileno(), pending[:65536])  # type: ignore[union-attr]
                except (BrokenPipeError, BlockingIOError) as e:
                    n = 0 if isinstance(e, BlockingIOError) else len(pending)
                pending = pending[n:]
                if not pending:
                    sel.unregister(stream)
                    stream.close()  # type: ignore[union-attr]
                continue
            fd = stream.fileno()  # type: ignore[union-attr]
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(stream)
                open_streams -= 1
                continue
            total += len(chunk)
            out[fd] += chunk
            if total > limits.output_bytes:
                killed = "output"
                break
    if killed:
        _kill(proc, info_r)
    os.close(info_r)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        usage = None
    seconds = time.monotonic() - start
    sel.close()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            stream.close()  # type: ignore[union-attr]
    cpu_used = usage.ru_utime + usage.ru_stime if usage else 0.0
    fds = list(out)
    return RawOutcome(proc.returncode, bytes(out[fds[0]]), bytes(out[fds[1]]), seconds, cpu_used, killed)


def _kill(proc: subprocess.Popen[bytes], info_fd: int) -> None:
    """SIGKILL the sandbox's PID-namespace init: the kernel kills every process in the namespace
    (detached ones included) and the outer bwrap exits only once they are all gone, so the
    wait4() that follows returns with nothing left behind. Before bwrap reports the init's pid
    (still setting up), the whole process group is killed instead."""
    os.set_blocking(info_fd, False)
    try:
        child = int(json.loads(os.read(info_fd, 4096).decode())["child-pid"])
    except (BlockingIOError, ValueError, KeyError, OSError):
        child = 0
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if child:
            os.kill(child, signal.SIGKILL)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
