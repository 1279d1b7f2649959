"""The verdict message that reflection and the rejected file carry names the error itself."""

from __future__ import annotations

import pytest

from xinstruct.agents.profiles import get_profile
from xinstruct.agents.tasks import TestsTask
from xinstruct.agents.verify import error_line, printed_failure, verify
from xinstruct.sandbox import Limits, Sandbox, available_languages


def test_error_line_skips_trailers_and_takes_the_first_diagnostic() -> None:
    node = "/box/main.js:3\n    chunks.push(item.slice(0, 2));\n                     ^\n\n" \
           "TypeError: item.slice is not a function\n    at main.js:3:22\n\nNode.js v20.20.2\n"
    assert error_line(node) == "TypeError: item.slice is not a function"
    javac = "Main.java:4: error: cannot find symbol\n        foo(1);\n        ^\n  symbol: method foo(int)\n1 error\n"
    assert error_line(javac) == "Main.java:4: error: cannot find symbol"
    gcc = "main.cpp: In function 'int main()':\nmain.cpp:9:12: error: 'frob' was not declared in this scope\n" \
          "    9 |     assert(frob(2) == 1);\n      |            ^~~~\n"
    assert error_line(gcc) == "main.cpp:9:12: error: 'frob' was not declared in this scope"
    assert error_line("main.sh: line 4: f: command not found\n") == "main.sh: line 4: f: command not found"
    assert error_line("just some output\nlast words\n") == "last words"
    assert error_line("") == ""


CASES = {
    # language: (solution, the tests reply after the profile's prefix, what the message must name)
    "typescript": ("function chunk(xs: any[]): any[] { return xs.map((x) => x.slice(0, 1)); }",
                   "chunk([1, 2]).length === 2, \"len\");", "TypeError: x.slice is not a function"),
    "java": ("class Solution {\n    static int twice(int x) { return 2 * x; }\n}",
             "        if (thrice(3) != 9) throw new AssertionError();\n    }\n}", "error: cannot find symbol"),
    "cpp": ("#include <bits/stdc++.h>\nint twice(int x) { return 2 * x; }", "    assert(thrice(3) == 9);\n}",
            "was not declared in this scope"),
    "python": ("def f(x):\n    return x", " f(1) == 2", "AssertionError"),
}


@pytest.mark.toolchain
@pytest.mark.parametrize("language", sorted(CASES))
def test_real_toolchain_failures_carry_their_error_line(language: str) -> None:
    if language not in available_languages():
        pytest.skip(f"{language} toolchain not installed")
    solution, reply, needle = CASES[language]
    tests = TestsTask(get_profile(language)).format_output(reply)["tests"]
    result = verify(Sandbox(prestart=0), language, solution, tests, Limits(timeout=30))
    assert result["verdict"] != "passed"
    assert needle in result["message"], result


# What the 0.5B model wrote for PHP in the agents benchmark: it "passes" whatever the solution does.
ECHO_TESTS = 'if (isLeapYear(1900) === false) {\n    echo "Pass";\n} else {\n    echo "Fail";\n}\n'
WRONG_LEAP = "<?php\nfunction isLeapYear($y) { return true; }"


def test_printed_failure_reads_reports_not_summaries() -> None:
    assert printed_failure("Pass\nTest 2 failed\n") == "Test 2 failed"
    assert printed_failure("FAIL\n") == "FAIL"
    assert printed_failure("All 4 tests passed, 0 failed\nok\n") is None
    assert printed_failure("") is None


@pytest.mark.toolchain
def test_tests_that_cannot_fail_are_not_counted_as_passing() -> None:
    if "php" not in available_languages():
        pytest.skip("php toolchain not installed")
    sandbox, limits = Sandbox(prestart=0), Limits(timeout=30)
    vacuous = verify(sandbox, "php", WRONG_LEAP, ECHO_TESTS, limits)
    assert vacuous["verdict"] == "no_checks" and "no check that can fail" in vacuous["message"]
    # a real check elsewhere, but the failing one only prints: the run exits 0 and is still a failure
    mixed = ECHO_TESTS + 'if (isLeapYear(2000) !== true) { throw new Exception("2000"); }\n'
    printed = verify(sandbox, "php", WRONG_LEAP, mixed, limits)
    assert printed["verdict"] == "failed" and "printed: Fail" in printed["message"], printed
    right = "<?php\nfunction isLeapYear($y) { return ($y % 4 == 0 && $y % 100 != 0) || $y % 400 == 0; }"
    assert verify(sandbox, "php", right, mixed, limits)["verdict"] == "passed"


@pytest.mark.toolchain
def test_javascript_tests_that_only_log_or_import_assert_cannot_pass() -> None:
    """Seen on the yardstick: JavaScript ran on the generic profile, whose pattern matched
    `require('assert')`, so tests made of console.log lines, or of asserts in a function nobody
    called, kept wrong solutions."""
    if "javascript" not in available_languages():
        pytest.skip("node not installed")
    sandbox, limits = Sandbox(prestart=0), Limits(timeout=30)
    wrong = "function noOfCubes(n, k) { return n * k; }"
    logged = "const assert = require('assert');\nconsole.log(noOfCubes(2, 1)); // Expected output: 8\n"
    assert verify(sandbox, "javascript", wrong, logged, limits)["verdict"] == "no_checks"
    checked = "console.assert(noOfCubes(2, 1) === 8, 'cubes');\n"
    assert verify(sandbox, "javascript", wrong, checked, limits)["verdict"] == "failed"
    right = "function noOfCubes(n, k) { return Math.pow(n - k + 1, 3); }"
    assert verify(sandbox, "javascript", right, checked, limits)["verdict"] == "passed"
