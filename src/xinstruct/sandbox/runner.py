"""Run untrusted programs under bubblewrap with resource limits and turn the outcome into a verdict.

Isolation is bwrap's: new user, PID, network, IPC, UTS and cgroup namespaces, a non-root uid, a
read-only view of /usr plus a few /etc entries, a private writable work dir and /tmp that vanish
with the job, a cleared environment. Limits are rlimits set by prlimit(1) on bwrap and inherited
by the program (cgroups are not writable in containers like CI, so they are not relied upon).
When the host user is root, bwrap is started as a random unprivileged uid per job: RLIMIT_NPROC is
ignored for root and is counted per host uid across user namespaces, so a fresh uid gives every
job its own process budget (inside the sandbox the program always sees uid 65534).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import random
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from xinstruct.sandbox.cache import CompileCache, cache_key
from xinstruct.sandbox.languages import COMMON_FAILURE_MARKERS, LANGUAGES, Files, Language, get_language
from xinstruct.sandbox.pool import LAUNCHER, Prestarted, SandboxPool

BOX = "/box"
SANDBOX_PATH = "/usr/bin:/bin"
NOBODY = 65534
_COMPILE_FSIZE_MB = 512  # linkers write big binaries (rustc --test with debug info: >16 MB)
_UID_POOL_START, _UID_POOL_SIZE = 1_000_000, 100_000
_PAGE = os.sysconf("SC_PAGE_SIZE")
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


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    OUTPUT_LIMIT = "output_limit"
    UNAVAILABLE = "unavailable"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True)
class Limits:
    """Per-job limits. ``cpu`` defaults to ``timeout``; compile steps get their own, larger budget."""

    timeout: float = 10.0
    cpu: float | None = None
    memory_mb: int = 512
    processes: int = 64
    file_size_mb: int = 16
    open_files: int = 256
    output_bytes: int = 1 << 20
    compile_timeout: float = 60.0
    compile_memory_mb: int = 2048


@dataclass
class Job:
    language: str
    code: str
    tests: str | None = None
    stdin: str = ""
    limits: Limits = field(default_factory=Limits)
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Result:
    verdict: Verdict
    language: str
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    message: str = ""
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    total_seconds: float = 0.0
    cached: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        return d


@dataclass
class _Raw:
    """What one sandboxed process did, before any language-specific judgement."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    cpu_seconds: float = 0.0
    killed: str = ""  # "timeout" | "memory" | "output" when we killed it


# ----------------------------------------------------------------------------- toolchains
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
    env = {"PATH": SANDBOX_PATH, "HOME": "/tmp", "LANG": "C.UTF-8", **_lang_env(lang, 256)}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return text[0].strip() if text else "unknown"


def _toolchain_id(lang: Language) -> str:
    path = which(lang.binary) or lang.binary
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


@functools.cache
def _harness_id() -> str:
    """Digest of the language table: a change in assembly or commands invalidates cached compiles."""
    from xinstruct.sandbox import languages

    return hashlib.sha256(Path(languages.__file__).read_bytes()).hexdigest()[:16]


def _lang_env(lang: Language, mem_mb: int) -> dict[str, str]:
    return {k: v.replace("{mem}", str(mem_mb)) for k, v in lang.env.items()}


# ----------------------------------------------------------------------------- bwrap
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
        root = tempfile.mkdtemp(prefix="xinstruct-etc-")
        for etc in _RO_ETC:
            _copy_etc(etc, os.path.join(root, os.path.basename(etc)))
        os.chmod(root, 0o755)  # the rest keeps the host's (world-readable) modes
        if _etc_view is None:
            atexit.register(_remove_etc_view)
        else:
            shutil.rmtree(_etc_view[1], ignore_errors=True)
        _etc_view = (stamp, root)
        return root


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


def _host_uid() -> int:
    """Host uid for one job. As root: a random unprivileged uid, so RLIMIT_NPROC (counted per host
    uid, across user namespaces) budgets each job separately; otherwise the caller's own uid."""
    if os.geteuid() == 0:
        return random.randrange(_UID_POOL_START, _UID_POOL_START + _UID_POOL_SIZE)
    return os.geteuid()


