"""Output capture per language, with the real toolchains: the same behaviour gives the same text,
different behaviour different text, exceptions and nondeterminism show, and checks written from the
captured outputs pass on the program they came from and fail on a wrong one."""

from __future__ import annotations

import pytest

from xinstruct.sandbox import Job, Limits
from xinstruct.sandbox.capture import (
    capture_tests,
    checks_from_outputs,
    clean_call,
    parse_capture,
    run_capture,
)

pytestmark = pytest.mark.toolchain

# language -> (right solution, wrong solution, calls, expected canonical outputs of the right one)
PROGRAMS = {
    "python": (
        "def f(xs, k):\n    if k < 0:\n        raise ValueError('k')\n    return {'s': sorted(xs)[:k], 'm': sum(xs) / 2}\n",
        "def f(xs, k):\n    return {'s': xs[:k], 'm': sum(xs) / 2}\n",
        ["f([3, 1, 2], 2)", "f([5], 1)", "f([1], -1)"],
        ["{'m': 3, 's': [1, 2]}", "{'m': 2.5, 's': [5]}", "!ValueError"],
    ),
    "javascript": (
        "function f(xs, k) { if (k < 0) throw new RangeError('k'); return [...xs].sort((a, b) => a - b).slice(0, k); }\n",
        "function f(xs, k) { return xs.slice(0, k); }\n",
        ["f([3, 1, 2], 2)", "f([0.5, 0.25], 1)", "f([1], -1)"],
        ["[1, 2]", "[0.25]", "!RangeError"],
    ),
    "typescript": (
        "function f(xs: number[], k: number): number[] { if (k < 0) throw new RangeError('k');"
        " return [...xs].sort((a, b) => a - b).slice(0, k); }\n",
        "function f(xs: number[], k: number): number[] { return xs.slice(0, k); }\n",
        ["f([3, 1, 2], 2)", "f([0.5, 0.25], 1)", "f([1], -1)"],
        ["[1, 2]", "[0.25]", "!RangeError"],
    ),
    "php": (
        "<?php\nfunction f($xs, $k) { if ($k < 0) throw new InvalidArgumentException('k'); sort($xs);"
        " return array_slice($xs, 0, $k); }\n",
        "<?php\nfunction f($xs, $k) { return array_slice($xs, 0, $k); }\n",
        ["f([3, 1, 2], 2)", "f([0.5, 0.25], 1)", "f([1], -1)"],
        ["[1, 2]", "[0.25]", "!InvalidArgumentException"],
    ),
    "java": (
        "import java.util.*;\n\nclass Solution {\n    static List<Integer> f(List<Integer> xs, int k) {\n"
        "        if (k < 0) throw new IllegalArgumentException();\n        List<Integer> s = new ArrayList<>(xs);\n"
        "        Collections.sort(s);\n        return s.subList(0, k);\n    }\n}\n",
        "import java.util.*;\n\nclass Solution {\n    static List<Integer> f(List<Integer> xs, int k) {\n"
        "        return xs.subList(0, k);\n    }\n}\n",
        ["f(Arrays.asList(3, 1, 2), 2)", "f(Arrays.asList(5), 1)", "f(Arrays.asList(1), -1)"],
        ["[1, 2]", "[5]", "!IllegalArgumentException"],
    ),
    "csharp": (
        "using System;\nusing System.Collections.Generic;\nusing System.Linq;\n\nclass Solution {\n"
        "    public static List<int> F(List<int> xs, int k) {\n        if (k < 0) throw new ArgumentException();\n"
        "        return xs.OrderBy(x => x).Take(k).ToList();\n    }\n}\n",
        "using System;\nusing System.Collections.Generic;\nusing System.Linq;\n\nclass Solution {\n"
        "    public static List<int> F(List<int> xs, int k) { return xs.Take(k).ToList(); }\n}\n",
        ["F(new List<int> {3, 1, 2}, 2)", "F(new List<int> {5}, 1)", "F(new List<int> {1}, -1)"],
        ["[1, 2]", "[5]", "!ArgumentException"],
    ),
    "cpp": (
        "#include <bits/stdc++.h>\nusing namespace std;\n\nvector<int> f(vector<int> xs, int k) {\n"
        "    if (k < 0) throw invalid_argument(\"k\");\n    sort(xs.begin(), xs.end());\n"
        "    return vector<int>(xs.begin(), xs.begin() + k);\n}\n",
        "#include <bits/stdc++.h>\nusing namespace std;\n\nvector<int> f(vector<int> xs, int k) {\n"
        "    return vector<int>(xs.begin(), xs.begin() + max(k, 0));\n}\n",
        ["f({3, 1, 2}, 2)", "f({5}, 1)", "f({1}, -1)"],
        ["[1, 2]", "[5]", "!exception"],
    ),
    "bash": (
        "#!/bin/bash\nf() {\n    if [ \"$2\" -lt 0 ]; then return 2; fi\n"
        "    printf '%s\\n' $1 | sort -n | head -n \"$2\" | paste -sd' '\n}\n",
        "#!/bin/bash\nf() {\n    printf '%s\\n' $1 | head -n \"$2\" | paste -sd' '\n}\n",
        ['f "3 1 2" 2', 'f "5" 1', 'f "1" -1'],
        ["1 2 rc=0", "5 rc=0", " rc=2"],
    ),
}


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_capture_gives_canonical_outputs_and_checks_that_can_fail(sandbox, language):
    right, wrong, calls, expected = PROGRAMS[language]
    limits = Limits(timeout=30)
    got = run_capture(sandbox, language, [right, wrong], calls, limits)
    assert got[0].outputs == expected, got[0]
    assert got[0].unstable == []
    assert got[1].outputs[0] != expected[0]  # the wrong program does not sort
    tests = checks_from_outputs(language, calls[:2], expected[:2])
    assert sandbox.run(Job(language, right, tests=tests, limits=limits)).verdict == "passed"
    assert sandbox.run(Job(language, wrong, tests=tests, limits=limits)).verdict == "failed"


