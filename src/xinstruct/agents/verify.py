"""Execution check: every solution runs against its own tests in the sandbox, never on the host."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

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


def run_tests(
    sandbox: Sandbox, language: str, pairs: Sequence[tuple[str, str]], limits: Limits
) -> list[dict[str, Any]]:
    """Verdicts of (solution, tests) pairs, in order: verdict plus a short message for reflection."""
    jobs = [Job(language=language, code=code, tests=tests, limits=limits) for code, tests in pairs]
    out: list[dict[str, Any]] = [{} for _ in jobs]
    for i, result in sandbox.run_many(jobs, concurrency=2):
        detail = "; ".join(x for x in (result.message, error_line(result.stderr)) if x)
        tail = "\n".join((result.stderr.strip() or result.stdout.strip()).splitlines()[-12:])[-1200:]
        out[i] = {"verdict": result.verdict.value, "message": detail[:300], "output": tail,
                  "seconds": result.total_seconds}
    return out


def verify(sandbox: Sandbox, language: str, solution: str, tests: str, limits: Limits) -> dict[str, Any]:
    return run_tests(sandbox, language, [(solution, tests)], limits)[0]