def _user_threads(uid: int) -> int:
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
    uid = _host_uid()
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


def _exec(
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
) -> _Raw:
    """Run argv in the pre-started sandbox given (if unused and alive) or a fresh one, enforcing wall time, output cap
    and the RSS watchdog."""
    if uid == os.geteuid() and uid != 0:
        processes += _user_threads(uid)
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
            return _Raw(None, b"", f"bwrap: cannot start sandbox: {e}".encode(), 0.0)
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
    return _Raw(proc.returncode, bytes(out[fds[0]]), bytes(out[fds[1]]), seconds, cpu_used, killed)


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


# ----------------------------------------------------------------------------- judging
def _tail(data: bytes | str, n: int) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= n else "…" + text[-n:]


def _is_sandbox_failure(raw: _Raw) -> bool:
    return raw.exit_code == 1 and raw.stderr.startswith(b"bwrap:")


def _judge(lang: Language, raw: _Raw, has_tests: bool, cpu: float) -> tuple[Verdict, str]:
    err = raw.stderr.decode("utf-8", "replace")
    both = err + "\n" + raw.stdout.decode("utf-8", "replace")
    code = raw.exit_code
    if raw.killed == "output":
        return Verdict.OUTPUT_LIMIT, "output exceeded the cap; the process tree was killed"
    if raw.killed == "timeout":
        return Verdict.TIMEOUT, "wall-clock limit reached; the process tree was killed"
    if raw.killed == "memory":
        return Verdict.MEMORY_EXCEEDED, "resident memory of the process tree exceeded the limit"
    if _is_sandbox_failure(raw):
        return Verdict.SANDBOX_ERROR, err.strip()[:500]
    if code == 0:
        return Verdict.PASSED, ""
    if code in (128 + signal.SIGXCPU, -signal.SIGXCPU) or (
        code in (128 + signal.SIGKILL, -signal.SIGKILL) and raw.cpu_seconds >= cpu * 0.9
    ):
        return Verdict.TIMEOUT, "CPU time limit reached"
    if any(m in err for m in lang.oom_markers) or "Cannot allocate memory" in err:
        return Verdict.MEMORY_EXCEEDED, "allocation failed under the memory limit"
    if (
        lang.syntax_markers
        and "Traceback (most recent call last)" not in err
        and any(m in err for m in lang.syntax_markers)
    ):
        return Verdict.COMPILE_ERROR, "syntax error"
    if has_tests and (
        lang.tests_fail_on_nonzero or any(m in both for m in (*COMMON_FAILURE_MARKERS, *lang.failure_markers))
    ):
        return Verdict.FAILED, f"tests failed (exit {code})"
    return Verdict.RUNTIME_ERROR, f"exit code {code}"


