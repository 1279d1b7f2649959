"""What the host offers the sandbox: toolchains on the sandbox's PATH, a private view of the few /etc
entries toolchains read, and the host uid a job runs as."""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import random
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

from xinstruct.sandbox.languages import Language, get_language

SANDBOX_PATH = "/usr/bin:/bin"
_UID_POOL_START, _UID_POOL_SIZE = 1_000_000, 100_000
_RO_ETC = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ssl",
    "/etc/java-17-openjdk",
    "/etc/mono",
    "/etc/php",
    "/etc/localtime",
    "/etc/ca-certificates",
    "/etc/R",
)


@functools.cache
def which(binary: str) -> str | None:
    """Toolchain lookup in the sandbox's PATH (never the caller's venv, pyenv or ~/.cargo)."""
    return shutil.which(binary, path=SANDBOX_PATH)


@functools.cache
def toolchain_version(name: str) -> str:
    """First line of the language's version command, or "unavailable"."""
    lang = get_language(name)
    if lang is None or which(lang.binary) is None:
        return "unavailable"
    cmd = [which(lang.version[0]) or lang.version[0], *lang.version[1:]]
    env = {"PATH": SANDBOX_PATH, "HOME": "/tmp", "LANG": "C.UTF-8", **lang_env(lang, 256)}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return text[0].strip() if text else "unknown"


def toolchain_id(lang: Language) -> str:
    path = which(lang.binary) or lang.binary
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


@functools.cache
def harness_id() -> str:
    """Digest of the language table: a change in assembly or commands invalidates cached compiles."""
    from xinstruct.sandbox import languages

    return hashlib.sha256(Path(languages.__file__).read_bytes()).hexdigest()[:16]


def lang_env(lang: Language, mem_mb: int) -> dict[str, str]:
    return {k: v.replace("{mem}", str(mem_mb)) for k, v in lang.env.items()}


_etc_lock = threading.Lock()
_etc_view: tuple[tuple[tuple[str, int], ...], str] | None = None


def _etc_stamp() -> tuple[tuple[str, int], ...]:
    stamp = []
    for etc in _RO_ETC:
        with contextlib.suppress(OSError):
            stamp.append((etc, os.stat(etc).st_mtime_ns))
    return tuple(stamp)


def _private(path: str) -> bool:
    """Not readable by others on the host (e.g. /etc/ssl/private): never copied into the view."""
    try:
        st = os.lstat(path)
    except OSError:
        return True
    return not stat.S_ISLNK(st.st_mode) and not st.st_mode & stat.S_IROTH


def _copy_etc(src: str, dst: str) -> None:
    """Copies what the host lets everyone read; symlinks stay symlinks (/usr targets resolve inside)."""
    if _private(src):
        return
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(
            src,
            dst,
            symlinks=True,
            ignore=lambda d, names: [n for n in names if _private(os.path.join(d, n))],
        )
    else:
        shutil.copy2(src, dst, follow_symlinks=False)


def _remove_etc_view() -> None:
    if _etc_view is not None:
        shutil.rmtree(_etc_view[1], ignore_errors=True)


ETC_VIEW_PREFIX = "xinstruct-etc-"


def _sweep_dead_etc_views() -> None:
    """Remove the views of processes that died without their exit handler (SIGKILL, a killed CI
    job): each view's name carries its creator's pid. A live pid (or one reused since) keeps its view."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        pid = name[len(ETC_VIEW_PREFIX):].split("-", 1)[0]
        if not name.startswith(ETC_VIEW_PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        except PermissionError:  # alive, another user's
            continue


def etc_view() -> str:
    """A private, world-readable copy of the few /etc entries toolchains read, bound read-only as the
    sandbox's whole /etc: one mount instead of one bind (+ remount) per entry. Rebuilt when one of
    the sources changes (package installs); files the host keeps private (/etc/ssl/private) are
    never copied."""
    global _etc_view
    stamp = _etc_stamp()
    with _etc_lock:
        if _etc_view is not None and _etc_view[0] == stamp and os.path.isdir(_etc_view[1]):
            return _etc_view[1]
        _sweep_dead_etc_views()
        root = tempfile.mkdtemp(prefix=f"{ETC_VIEW_PREFIX}{os.getpid()}-")
        for etc in _RO_ETC:
            _copy_etc(etc, os.path.join(root, os.path.basename(etc)))
        os.chmod(root, 0o755)  # the rest keeps the host's (world-readable) modes
        if _etc_view is None:
            atexit.register(_remove_etc_view)
        else:
            shutil.rmtree(_etc_view[1], ignore_errors=True)
        _etc_view = (stamp, root)
        return root


def host_uid() -> int:
    """Host uid for one job. As root: a random unprivileged uid, so RLIMIT_NPROC (counted per host
    uid, across user namespaces) budgets each job separately; otherwise the caller's own uid."""
    if os.geteuid() == 0:
        return random.randrange(_UID_POOL_START, _UID_POOL_START + _UID_POOL_SIZE)
    return os.geteuid()


def user_threads(uid: int) -> int:
    """Threads the caller's uid already runs: RLIMIT_NPROC counts them too when we cannot switch uid."""
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    total += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                continue
    return total
