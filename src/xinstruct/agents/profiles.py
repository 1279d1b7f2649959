"""Language agent profiles: what each agent is told about its language and how its code is tested.

The sandbox appends the tests to the solution (see ``xinstruct.sandbox.languages``), so each
profile says what shape both must have, and prefills the start of the code so the weak model
writes the right scaffolding (a ``Main`` class in Java, ``main()`` in C++ ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.core.languages import display_name, normalize_language

DEFAULT_LANGUAGES: tuple[str, ...] = ("python", "java", "cpp", "csharp", "typescript", "php", "bash")


@dataclass(frozen=True)
class Profile:
    language: str
    display: str
    solution_hint: str
    test_hint: str
    solution_prefix: str = ""
    """Code the solution starts with (prefilled after the opening fence)."""
    tests_prefix: str = ""
    tests_marker: str = ""
    """Where a single block holding solution and tests is split (the tests start here)."""
    tests_call: str = ""
    """Prefilled after ``tests_prefix`` with the solution's function name (``{name}(``): the model
    otherwise copies the hint's example call ``f(2)`` and tests a function that does not exist."""
    check_pattern: str = r"\b(?:assert|throw|raise|panic|exit|die|abort|fail)"
    """What a test must contain to be able to fail at all (a check that throws or exits non-zero);
    tests without it ("echo Pass / echo Fail") pass whatever the solution does."""

    @property
    def task_definition(self) -> str:
        return (
            f"You are the {self.display} agent of a team that writes programming exercises. Each exercise "
            f"has a clear task, a {self.display} solution and unit tests that check it."
        )


_PROFILES: dict[str, Profile] = {
    p.language: p
    for p in (
        Profile(
            "python", "Python",
            "Define functions only; no input(), no printing, no tests.",
            "Write plain top-level `assert` statements (no unittest, no functions). Use small inputs whose "
            "results you can check by hand.",
            tests_prefix="assert ",
            tests_marker="\nassert ",
            tests_call="{name}(",
            check_pattern=r"\bassert\b|\braise\b",
        ),
        Profile(
            "java", "Java",
            "Write `class Solution` (not public) with static methods; no main method.",
            "Write `public class Main extends Solution` whose main method calls Solution's static methods and "
            "throws `new AssertionError()` when a result is wrong. Compare strings, lists and arrays with "
            "`.equals(...)` / `Arrays.equals(...)`, never `==`. Use small inputs.",
            solution_prefix="import java.util.*;\n\nclass Solution {\n",
            # extends Solution: tests that call the methods unqualified still compile
            tests_prefix="public class Main extends Solution {\n    public static void main(String[] args) {\n",
            tests_marker="public class Main",
            check_pattern=r"\bthrow\b|\bassert\b|System\.exit\s*\(\s*[1-9]",
        ),
        Profile(
            "cpp", "C++",
            "Write functions only, with their #include lines; no main function. Take vector and string "
            "parameters by value or const reference.",
            "Write `int main()` that checks results with `assert(...)` and returns 0. Use small inputs.",
            solution_prefix="#include <bits/stdc++.h>\nusing namespace std;\n\n",
            tests_prefix="#include <cassert>\n\nint main() {\n",
            tests_marker="int main(",
            check_pattern=r"\bassert\s*\(|\bthrow\b|\babort\s*\(|\bexit\s*\(\s*[1-9]|\breturn\s+[1-9]",
        ),
        Profile(
            "csharp", "C#",
            "Write `class Solution` with public static methods; no Main method.",
            "Write `class Program : Solution` with `static void Main()` that checks Solution's results with "
            "`Debug.Assert(...)`. Compare lists and arrays with `.SequenceEqual(...)`, never `==`. Use small inputs.",
            solution_prefix="using System;\nusing System.Collections.Generic;\nusing System.Linq;\n\nclass Solution {\n",
            tests_prefix="class Program : Solution {\n    static void Main() {\n",
            tests_marker="class Program",
            check_pattern=r"Debug\.Assert|Trace\.Assert|\bthrow\b|Environment\.Exit\s*\(\s*[1-9]",
        ),
        Profile(
            "typescript", "TypeScript",
            "Write typed functions only; no console output, no tests.",
            "Write top-level checks `console.assert(expr, \"message\");` with concrete expected values. Compare "
            "arrays and objects with `JSON.stringify(a) === JSON.stringify(b)`, never `===`. Use small inputs.",
            tests_prefix="console.assert(",
            tests_marker="\nconsole.assert(",
            tests_call="{name}(",
            check_pattern=r"console\.assert|\bassert\b|\bthrow\b|process\.exit\s*\(\s*[1-9]",
        ),
        Profile(
            # the generic profile let JavaScript tests pass that could not fail (console.log lines;
            # asserts inside a test function never called; `require('assert')` matched the pattern)
            "javascript", "JavaScript",
            "Write functions only; no console output, no tests.",
            "Write top-level checks `console.assert(expr, \"message\");` with concrete expected values. Compare "
            "arrays and objects with `JSON.stringify(a) === JSON.stringify(b)`, never `===`. Use small inputs.",
            tests_prefix="console.assert(",
            tests_marker="\nconsole.assert(",
            tests_call="{name}(",
            check_pattern=r"console\.assert\s*\(|\bassert(?:\.\w+)?\s*\(|\bthrow\b|process\.exit\s*\(\s*[1-9]",
        ),
        Profile(
            "php", "PHP",
            "Write PHP functions only; no echo, no tests.",
            "Write checks like `if (f(2) !== 4) { throw new Exception(\"Test failed\"); }`. Use small inputs.",
            solution_prefix="<?php\n",
            tests_prefix="if (",
            tests_marker="\nif (",
            tests_call="{name}(",
            check_pattern=r"\bthrow\b|\bassert\s*\(|\bexit\s*\(\s*[1-9]|\bdie\s*\(",
        ),
        Profile(
            "bash", "Bash",
            "Write bash functions that print their result with echo; do not read input.",
            "Write checks like `[ \"$(f 2)\" = \"4\" ] || { echo \"Test failed\"; exit 1; }`. Use small inputs.",
            solution_prefix="#!/bin/bash\n",
            tests_prefix="[ \"$(",
            tests_marker="\n[ ",
            tests_call="{name} ",
            check_pattern=r"\bexit\s+[1-9]|\breturn\s+[1-9]|\bfalse\b",
        ),
    )
}


def get_profile(language: str) -> Profile:
    """The tuned profile, or a generic one for any other sandbox language."""
    canonical = normalize_language(language) or language.strip().lower()
    found = _PROFILES.get(canonical)
    if found is not None:
        return found
    display = display_name(canonical)
    return Profile(
        canonical, display,
        "Write the functions only; no input reading, no tests.",
        f"Write {display} test code that calls the functions, checks concrete expected values and fails "
        "(throws or exits non-zero) when a result is wrong.",
    )