# ----------------------------------------------------------------------------- the service
class Sandbox:
    """Runs jobs in bubblewrap sandboxes; thread-safe, so one instance serves a whole batch."""

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        use_cache: bool = True,
        tail_chars: int = 4000,
        workdir_root: Path | str | None = None,
        prestart: int | None = None,
    ) -> None:
        """``prestart``: sandboxes kept started ahead of jobs (default: one per core; 0 starts each on demand)."""
        self.cache = CompileCache(Path(cache_dir) if cache_dir else None) if use_cache else None
        self.tail_chars = tail_chars
        self.workdir_root = str(workdir_root) if workdir_root else None
        size = (os.cpu_count() or 1) if prestart is None else prestart
        self._pool = SandboxPool(self._prestart, size)
        weakref.finalize(self, self._pool.close)

    def _prestart(self) -> Prestarted | None:
        if which("bwrap") is None or which("prlimit") is None:
            return None
        return prestart(self.workdir_root, self._env_fixed())

    def idle(self) -> list[Prestarted]:
        """Pre-started sandboxes waiting for a job (their processes and work dirs are expected)."""
        return self._pool.ready()

    def close(self) -> None:
        """Stop the pre-started sandboxes (also done when the object is collected or at exit)."""
        self._pool.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, job: Job) -> Result:
        start = time.monotonic()
        result = self._run(job)
        result.total_seconds = round(time.monotonic() - start, 4)
        return result

    def run_many(self, jobs: Iterable[Job], concurrency: int | None = None) -> Iterator[tuple[int, Result]]:
        """Yield (index, result) as jobs finish, at most ``concurrency`` (default: CPU count) at once."""
        workers = max(1, concurrency or os.cpu_count() or 1)
        it = iter(enumerate(jobs))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
            running: dict[Future[Result], int] = {}
            for i, job in it:
                running[pool.submit(self.run, job)] = i
                if len(running) >= workers * 2:
                    break
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield running.pop(fut), fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        running[pool.submit(self.run, nxt[1])] = nxt[0]

    # ------------------------------------------------------------------ internals
    def _run(self, job: Job) -> Result:
        lang = get_language(job.language)
        if lang is None:
            known = ", ".join(sorted(x.name for x in LANGUAGES))
            return Result(Verdict.UNAVAILABLE, job.language, message=f"unknown language; known: {known}")
        if which(lang.binary) is None or which("bwrap") is None or which("prlimit") is None:
            missing = lang.binary if which(lang.binary) is None else "bwrap/prlimit"
            pkgs = " ".join(lang.packages) if missing == lang.binary else "bubblewrap util-linux"
            return Result(
                Verdict.UNAVAILABLE,
                lang.name,
                message=f"{missing} not found; install Debian package(s): {pkgs}",
            )
        files: Files = {**lang.assemble(job.code, job.tests), **job.files}
        pre = self._pool.take(lambda p: p.etc == etc_view())
        workdir = (
            pre.workdir if pre else Path(tempfile.mkdtemp(prefix="xinstruct-sb-", dir=self.workdir_root))
        )
        try:
            return self._run_in(lang, job, files, workdir, pre)
        finally:
            if pre is not None and not pre.used:
                pre.discard()
            shutil.rmtree(workdir, ignore_errors=True)

    def _write(self, workdir: Path, files: Files, uid: int) -> None:
        root = os.geteuid() == 0
        for name, text in files.items():
            path = (workdir / name).resolve()
            if workdir.resolve() not in path.parents:
                raise ValueError(f"file name escapes the work dir: {name!r}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if root:
            for dirpath, dirnames, filenames in os.walk(workdir):
                for n in (*dirnames, *filenames):
                    os.chown(os.path.join(dirpath, n), uid, uid)
            os.chown(workdir, uid, uid)

    def _run_in(
        self, lang: Language, job: Job, files: Files, workdir: Path, pre: Prestarted | None
    ) -> Result:
        lim = job.limits
        uid = pre.uid if pre else _host_uid()
        self._write(workdir, files, uid)
        compile_s, cached = 0.0, False
        command = lang.compile_command(files)
        if command is not None:
            outcome = self._compile(lang, files, command, workdir, lim, uid, pre)
            if isinstance(outcome, Result):
                return outcome
            compile_s, cached = outcome
        entry = lang.entry(files) if lang.entry else lang.source
        argv = [a.replace("{mem}", str(lim.memory_mb)).replace("{entry}", entry) for a in lang.run]
        env = self._env(lang, lim.memory_mb)
        cpu = lim.cpu or lim.timeout
        heap = lang.memory == "heap"
        run_once = functools.partial(
            _exec,
            argv,
            workdir,
            env,
            wall=lim.timeout,
            cpu=cpu,
            rlimit_mb=None if heap else lim.memory_mb,
            watch_mb=lim.memory_mb + lang.overhead_mb if heap else None,
            limits=lim,
            processes=lim.processes,
            uid=uid,
            stdin=job.stdin.encode(),
        )
        raw = run_once(pre=pre)  # taken by the compile step already, if there was one
        for _ in range(3):
            # A binary restored from the compile cache was just written by this process; a fork in
            # another thread (a concurrent job, the pre-start pool) holds a copy of that write fd
            # until its exec, and exec fails with ETXTBSY meanwhile. The window is milliseconds.
            if not (raw.exit_code == 126 and b"Text file busy" in raw.stderr):
                break
            time.sleep(0.05)
            raw = run_once()
        verdict, message = _judge(lang, raw, job.tests is not None, cpu)
        return Result(
            verdict,
            lang.name,
            raw.exit_code,
            _tail(raw.stdout, self.tail_chars),
            _tail(raw.stderr, self.tail_chars),
            message,
            round(compile_s, 4),
            round(raw.seconds, 4),
            cached=cached,
        )

    @staticmethod
    def _env_fixed() -> dict[str, str]:
        return {
            "PATH": SANDBOX_PATH,
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }

    def _env(self, lang: Language, mem_mb: int) -> dict[str, str]:
        return {**self._env_fixed(), **_lang_env(lang, mem_mb)}

    def _compile(
        self,
        lang: Language,
        files: Files,
        command: tuple[str, ...],
        workdir: Path,
        lim: Limits,
        uid: int,
        pre: Prestarted | None = None,
    ) -> Result | tuple[float, bool]:
        """Compile (or restore from cache); a Result means the job ends here."""
        budget = f"{lim.compile_timeout}:{lim.compile_memory_mb}:{_COMPILE_FSIZE_MB}:{_harness_id()}"
        key = cache_key(lang.name, f"{_toolchain_id(lang)}|{budget}", command, files)
        entry = self.cache.get(key) if self.cache else None
        if entry is not None:
            if not entry.ok:
                return Result(
                    Verdict.COMPILE_ERROR,
                    lang.name,
                    1,
                    "",
                    entry.stderr,
                    "compilation failed (cached)",
                    cached=True,
                )
            CompileCache.restore(entry, workdir)
            return 0.0, True
        compile_once = functools.partial(
            _exec,
            list(command),
            workdir,
            self._env(lang, lim.compile_memory_mb),
            wall=lim.compile_timeout,
            cpu=lim.compile_timeout,
            rlimit_mb=None,
            watch_mb=lim.compile_memory_mb,
            limits=lim,
            processes=max(lim.processes, 256),
            uid=uid,
            fsize_mb=_COMPILE_FSIZE_MB,
        )
        raw = compile_once(pre=pre)
        seconds = raw.seconds
        for _ in range(3):  # each round fixes what the previous compile reported
            if raw.exit_code in (0, None) or raw.killed or lang.fix_compile is None:
                break
            fixed = lang.fix_compile(files, raw.stderr.decode("utf-8", "replace"))
            if fixed is None:
                break
            files = fixed
            self._write(workdir, fixed, uid)
            raw = compile_once()
            seconds += raw.seconds
        if _is_sandbox_failure(raw):
            return Result(
                Verdict.SANDBOX_ERROR,
                lang.name,
                raw.exit_code,
                "",
                _tail(raw.stderr, self.tail_chars),
                "sandbox failed during compilation",
                compile_seconds=round(seconds, 4),
            )
        if raw.killed or raw.exit_code != 0:
            message = {
                "timeout": "compilation timed out",
                "memory": "compiler exceeded its memory budget",
                "output": "compiler output exceeded the cap",
            }.get(raw.killed, "compilation failed")
            stderr = _tail(raw.stderr or raw.stdout, self.tail_chars)
            if self.cache is not None and not raw.killed:
                self.cache.put(key, False, stderr, seconds, workdir, ())
            return Result(
                Verdict.COMPILE_ERROR,
                lang.name,
                raw.exit_code,
                _tail(raw.stdout, self.tail_chars),
                stderr,
                message,
                compile_seconds=round(seconds, 4),
            )
        if self.cache is not None:
            self.cache.put(key, True, "", seconds, workdir, lang.artifacts)
        return seconds, False


def available_languages() -> list[str]:
    """Canonical names of the languages whose toolchain is installed."""
    return [lang.name for lang in LANGUAGES if which(lang.binary) is not None]


def language_info() -> list[dict[str, str]]:
    """One row per language: name, toolchain version or "unavailable", Debian packages providing it."""
    return [
        {"language": lang.name, "version": toolchain_version(lang.name), "packages": " ".join(lang.packages)}
        for lang in LANGUAGES
    ]