def test_nondeterministic_calls_are_flagged(sandbox):
    program = "import random, time\n\ndef f(x):\n    return x + random.random() if x else x\n"
    (cap,) = run_capture(sandbox, "python", [program], ["f(1)", "f(0)"], Limits(timeout=10))
    assert cap.unstable == [0]
    assert cap.outputs[1] == "0"


def test_a_program_that_does_not_compile_has_no_outputs(sandbox):
    (cap,) = run_capture(sandbox, "java", ["class Solution { static int f(int x) { return x } }"], ["f(1)"],
                         Limits(timeout=30))
    assert cap.outputs == [None]
    assert cap.verdict == "compile_error"


def test_a_crash_keeps_the_outputs_printed_before_it(sandbox):
    program = "import os\n\ndef f(x):\n    if x == 2:\n        os._exit(3)\n    return x\n"
    (cap,) = run_capture(sandbox, "python", [program], ["f(1)", "f(2)", "f(3)"], Limits(timeout=10))
    assert cap.outputs == ["1", None, None]
    assert cap.verdict != "passed"


def test_calls_that_could_break_the_harness_are_refused():
    assert clean_call("f(1, [2, 3]);", "java", "f") == "f(1, [2, 3])"
    assert clean_call("assert f(1) == 2", "python", "f") is None
    assert clean_call("f(1) == 2", "python", "f") == "f(1)"  # the expected value is not ours to trust
    assert clean_call("f(1, 5, 3) should return 2", "javascript", "f") == "f(1, 5, 3)"
    assert clean_call("f(1)); System.exit(0", "java", "f") == "f(1)"  # what follows the call never runs
    assert clean_call("f(1, (2, 3]", "python", "f") is None
    assert clean_call("f(1, [2,", "java", "f") is None  # cut off
    assert clean_call("g(1)", "python", "f") is None
    assert clean_call('f "a b" 2', "bash", "f") == 'f "a b" 2'
    assert clean_call("f 1; rm -rf /", "bash", "f") is None
    assert clean_call("f $(cat /etc/passwd)", "bash", "f") is None
    assert clean_call("Solution.f(2)", "csharp", "f") == "Solution.f(2)"
    # the models annotate their calls; comments go, strings that look like comments stay
    assert clean_call("f(10, 20); // Expected output: 10", "java", "f") == "f(10, 20)"
    assert clean_call('f("a//b", 1) /* 2 */', "typescript", "f") == 'f("a//b", 1)'
    assert clean_call("f([1, 2])  # -> 3", "python", "f") == "f([1, 2])"
    assert clean_call("f('#x') # 1", "python", "f") == "f('#x')"
    assert clean_call('f "a#b" 2 # echo 3', "bash", "f") == 'f "a#b" 2'
    assert clean_call("f($x#y) // 4", "php", "f") is None  # '#' starts a PHP comment: the call is cut
    assert clean_call('f(")") == 1', "python", "f") == 'f(")")'


def test_parse_capture_ignores_the_programs_own_output():
    out = "hello\n@@XR1@@ [1, 2]\nnoise @@XR0@@ no\n@@XR0@@ 'a'\n@@XR0@@ 'again'\n"
    assert parse_capture(out, 3) == ["'a'", "[1, 2]", None]
    assert "@@XR" in capture_tests("python", ["f(1)"])


def test_calls_that_do_not_compile_are_dropped_one_by_one(sandbox):
    from xinstruct.sandbox.capture import compiling_calls

    program = "class Solution {\n    static int add(int a, int b) { return a + b; }\n}\n"
    calls = ["add(1, 2)", "add(1, 2, 3)", "add(\"x\", 2)", "add(5, 6)"]
    assert compiling_calls(sandbox, "java", program, calls, Limits(timeout=60)) == ["add(1, 2)", "add(5, 6)"]
    assert compiling_calls(sandbox, "java", program, ["add(1, 2)"], Limits(timeout=60)) == ["add(1, 2)"]
