"""Hostile programs: each gets a verdict within its limit plus a grace, and the host is unchanged."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from xinstruct.sandbox import Job, Limits, Sandbox, Verdict

pytestmark = pytest.mark.toolchain
GRACE = 3.0
POOL_UID = 1_000_000  # runner's per-job host uids start here


def _sandbox_processes(root: Path, idle: frozenset[int] = frozenset()) -> list[int]:
    """Live processes under a sandbox uid that belong to a sandbox of this module, except the
    pre-started ones in ``idle`` that wait for the next job. Belonging is by ancestry: a bwrap
    whose command line binds a work dir under ``root``. Other modules' sandboxes in this process
    (a session fixture's pool refills in the background and may be spawning one just now) and
    other suites' never count."""
    parent: dict[int, int] = {}
    boxed: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
            uid = os.stat(f"/proc/{name}").st_uid
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        if fields[0] == b"Z":
            continue
        parent[int(name)] = int(fields[1])
        if uid >= POOL_UID or uid == 65534:
            boxed.append(int(name))
    marker = str(root).encode()
    ours: dict[int, bool] = {}

    def binds_ours(pid: int) -> bool:
        if pid not in ours:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    ours[pid] = marker in f.read()
            except OSError:
                ours[pid] = False
        return ours[pid]

    out = []
    for pid in boxed:
        chain, p = [], pid
        while p > 1 and len(chain) < 64:
            chain.append(p)
            p = parent.get(p, 0)
        if not idle.intersection(chain) and any(binds_ours(c) for c in chain):
            out.append(pid)
    return out


@pytest.fixture(scope="module")
def workdirs() -> Iterator[Path]:
    # not under pytest's 0700 tmp root: the sandbox's unprivileged uid must reach its work dir
    path = Path(tempfile.mkdtemp(prefix="xinstruct-hostile-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", params=[0, 2], ids=["fresh", "prestarted"])
def sandbox(workdirs: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Own work-dir root, so leftovers are ours even when other suites run sandboxes meanwhile.
    Every hostile program runs both in a sandbox started for it and in a pre-started one."""
    with Sandbox(cache_dir=tmp_path_factory.mktemp("cache"), workdir_root=workdirs, prestart=request.param) as sb:
        yield sb


@pytest.fixture
def host_unchanged(workdirs: Path, sandbox: Sandbox) -> Iterator[None]:
    """No sandbox process survives the job and no work dir is left behind. Expected residents:
    the pre-started sandboxes waiting for the next job, this sandbox's and other test modules'
    (those existed before the test began). This sandbox's own waiting ones are not exempt once a
    job took them: a program that survived its job would keep its launcher's pid."""
    before = set(_sandbox_processes(workdirs, frozenset(p.proc.pid for p in sandbox.idle())))
    yield

    def leftovers() -> tuple[list[int], list[Path]]:
        idle = sandbox.idle()
        pids = frozenset(p.proc.pid for p in idle)
        dirs = {p.workdir for p in idle}
        alive = [pid for pid in _sandbox_processes(workdirs, pids) if pid not in before]
        return alive, [d for d in workdirs.iterdir() if d not in dirs]

    deadline = time.monotonic() + 2
    while any(leftovers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive, dirs = leftovers()
    assert (alive, dirs) == ([], []), [_describe(pid) for pid in alive]


def _describe(pid: int) -> str:
    """State, parent and command line of a leftover, so a failure says what survived."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return f"{pid}: gone"
    fields = stat[stat.rindex(b")") + 2 :].split()
    return f"{pid}: state {fields[0].decode()} ppid {int(fields[1])} {cmd!r}"


def _run(sandbox: Sandbox, job: Job) -> tuple[object, float]:
    start = time.monotonic()
    r = sandbox.run(job)
    elapsed = time.monotonic() - start
    assert elapsed < job.limits.timeout + GRACE + (30 if r.compile_seconds else 0), r.to_dict()
    return r, elapsed


FORK_BOMBS = {
    "python": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "bash": ":(){ :|:& };:\nsleep 100\n",
    "c": "#include <unistd.h>\nint main(void) { for (;;) fork(); }",
}


@pytest.mark.parametrize("lang", sorted(FORK_BOMBS))
def test_fork_bomb(sandbox: Sandbox, host_unchanged: None, lang: str) -> None:
    r, _ = _run(sandbox, Job(lang, FORK_BOMBS[lang], limits=Limits(timeout=2, processes=32)))
    assert r.verdict is Verdict.TIMEOUT, r.to_dict()


MEMORY_BOMBS = {
    "python": "x = []\nwhile True:\n    x.append(bytearray(10 << 20))\n",
    "cpp": "#include <vector>\n#include <cstring>\nint main() { std::vector<char*> v; for (;;) { char* p = new char[10 << 20];"
           " memset(p, 1, 10 << 20); v.push_back(p); } }",
    "java": "import java.util.*;\npublic class Main { public static void main(String[] a) {"
            " List<long[]> l = new ArrayList<>(); for (;;) l.add(new long[1 << 20]); } }",
    "javascript": "const a = []; for (;;) a.push(new Array(1e6).fill(1.5));",
    "go": "package main\nfunc main() { var a [][]byte\n for { b := make([]byte, 10<<20); for i := range b { b[i] = 1 };"
          " a = append(a, b) } }",
}


@pytest.mark.parametrize("lang", sorted(MEMORY_BOMBS))
def test_memory_bomb(sandbox: Sandbox, host_unchanged: None, lang: str) -> None:
    r, _ = _run(sandbox, Job(lang, MEMORY_BOMBS[lang], limits=Limits(timeout=8, memory_mb=256)))
    assert r.verdict is Verdict.MEMORY_EXCEEDED, r.to_dict()


@pytest.mark.parametrize(("lang", "code"), [("python", "while True:\n    pass\n"),
                                            ("c", "int main(void) { for (;;); }"),
                                            ("python", "import time\ntime.sleep(100)\n")])
def test_infinite_loop_and_sleep(sandbox: Sandbox, host_unchanged: None, lang: str, code: str) -> None:
    r, elapsed = _run(sandbox, Job(lang, code, limits=Limits(timeout=1.5)))
    assert r.verdict is Verdict.TIMEOUT and elapsed >= 1.0, r.to_dict()


def test_detached_child_is_killed(sandbox: Sandbox, host_unchanged: None) -> None:
    code = ("import subprocess\nsubprocess.Popen(['setsid', 'sleep', '1000'], start_new_session=True)\n"
            "subprocess.Popen(['sh', '-c', 'sleep 999 &'])\nprint('detached')\n")
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=5)))
    assert r.verdict is Verdict.PASSED and "detached" in r.stdout
    code_hang = code + "import time\ntime.sleep(100)\n"
    r, _ = _run(sandbox, Job("python", code_hang, limits=Limits(timeout=1)))
    assert r.verdict is Verdict.TIMEOUT


def test_huge_output(sandbox: Sandbox, host_unchanged: None) -> None:
    r, _ = _run(sandbox, Job("python", "while True:\n    print('y' * 10000)\n",
                             limits=Limits(timeout=10, output_bytes=100_000)))
    assert r.verdict is Verdict.OUTPUT_LIMIT and len(r.stdout) <= 5000, r.message


def test_no_network_to_host_loopback(sandbox: Sandbox, host_unchanged: None) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    t = threading.Thread(target=accept)
    t.start()
    code = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "s.sendall(b'leak')\nprint('connected')\n")
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=5)))
    t.join()
    server.close()
    assert r.verdict is Verdict.RUNTIME_ERROR and "connected" not in r.stdout, r.to_dict()
    assert accepted == []
    r, _ = _run(sandbox, Job("python", "import socket\nprint(socket.getaddrinfo('pypi.org', 443))"))
    assert r.verdict is Verdict.RUNTIME_ERROR


def test_secrets_invisible(sandbox: Sandbox, host_unchanged: None, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("XINSTRUCT_CANARY", secret)
    canary = Path.home() / f".xinstruct-canary-{secret[:8]}"
    canary.write_text(secret)
    try:
        code = (f"import os, glob\nprint(dict(os.environ))\nprint(glob.glob('/root/*') + glob.glob('/home/*'))\n"
                f"print(os.listdir('/'))\nprint(open({str(canary)!r}).read())\n")
        r, _ = _run(sandbox, Job("python", code))
        assert r.verdict is Verdict.RUNTIME_ERROR and "FileNotFoundError" in r.stderr
        assert secret not in r.stdout + r.stderr
        assert "XINSTRUCT_CANARY" not in r.stdout and "/work" not in r.stdout
        r, _ = _run(sandbox, Job("bash", f"cat /proc/1/environ; env; cat {canary}; ls /work /root /home"))
        assert secret not in r.stdout + r.stderr
        assert canary.read_text() == secret
    finally:
        canary.unlink()


def test_writes_stay_inside(sandbox: Sandbox, host_unchanged: None, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    code = (f"import os\nfor p in [{str(target)!r}, '/usr/escaped', '/etc/escaped', '../escaped', '/tmp/escaped']:\n"
            "    try:\n        open(p, 'w').write('x')\n        print('wrote', p)\n"
            "    except OSError as e:\n        print('denied', p, e.errno)\n")
    r, _ = _run(sandbox, Job("python", code))
    assert r.verdict is Verdict.PASSED
    assert "denied /usr/escaped" in r.stdout and "denied /etc/escaped" in r.stdout
    assert not target.exists() and not Path("/usr/escaped").exists() and not Path("/etc/escaped").exists()
    assert not Path("/tmp/escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_symlink_tricks(sandbox: Sandbox, host_unchanged: None) -> None:
    code = ("import os\nfor i, t in enumerate(['/etc/shadow', '/root/.bashrc', '/proc/1/root/etc/shadow', '/work']):\n"
            "    os.symlink(t, f'l{i}')\n    try:\n        print('READ', t, len(open(f'l{i}').read()))\n"
            "    except OSError as e:\n        print('denied', t, e.errno)\n")
    r, _ = _run(sandbox, Job("python", code))
    assert r.verdict is Verdict.PASSED and "READ" not in r.stdout, r.stdout


def test_signalling_and_proc(sandbox: Sandbox, host_unchanged: None) -> None:
    me = os.getpid()
    code = (f"import os, signal\nprint('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
            f"for pid in ({me}, os.getppid(), 1, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
            "        print('killed', pid)\n    except OSError as e:\n        print('denied', pid, e.errno)\n"
            f"print(open('/proc/{me}/environ').read())\n")
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=3)))
    pids = eval(r.stdout.split("pids ", 1)[1].split("\n", 1)[0]) if "pids " in r.stdout else []
    assert pids and max(pids) < 10, r.stdout
    assert os.getpid() == me  # still alive
    assert r.verdict in (Verdict.RUNTIME_ERROR, Verdict.PASSED)
    assert "XINSTRUCT" not in r.stdout


def test_batch_of_bombs_stays_contained(sandbox: Sandbox, host_unchanged: None) -> None:
    jobs = [Job("python", FORK_BOMBS["python"], limits=Limits(timeout=2, processes=32)),
            Job("python", MEMORY_BOMBS["python"], limits=Limits(timeout=5, memory_mb=200)),
            Job("python", "print('fine')")]
    start = time.monotonic()
    results = dict(sandbox.run_many(jobs, concurrency=3))
    assert time.monotonic() - start < 5 + GRACE
    assert results[0].verdict is Verdict.TIMEOUT
    assert results[1].verdict is Verdict.MEMORY_EXCEEDED
    assert results[2].verdict is Verdict.PASSED


# ----------------------------------------------------------------------------- more attacks
def _host_state() -> tuple[str, frozenset[str], str]:
    """What a sandboxed program must never change: this process's mount table, the names in the
    host's /tmp, and the host name."""
    with open("/proc/self/mountinfo") as f:
        mounts = f.read()
    return mounts, frozenset(os.listdir("/tmp")), socket.gethostname()


@pytest.fixture
def host_state_unchanged(host_unchanged: None) -> Iterator[None]:
    """Mounts, host name and the files in the host's /tmp are the same after the job (entries of
    other suites that appear meanwhile are allowed only when they are not the attack's names)."""
    mounts, tmp, hostname = _host_state()
    yield
    after_mounts, after_tmp, after_hostname = _host_state()
    assert after_mounts == mounts and after_hostname == hostname
    new = after_tmp - tmp
    assert not any("\n" in n or n.startswith("pwned") for n in new), sorted(new)


ATTACKS = {
    "ptrace": ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
               f"for pid in ({os.getpid()}, {os.getppid()}):  # host processes by their host pids\n"
               "    r = libc.ptrace(16, pid, None, None)\n"
               "    print('attached' if r == 0 else f'denied {pid} {ctypes.get_errno()}')\n"),
    "proc_sys_and_cgroup_writes": (
        "import glob\nfor p in ['/proc/sys/kernel/hostname', '/proc/sys/vm/drop_caches', '/proc/sysrq-trigger',"
        " *glob.glob('/sys/fs/cgroup/**/cgroup.procs', recursive=True)[:3], '/sys/fs/cgroup/pwned']:\n"
        "    try:\n        open(p, 'w').write('pwned')\n        print('wrote', p)\n"
        "    except OSError as e:\n        print('denied', p, e.errno)\n"),
    "devices": ("for p in ['/dev/mem', '/dev/kmsg', '/dev/sda', '/dev/port']:\n    try:\n"
                "        open(p, 'rb').read(1)\n        print('read', p)\n"
                "    except OSError as e:\n        print('denied', p, e.errno)\n"),
    "unshare_and_setns": (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "for fl in (0x10000000, 0x00020000, 0x40000000, 0x20000000):  # user, mount, net, pid\n"
        "    print('unshare', hex(fl), libc.unshare(fl), ctypes.get_errno())\n"
        "for ns in ('/proc/1/ns/net', '/proc/1/ns/mnt', '/proc/self/ns/user'):\n    try:\n"
        "        fd = os.open(ns, os.O_RDONLY)\n        print('setns', ns, libc.setns(fd, 0), ctypes.get_errno())\n"
        "    except OSError as e:\n        print('denied', ns, e.errno)\n"
        "for p in ['/etc/pwned', '/usr/pwned', '/tmp/pwned-ns']:\n    try:\n        open(p, 'w').write('x')\n"
        "        print('wrote', p)\n    except OSError as e:\n        print('denied', p, e.errno)\n"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_privileged_interfaces_are_out_of_reach(sandbox: Sandbox, host_state_unchanged: None, attack: str) -> None:
    r, _ = _run(sandbox, Job("python", ATTACKS[attack], limits=Limits(timeout=5)))
    assert r.verdict is Verdict.PASSED, r.to_dict()
    out = r.stdout
    assert "attached" not in out and "wrote /proc" not in out and "wrote /sys" not in out, out
    assert "read /dev/mem" not in out and "read /dev/kmsg" not in out and "wrote /etc" not in out, out
    assert "wrote /usr" not in out and "setns /proc/1/ns/net 0 " not in out, out
    assert not Path("/etc/pwned").exists() and not Path("/usr/pwned").exists() and not Path("/tmp/pwned-ns").exists()


def test_output_without_newlines_hits_the_output_limit(sandbox: Sandbox, host_state_unchanged: None) -> None:
    code = "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n"
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=10, output_bytes=200_000)))
    assert r.verdict is Verdict.OUTPUT_LIMIT and len(r.stdout) <= 200_000, r.message


def test_closed_stdout_and_still_running_times_out(sandbox: Sandbox, host_state_unchanged: None) -> None:
    code = "import os, time\nprint('bye', flush=True)\nos.close(1)\nos.close(2)\ntime.sleep(100)\n"
    r, elapsed = _run(sandbox, Job("python", code, limits=Limits(timeout=1.5)))
    assert r.verdict is Verdict.TIMEOUT and elapsed >= 1.0 and "bye" in r.stdout, r.to_dict()


def test_thread_bomb_is_contained(sandbox: Sandbox, host_state_unchanged: None) -> None:
    code = ("import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n")
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=3, processes=32)))
    assert r.verdict in (Verdict.RUNTIME_ERROR, Verdict.TIMEOUT), r.to_dict()


