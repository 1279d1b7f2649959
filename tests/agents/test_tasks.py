"""Test blocks cut off by the token cap: parsed into shorter, complete tests that the real
toolchains compile and run (the 0.5B model's commonest C++/Java compile error was a cut-off test)."""

from __future__ import annotations

import pytest

from xinstruct.agents.profiles import get_profile
from xinstruct.agents.tasks import TestsTask, complete_tests
from xinstruct.agents.verify import verify
from xinstruct.sandbox import Limits, Sandbox, available_languages

CASES = {
    # language: (solution, reply after the tests prefix, cut off by max_tokens)
    "cpp": (
        "#include <bits/stdc++.h>\nusing namespace std;\n\nint count_even(vector<int> v) {\n    int c = 0;\n"
        "    for (int x : v) if (x % 2 == 0) c++;\n    return c;\n}",
        "    assert(count_even({1, 2, 3, 4, 5}) == 2);\n    assert(count_even({}) == 0);\n"
        "    assert(count_even({1, 3, 5, 7, 9,",
    ),
    "java": (
        "import java.util.*;\n\nclass Solution {\n    static boolean isPalindrome(String s) {\n"
        "        return new StringBuilder(s).reverse().toString().equals(s);\n    }\n}",
        "        assert Solution.isPalindrome(\"abba\");\n        if (Solution.isPalindrome(\"ab;c\")) {\n"
        "            throw new AssertionError();\n        }\n        // Test case 3: \"A man, a plan\n"
        "        assert Solution.isPalindrome(\"A man, a pl",
    ),
    "csharp": (
        "using System;\n\nclass Solution {\n    public static int Twice(int x) { return 2 * x; }\n}",
        "        Debug.Assert(Solution.Twice(2) == 4);\n        Debug.Assert(Solution.Twice(0) == 0);\n"
        "        Debug.Assert(Solution.Twi",
    ),
    "python": ("def f(x):\n    return x + 1", " f(1) == 2\nassert f(2) == 3\nassert f(3"),
    "typescript": (
        "function f(x: number): number { return x + 1; }",
        "f(1) === 2, \"one\");\nconsole.assert(f(2) === 3, \"two\");\nconsole.assert(f(3) === 4, \"thr",
    ),
    "bash": ("#!/bin/bash\nf() { echo $(( $1 + 1 )); }", "f 1)\" = \"2\" ] || exit 1\n[ \"$(f 2)\" = \"3\" ] || { exit 1; }\n[ \"$(f 3"),
    "php": (
        "<?php\nfunction f($x) { return $x + 1; }",
        "f(1) !== 2) { throw new Exception(\"one\"); }\nif (f(2) !== 3) { throw new Exception(\"t",
    ),
}


def test_complete_statements_are_kept_and_blocks_closed() -> None:
    java = complete_tests(get_profile("java").tests_prefix + CASES["java"][1], "java")
    assert java.endswith("throw new AssertionError();\n        }\n    }\n}")
    assert "A man, a pl" not in java
    cpp = complete_tests(get_profile("cpp").tests_prefix + CASES["cpp"][1], "cpp")
    assert cpp.endswith("assert(count_even({}) == 0);\n}")
    whole = "public class Main {\n    public static void main(String[] args) {\n        assert 1 == 1;\n    }\n}"
    assert complete_tests(whole, "java") == whole
    assert complete_tests("assert f(1) == 2\nassert f(", "python") == "assert f(1) == 2"


@pytest.mark.toolchain
@pytest.mark.parametrize("language", sorted(CASES))
def test_cut_off_tests_compile_and_pass_in_the_sandbox(language: str) -> None:
    if language not in available_languages():
        pytest.skip(f"{language} toolchain not installed")
    solution, reply = CASES[language]
    tests = TestsTask(get_profile(language)).format_output(reply)["tests"]
    assert tests is not None
    result = verify(Sandbox(prestart=0), language, solution, tests, Limits(timeout=30))
    assert result["verdict"] == "passed", (tests, result)
