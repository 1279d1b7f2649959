"""Execution check: every solution runs against its own tests in the sandbox, never on the host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xinstruct.sandbox import Job, Limits, Sandbox


def run_tests(
    sandbox: Sandbox, language: str, pairs: Sequence[tuple[str, str]], limits: Limits
) -> list[dict[str, Any]]:
    """Verdicts of (solution, tests) pairs, in order: verdict plus a short message for reflection."""
    jobs = [Job(language=language, code=code, tests=tests, limits=limits) for code, tests in pairs]
    out: list[dict[str, Any]] = [{} for _ in jobs]
    for i, result in sandbox.run_many(jobs, concurrency=2):
        last = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
        detail = "; ".join(x for x in (result.message, *last) if x)
        tail = "\n".join((result.stderr.strip() or result.stdout.strip()).splitlines()[-12:])[-1200:]
        out[i] = {"verdict": result.verdict.value, "message": detail[:300], "output": tail,
                  "seconds": result.total_seconds}
    return out


def verify(sandbox: Sandbox, language: str, solution: str, tests: str, limits: Limits) -> dict[str, Any]:
    return run_tests(sandbox, language, [(solution, tests)], limits)[0]