def test_sigstop_of_its_own_group_times_out(sandbox: Sandbox, host_state_unchanged: None) -> None:
    code = "import os, signal\nprint('stopping', flush=True)\nos.killpg(0, signal.SIGSTOP)\nprint('resumed')\n"
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=1.5)))
    assert r.verdict is Verdict.TIMEOUT and "stopping" in r.stdout and "resumed" not in r.stdout, r.to_dict()


def test_long_command_line_and_huge_source(sandbox: Sandbox, host_state_unchanged: None) -> None:
    code = ("import subprocess\ntry:\n    subprocess.run(['true', 'x' * (4 << 20)])\n    print('ran')\n"
            "except OSError as e:\n    print('E2BIG', e.errno)\n"
            "subprocess.run(['true'] + ['y' * 1000] * 1500, check=True)\nprint('long argv ok')\n" + "#" * (3 << 20) + "\n")
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=10)))
    assert r.verdict is Verdict.PASSED and "E2BIG 7" in r.stdout and "long argv ok" in r.stdout, r.to_dict()


def test_file_names_with_newlines(sandbox: Sandbox, host_state_unchanged: None) -> None:
    code = ("import os\nfor d in ('.', '/tmp'):\n    p = os.path.join(d, 'pwned\\nname\\n')\n"
            "    open(p, 'w').write('x')\n    os.mkdir(p + 'dir\\n')\nprint(sorted(os.listdir('.')))\n")
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=5)))
    assert r.verdict is Verdict.PASSED and "pwned\\nname\\n" in r.stdout, r.to_dict()


def test_ptrace_of_its_own_parent_stalls_only_its_box(sandbox: Sandbox, host_state_unchanged: None) -> None:
    """Attaching to (and so stopping) its own launcher or the box's pid 1 is allowed by the kernel
    (same uid, same pid namespace); it freezes only that box, which then gets its timeout."""
    code = ("import ctypes, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print('attach', libc.ptrace(16, os.getppid(), None, None), libc.ptrace(16, 1, None, None), flush=True)\n"
            "time.sleep(100)\n")
    me = os.getpid()
    r, _ = _run(sandbox, Job("python", code, limits=Limits(timeout=1.5)))
    assert r.verdict is Verdict.TIMEOUT, r.to_dict()
    assert os.getpid() == me
