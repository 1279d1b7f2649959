"""Test blocks cut off by the token cap: parsed into shorter, complete tests that the real
toolchains compile and run (the 0.5B model's commonest C++/Java compile error was a cut-off test)."""

from __future__ import annotations

import re

import pytest

from xinstruct.agents.profiles import get_profile
from xinstruct.agents.tasks import (
    CodeTask,
    InstructionTask,
    TestsTask,
    complete_tests,
    parse_instruction,
    profile_vars,
)
from xinstruct.agents.verify import verify
from xinstruct.core.code_analysis import defined_names
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


@pytest.mark.toolchain
@pytest.mark.parametrize("language", ["csharp", "java", "cpp"])
def test_solution_with_its_own_main_and_unqualified_test_calls_run(language: str) -> None:
    """Two habits of the 0.5B model that used to be compile errors: a ``Main`` of the solution's own
    (C#: "more than one entry point") and tests calling the methods without ``Solution.``."""
    if language not in available_languages():
        pytest.skip(f"{language} toolchain not installed")
    reply = {
        "csharp": "    public static int Twice(int x) { return 2 * x; }\n\n"
                  "    public static void Main(string[] args) {\n        Console.WriteLine(Twice(3));\n    }\n}",
        "java": "    static int twice(int x) { return 2 * x; }\n\n"
                "    public static void main(String[] args) {\n        System.out.println(twice(3));\n    }\n}",
        "cpp": "int twice(int x) { return 2 * x; }\n\nint main() {\n    cout << twice(3) << endl;\n    return 0;\n}",
    }[language]
    calls = {"csharp": "        Debug.Assert(Twice(3) == 6);\n    }\n}",
             "java": "        if (twice(3) != 6) throw new AssertionError();\n    }\n}",
             "cpp": "    assert(twice(3) == 6);\n}"}[language]
    profile = get_profile(language)
    solution = CodeTask("solution", profile).format_output(reply)["solution"]
    assert solution is not None and not re.search(r"\b[Mm]ain\s*\(", solution), solution
    tests = TestsTask(profile).format_output(calls)["tests"]
    result = verify(Sandbox(prestart=0), language, solution, tests, Limits(timeout=30))
    assert result["verdict"] == "passed", (solution, tests, result)
    wrong = verify(Sandbox(prestart=0), language, solution, tests.replace("6", "7"), Limits(timeout=30))
    assert wrong["verdict"] == "failed", wrong


def test_a_solution_cut_off_by_the_token_cap_is_not_tested() -> None:
    out = CodeTask("solution", get_profile("php")).format_output("function f($x) {\n    $t = 0;\n", finish_reason="length")
    assert out["solution"] is None and out["error"] == "solution_truncated"


@pytest.mark.parametrize(("language", "solution", "names"), [
    ("php", "<?php\nfunction isLeapYear(int $y): bool { return $y % 4 == 0; }", ["isLeapYear"]),
    ("bash", "#!/bin/bash\ncount_words() {\n  echo $#\n}\nfunction twice { echo $(( $1 * 2 )); }", ["count_words", "twice"]),
    ("python", "def f(x):\n    return g(x)\n\ndef g(x):\n    return x", ["f", "g"]),
    ("java", "class Solution {\n    static int[] sortDesc(int[] a) { return a; }\n    public static void main(String[] a) {}\n}",
     ["sortDesc"]),
    ("csharp", "class Solution {\n    public static List<int> Evens(List<int> xs) { return xs; }\n}", ["Evens"]),
    ("typescript", "function chunk<T>(xs: T[], n: number): T[][] { return []; }", ["chunk"]),
    ("cpp", "#include <vector>\nstd::vector<int> evens(const std::vector<int>& v) {\n    return v;\n}\nint main() {\n}", ["evens"]),
])
def test_tests_prompt_names_the_functions_the_solution_defines(language: str, solution: str, names: list[str]) -> None:
    """The model copied the hint's `f(2)` into PHP and Bash tests ("Call to undefined function f()")."""
    assert defined_names(solution, language) == names
    profile = get_profile(language)
    rendered = TestsTask(profile).format_input({**profile_vars(profile), "instruction": "t", "solution": solution})
    assert f"The solution defines `{names[0]}`" in rendered.messages[-1]["content"]


@pytest.mark.parametrize("language", ["php", "bash", "python", "typescript"])
def test_tests_reply_starts_with_the_call_of_the_named_function(language: str) -> None:
    solution = {
        "php": "<?php\nfunction helper($x) { return $x; }\nfunction sum_digits($n) { return helper($n); }",
        "bash": "#!/bin/bash\nhelper() { echo $1; }\nsum_digits() { helper $1; }",
        "python": "def helper(x):\n    return x\n\ndef sum_digits(n):\n    return helper(n)",
        "typescript": "function helper(x: number): number { return x; }\nfunction sum_digits(n: number): number { return helper(n); }",
    }[language]
    reply = {"php": "12) !== 12) { throw new Exception(\"t\"); }", "bash": "12)\" = \"12\" ] || exit 1",
             "python": "12) == 12", "typescript": "12) === 12, \"t\");"}[language]
    profile = get_profile(language)
    row = {**profile_vars(profile), "instruction": "Write sum_digits(n).", "solution": solution}
    task = TestsTask(profile)
    assert task.format_input(row).prefix.endswith("sum_digits" + ("(" if language != "bash" else " "))
    tests = task.format_output(reply, row)["tests"]
    assert "sum_digits" in tests and tests.startswith(profile.tests_prefix), tests
    if language in available_languages():
        verdict = verify(Sandbox(prestart=0), language, solution, tests, Limits(timeout=30))["verdict"]
        assert verdict == "passed"


# ----------------------------------------------------------------------------- task statements
# Replies of the embedded model to the propose / seed prompts (prefilled with "Task: ").
TASK_LIST = (
    "1 - Reverse an Integer\nTask: 2 - Implement a function to handle negative numbers\n"
    "Task: 3 - Add a check for integer overflow\nTask: 4 - Write unit tests\n"
    "Task: 5 - Improve the C++ task by making it more concise and adhere to PEP 8 standards"
)


@pytest.mark.parametrize(
    ("reply", "expected", "error"),
    [
        (TASK_LIST, None, "task_list"),
        ("Write a function that returns the maximum of three numbers.\n\nSolution: Write the solution in Python.",
         "Write a function that returns the maximum of three numbers.", None),
        ("Write a C++ function `reverse(int x)` like the one in the given snippet, but for 64-bit integers.",
         None, "refers_to_prompt"),
        ("Task: Write a Bash function `count_lines` that prints the number of lines of the file given as $1.\n\n"
         "I hope this helps!", "Write a Bash function `count_lines` that prints the number of lines of the file given "
         "as $1.", None),
        ("short", None, "too_short"),
    ],
)
def test_task_statements_are_cleaned_with_the_shared_rules(reply: str, expected: str | None, error: str | None) -> None:
    out = InstructionTask("propose").format_output(reply)
    assert out["instruction"] == expected and out["error"] == error and out["raw"] == reply
    assert parse_instruction(reply) == expected
