"""Execution check: every solution runs against its own tests in the sandbox, never on the host."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xinstruct.agents.profiles import get_profile
from xinstruct.sandbox import Job, Limits, Sandbox

# Lines that name the failure, in the toolchains' own formats: compiler diagnostics
# (gcc/javac `file:line: error:`, mcs `file(l,c): error CS…`, rustc `error[E…]:`, go `file:l:c: …`),
# exceptions (Python, Node, Java, C#, PHP) and bash's `line N:` messages. The last stderr line is
# often useless for reflection ("Node.js v20", "1 error", a `~~~^` caret line).
_ERROR_LINE = re.compile(
    r"^(?:\S+:\d+(?::\d+)?:\s*(?:fatal )?error\b"
    r"|\S+\(\d+,\d+\):\s*error\b"
    r"|error(?:\[E\d+\])?:"
    r"|\./\S+\.go:\d+:\d+:"
    r"|\s*[\w.$]*(?:Error|Exception)\b"
    r"|Exception in thread"
    r"|Unhandled exception"
    r"|(?:PHP )?(?:Fatal|Parse) error"
    r"|\S+: line \d+:)"
)


def error_line(stderr: str) -> str:
    """The first line of ``stderr`` that names an error (a compiler's first error is the cause),
    else its last non-blank line."""
    lines = [x.rstrip() for x in stderr.splitlines() if x.strip()]
    for line in lines:
        if _ERROR_LINE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else ""


# Tests that report instead of failing ("echo Fail") exit 0 whatever the solution does.
_PRINTED_FAILURE = re.compile(r"(?i)\bfail(?:ed|ure|s)?\b")
_NO_FAILURE = re.compile(r"(?i)\b(?:0|no|zero)\s+(?:tests?\s+)?fail")
NO_CHECKS_MESSAGE = ("the tests contain no check that can fail: each wrong result must throw, assert or "
                     "exit non-zero, not print")


def printed_failure(stdout: str) -> str | None:
    """The first output line that reports a failed check, if any."""
    for line in stdout.splitlines():
        if _PRINTED_FAILURE.search(line) and not _NO_FAILURE.search(line):
            return line.strip()
    return None


def run_tests(
    sandbox: Sandbox, language: str, pairs: Sequence[tuple[str, str]], limits: Limits
) -> list[dict[str, Any]]:
    """Verdicts of (solution, tests) pairs, in order: verdict plus a short message for reflection.
    Tests with no check that can fail are not run (``no_checks``); a run that exits 0 but prints a
    failure counts as ``failed``: a kept sample must be one its tests could have rejected."""
    checks = re.compile(get_profile(language).check_pattern)
    no_checks = {"verdict": "no_checks", "message": NO_CHECKS_MESSAGE, "output": NO_CHECKS_MESSAGE, "seconds": 0.0}
    out: list[dict[str, Any]] = [dict(no_checks) for _ in pairs]
    runnable = [i for i, (_, tests) in enumerate(pairs) if checks.search(tests)]
    jobs = [Job(language=language, code=pairs[i][0], tests=pairs[i][1], limits=limits) for i in runnable]
    for j, result in sandbox.run_many(jobs, concurrency=2):
        verdict = result.verdict.value
        detail = "; ".join(x for x in (result.message, error_line(result.stderr)) if x)
        tail = "\n".join((result.stderr.strip() or result.stdout.strip()).splitlines()[-12:])[-1200:]
        printed = printed_failure(result.stdout) if verdict == "passed" else None
        if printed is not None:
            verdict, detail, tail = "failed", f"exit 0 but the tests printed: {printed}", result.stdout.strip()[-1200:]
        out[runnable[j]] = {"verdict": verdict, "message": detail[:300], "output": tail,
                            "seconds": result.total_seconds}
    return out


def verify(sandbox: Sandbox, language: str, solution: str, tests: str, limits: Limits) -> dict[str, Any]:
    return run_tests(sandbox, language, [(solution, tests)], limits)[0]
