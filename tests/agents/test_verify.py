"""The verdict message that reflection and the rejected file carry names the error itself."""

from __future__ import annotations

import pytest

from xinstruct.agents.profiles import get_profile
from xinstruct.agents.tasks import TestsTask
from xinstruct.agents.verify import error_line, verify
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
