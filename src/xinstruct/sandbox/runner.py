"""The sandbox service: runs jobs (assemble, compile with a cache, run) and returns results.

When the host user is root, bwrap is started as a random unprivileged uid per job: RLIMIT_NPROC is
ignored for root and is counted per host uid across user namespaces, so a fresh uid gives every
job its own process budget (inside the sandbox the program always sees uid 65534). The layers
below: ``jobs`` (types), ``host`` (toolchains, /etc view, uids), ``process`` (bwrap and limits),
``verdicts`` (judging a raw outcome).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from xinstruct.sandbox.cache import CompileCache, cache_key
from xinstruct.sandbox.host import (
    SANDBOX_PATH,
    etc_view,
    harness_id,
    host_uid,
    lang_env,
    toolchain_id,
    toolchain_version,
    which,
)
from xinstruct.sandbox.jobs import Job, Limits, Result, Verdict
from xinstruct.sandbox.languages import LANGUAGES, Files, Language, get_language
from xinstruct.sandbox.pool import Prestarted, SandboxPool
from xinstruct.sandbox.process import prestart, run_process
from xinstruct.sandbox.verdicts import is_sandbox_failure, judge, tail

_COMPILE_FSIZE_MB = 512  # linkers write big binaries (rustc --test with debug info: >16 MB)


class Sandbox:
    """Runs jobs in bubblewrap sandboxes; thread-safe, so one instance serves a whole batch."""

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        use_cache: bool = True,
        tail_chars: int = 4000,
        workdir_root: Path | str | None = None,
        prestart: int | None = None,
        languages: Iterable[Language] = (),
    ) -> None:
        """``prestart``: sandboxes kept started ahead of jobs (default: one per core; 0 starts each on demand).
        ``languages``: entries used instead of the table's of the same name (a benchmark compares two
        toolchains of one language side by side)."""
        self._languages = {lang.name: lang for lang in languages}
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
        lang = self._languages.get(lang.name, lang) if lang else None
        if lang is None:
            known = ", ".join(sorted(x.name for x in LANGUAGES))
            return Result(Verdict.UNAVAILABLE, job.language, message=f"unknown language; known: {known}")
        if which(lang.binary) is None or which("bwrap") is None or which("prlimit") is None:
            missing = lang.binary if which(lang.binary) is None else "bwrap/prlimit"
            pkgs = " ".join(lang.packages) if missing == lang.binary else "bubblewrap util-linux"
            hint = lang.install if missing == lang.binary and lang.install else f"install Debian package(s): {pkgs}"
            return Result(Verdict.UNAVAILABLE, lang.name, message=f"{missing} not found; {hint}")
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
        uid = pre.uid if pre else host_uid()
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
            run_process,
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
        verdict, message = judge(lang, raw, job.tests is not None, cpu)
        return Result(
            verdict,
            lang.name,
            raw.exit_code,
            tail(raw.stdout, self.tail_chars),
            tail(raw.stderr, self.tail_chars),
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
        return {**self._env_fixed(), **lang_env(lang, mem_mb)}

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
        budget = f"{lim.compile_timeout}:{lim.compile_memory_mb}:{_COMPILE_FSIZE_MB}:{harness_id()}"
        key = cache_key(lang.name, f"{toolchain_id(lang)}|{budget}", command, files)
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
            run_process,
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
        if is_sandbox_failure(raw):
            return Result(
                Verdict.SANDBOX_ERROR,
                lang.name,
                raw.exit_code,
                "",
                tail(raw.stderr, self.tail_chars),
                "sandbox failed during compilation",
                compile_seconds=round(seconds, 4),
            )
        if raw.killed or raw.exit_code != 0:
            message = {
                "timeout": "compilation timed out",
                "memory": "compiler exceeded its memory budget",
                "output": "compiler output exceeded the cap",
            }.get(raw.killed, "compilation failed")
            stderr = tail(raw.stderr or raw.stdout, self.tail_chars)
            if self.cache is not None and not raw.killed:
                self.cache.put(key, False, stderr, seconds, workdir, ())
            return Result(
                Verdict.COMPILE_ERROR,
                lang.name,
                raw.exit_code,
                tail(raw.stdout, self.tail_chars),
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
