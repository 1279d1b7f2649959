"""The verdict rules on raw outcomes, with no sandbox: exit codes, kill reasons and stderr markers."""

from __future__ import annotations

import signal

import pytest

from xinstruct.sandbox import Verdict, get_language
from xinstruct.sandbox.jobs import RawOutcome
from xinstruct.sandbox.verdicts import judge, tail


def _raw(exit_code: int | None, stderr: str = "", stdout: str = "", **kw: object) -> RawOutcome:
    return RawOutcome(exit_code, stdout.encode(), stderr.encode(), 0.1, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "raw", "has_tests", "verdict"),
    [
        ("python", _raw(0), True, Verdict.PASSED),
        ("python", _raw(1, "Traceback (most recent call last):\n  ...\nAssertionError"), True, Verdict.FAILED),
        ("python", _raw(1, "Traceback (most recent call last):\nZeroDivisionError"), False, Verdict.RUNTIME_ERROR),
        ("python", _raw(1, '  File "main.py", line 1\n    def f(\nSyntaxError: invalid syntax'), True,
         Verdict.COMPILE_ERROR),
        ("python", _raw(1, "Traceback (most recent call last):\nMemoryError"), True, Verdict.MEMORY_EXCEEDED),
        # a syntax error raised by code the program runs (eval) is the program's failure, not a compile error
        ("python", _raw(1, "Traceback (most recent call last):\nSyntaxError: bad input"), False, Verdict.RUNTIME_ERROR),
        ("cpp", _raw(-signal.SIGABRT, "main: main.cpp:3: int main(): Assertion `add(1, 2) == 4' failed."), True,
         Verdict.FAILED),
        ("cpp", _raw(139), False, Verdict.RUNTIME_ERROR),
        ("go", _raw(1, stdout="--- FAIL: TestAdd (0.00s)"), True, Verdict.FAILED),
        ("python", _raw(None, killed="timeout"), True, Verdict.TIMEOUT),
        ("python", _raw(None, killed="memory"), True, Verdict.MEMORY_EXCEEDED),
        ("python", _raw(None, "x" * 100, killed="output"), True, Verdict.OUTPUT_LIMIT),
        ("python", _raw(128 + signal.SIGXCPU), True, Verdict.TIMEOUT),
        # SIGKILL counts as the CPU limit only when the CPU budget was (nearly) spent
        ("python", _raw(-signal.SIGKILL, cpu_seconds=1.95), True, Verdict.TIMEOUT),
        ("python", _raw(-signal.SIGKILL, cpu_seconds=0.1), False, Verdict.RUNTIME_ERROR),
        ("python", _raw(1, "bwrap: Creating new namespace failed: Operation not permitted"), True,
         Verdict.SANDBOX_ERROR),
    ],
)
def test_raw_outcomes_are_judged(language: str, raw: RawOutcome, has_tests: bool, verdict: Verdict) -> None:
    lang = get_language(language)
    assert lang is not None
    got, message = judge(lang, raw, has_tests, cpu=2.0)
    assert got is verdict, message
    assert (message == "") == (verdict is Verdict.PASSED)


def test_kill_reason_wins_over_the_exit_code() -> None:
    """A process killed for its output may still exit 0: the cap, not the exit code, decides."""
    lang = get_language("python")
    assert lang is not None
    assert judge(lang, _raw(0, killed="output"), True, cpu=2.0)[0] is Verdict.OUTPUT_LIMIT


def test_tail_keeps_the_end() -> None:
    assert tail(b"abcdef", 3) == "…def"
    assert tail("abc", 3) == "abc"
