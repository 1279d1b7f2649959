"""Judging: what a finished process's exit code, kill reason and output mean for a job.

Pure functions of a :class:`RawOutcome` and the language's markers, so the rules are testable
without bubblewrap or a toolchain.
"""

from __future__ import annotations

import signal

from xinstruct.sandbox.jobs import RawOutcome, Verdict
from xinstruct.sandbox.languages import COMMON_FAILURE_MARKERS, Language


def tail(data: bytes | str, n: int) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= n else "…" + text[-n:]


def is_sandbox_failure(raw: RawOutcome) -> bool:
    return raw.exit_code == 1 and raw.stderr.startswith(b"bwrap:")


def judge(lang: Language, raw: RawOutcome, has_tests: bool, cpu: float) -> tuple[Verdict, str]:
    err = raw.stderr.decode("utf-8", "replace")
    both = err + "\n" + raw.stdout.decode("utf-8", "replace")
    code = raw.exit_code
    if raw.killed == "output":
        return Verdict.OUTPUT_LIMIT, "output exceeded the cap; the process tree was killed"
    if raw.killed == "timeout":
        return Verdict.TIMEOUT, "wall-clock limit reached; the process tree was killed"
    if raw.killed == "memory":
        return Verdict.MEMORY_EXCEEDED, "resident memory of the process tree exceeded the limit"
    if is_sandbox_failure(raw):
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
