"""Every required language: a correct program passes, a wrong one fails, a broken one is diagnosed."""

from __future__ import annotations

import pytest

from xinstruct.sandbox import Job, Limits, Sandbox, Verdict, available_languages, language_info

pytestmark = pytest.mark.toolchain

# language: (solution, passing tests, failing tests)
PROGRAMS: dict[str, tuple[str, str, str]] = {
    "python": ("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3", "assert add(1, 2) == 4"),
    "javascript": ("function add(a, b) { return a + b; }",
                   "const assert = require('node:assert');\nassert.deepEqual(add(1, 2), 3);",
                   "console.assert(add(1, 2) === 4);"),
    "typescript": ("function add(a: number, b: number): number { return a + b; }",
                   "import * as assert from 'assert'\nassert.deepEqual(add(1, 2), 3);",
                   "declare var require: any;\nconst assert = require('node:assert');\nassert.deepEqual(add(1, 2), 4);"),
    "java": ("class Problem {\n    public static int add(int a, int b) { return a + b; }\n",
             "    public static void main(String[] args) {\n    assert(add(1, 2) == (3));\n    }\n}\n",
             "    public static void main(String[] args) {\n    assert(add(1, 2) == (4));\n    }\n}\n"),
    "cpp": ("#include <bits/stdc++.h>\nint add(int a, int b) { return a + b; }",
            "int main() { assert(add(1, 2) == 3); }", "int main() { assert(add(1, 2) == 4); }"),
    "c": ("#include <assert.h>\nint add(int a, int b) { return a + b; }",
          "int main(void) { assert(add(1, 2) == 3); return 0; }", "int main(void) { assert(add(1, 2) == 4); return 0; }"),
    "csharp": ("using System;\nusing System.Diagnostics;\nclass Problem {\n    public static int Add(int a, int b) { return a + b; }\n",
               "    public static void Main(string[] args) {\n    Debug.Assert(Add(1, 2) == (3));\n    }\n}\n",
               "    public static void Main(string[] args) {\n    Debug.Assert(Add(1, 2) == (4));\n    }\n}\n"),
    "go": ("package add_test\n\nimport (\n    \"testing\"\n    \"fmt\"\n)\n\nfunc add(a int, b int) int { return a + b }\n",
           "func TestAdd(t *testing.T) {\n  if add(1, 2) != 3 { t.Errorf(\"%v\", fmt.Sprint(add(1, 2))) }\n}\n",
           "func TestAdd(t *testing.T) {\n  if add(1, 2) != 4 { t.Errorf(\"%v\", fmt.Sprint(add(1, 2))) }\n}\n"),
    "rust": ("fn add(a: i64, b: i64) -> i64 { a + b }",
             "fn main() {\n    let candidate = add;\n    assert_eq!(candidate(1, 2), 3);\n}",
             "fn main() {\n    let candidate = add;\n    assert_eq!(candidate(1, 2), 4);\n}"),
    "php": ("<?php\nfunction add($a, $b) { return $a + $b; }",
            "function test(): void {\n    if (add(1, 2) !== 3) { throw new Exception(\"Test failed!\"); }\n}\ntest();",
            "function test(): void {\n    if (add(1, 2) !== 4) { throw new Exception(\"Test failed!\"); }\n}\ntest();"),
    "bash": ("#!/bin/bash\nadd() {\n    echo $(( $1 + $2 ))\n}\n",
             "set -e\nrun_test() {\n    [[ $(add 1 2) = \"3\" ]]\n}\nrun_test",
             "set -e\nrun_test() {\n    [[ $(add 1 2) = \"4\" ]]\n}\nrun_test"),
    "ruby": ("def add(a, b)\n  a + b\nend",
             "require 'test/unit'\nclass TestHumanEval < Test::Unit::TestCase\n  def test_add\n"
             "    assert_equal(3, add(1, 2))\n  end\nend",
             "require 'test/unit'\nclass TestHumanEval < Test::Unit::TestCase\n  def test_add\n"
             "    assert_equal(4, add(1, 2))\n  end\nend"),
    "perl": ("sub add {\n    my ($a, $b) = @_;\n    return $a + $b;\n}",
             "use Test::Deep;\nsub testhumaneval {\n    my $candidate = \\&add;\n"
             "    if(eq_deeply($candidate->(1, 2),3)) { print \"ok!\" } else { exit 1; }\n}\ntesthumaneval();",
             "use Test::Deep;\nsub testhumaneval {\n    my $candidate = \\&add;\n"
             "    if(eq_deeply($candidate->(1, 2),4)) { print \"ok!\" } else { exit 1; }\n}\ntesthumaneval();"),
    "lua": ("local function add(a, b)\n    return a + b\nend",
            "lu = require('luaunit')\nfunction test_humaneval()\n    lu.assertEquals(add(1, 2), 3)\nend\n"
            "os.exit(lu.LuaUnit.run())",
            "lu = require('luaunit')\nfunction test_humaneval()\n    lu.assertEquals(add(1, 2), 4)\nend\n"
            "os.exit(lu.LuaUnit.run())"),
    "r": ("add <- function(a, b) {\n    a + b\n}",
          "test_humaneval <- function() {\n    candidate <- add\n    stopifnot(isTRUE(all.equal(candidate(1, 2), 3)))\n}\n"
          "test_humaneval()",
          "test_humaneval <- function() {\n    candidate <- add\n    stopifnot(isTRUE(all.equal(candidate(1, 2), 4)))\n}\n"
          "test_humaneval()"),
    "elixir": ("defmodule HumanEval do\n  def candidate(a, b), do: add(a, b)\n  def add(a, b) do\n    a + b\n  end\nend",
               "ExUnit.start()\ndefmodule HumanEvalTest do\n  use ExUnit.Case, async: true\n  test 'add' do\n"
               "    assert 3 == HumanEval.candidate(1, 2)\n  end\nend",
               "ExUnit.start()\ndefmodule HumanEvalTest do\n  use ExUnit.Case, async: true\n  test 'add' do\n"
               "    assert 4 == HumanEval.candidate(1, 2)\n  end\nend"),
}

BROKEN: dict[str, tuple[str, Verdict]] = {
    "python": ("def f(:\n", Verdict.COMPILE_ERROR),
    "cpp": ("int main() { return undefined_name; }", Verdict.COMPILE_ERROR),
    "java": ("public class Main { public static void main(String[] a) { int x = \"s\"; } }", Verdict.COMPILE_ERROR),
    "rust": ("fn main() { let x: i32 = \"s\"; }", Verdict.COMPILE_ERROR),
    "go": ("package main\nfunc main() { undefinedCall() }", Verdict.COMPILE_ERROR),
    "typescript": ("function (", Verdict.COMPILE_ERROR),
    "javascript": ("null.x", Verdict.RUNTIME_ERROR),
    "ruby": ("raise 'boom'", Verdict.RUNTIME_ERROR),
    "r": ("f <- function( {", Verdict.COMPILE_ERROR),
    "elixir": ("defmodule X do\n def f( do\nend", Verdict.COMPILE_ERROR),
}


def _jobs() -> list[tuple[str, str, Job]]:
    jobs = []
    for lang, (sol, ok, bad) in PROGRAMS.items():
        jobs.append((lang, "pass", Job(lang, sol, ok)))
        jobs.append((lang, "fail", Job(lang, sol, bad)))
    for lang, (code, _) in BROKEN.items():
        jobs.append((lang, "broken", Job(lang, code)))
    return jobs


@pytest.fixture(scope="module")
def outcomes(sandbox: Sandbox) -> dict[tuple[str, str], object]:
    jobs = _jobs()
    results = dict(sandbox.run_many([j for _, _, j in jobs]))
    return {(lang, kind): results[i] for i, (lang, kind, _) in enumerate(jobs)}


@pytest.mark.parametrize("lang", sorted(PROGRAMS))
def test_correct_passes_wrong_fails(lang: str, outcomes: dict) -> None:
    good, bad = outcomes[(lang, "pass")], outcomes[(lang, "fail")]
    assert good.verdict is Verdict.PASSED, good.to_dict()
    assert bad.verdict is Verdict.FAILED, bad.to_dict()


@pytest.mark.parametrize("lang", sorted(BROKEN))
def test_broken_program_diagnosed(lang: str, outcomes: dict) -> None:
    r = outcomes[(lang, "broken")]
    assert r.verdict is BROKEN[lang][1], r.to_dict()


def test_aliases_run(sandbox: Sandbox) -> None:
    for alias in ("py", "js", "sh", "rb"):
        r = sandbox.run(Job(alias, {"py": "print(1)", "js": "console.log(1)", "sh": "echo 1", "rb": "puts 1"}[alias]))
        assert r.verdict is Verdict.PASSED and r.stdout.strip() == "1", r.to_dict()


def test_bundled_dependencies(sandbox: Sandbox) -> None:
    """Libraries benchmark solutions use: Boost and OpenSSL (HumanEval-X C++), js-md5 (HumanEval-X JS),
    Set without require (MBXP Ruby); /etc is the minimal view, never the host's."""
    cpp = ("#include <boost/any.hpp>\n#include <openssl/md5.h>\n#include <cstdio>\nint main() {"
           " unsigned char d[16]; MD5((const unsigned char*)\"a\", 1, d); boost::any x = 1;"
           " printf(\"%02x%d\\n\", d[0], boost::any_cast<int>(x)); }")
    jobs = [Job("cpp", cpp), Job("javascript", "console.log(require('js-md5')('a'))"),
            Job("ruby", "puts Set[1, 1].size"), Job("python", "import os; print(sorted(os.listdir('/etc')))")]
    r = dict(sandbox.run_many(jobs))
    assert [x.verdict for x in r.values()] == [Verdict.PASSED] * 4, [x.to_dict() for x in r.values()]
    assert r[0].stdout.strip() == "0c1" and r[1].stdout.strip() == "0cc175b9c0f1b6a831c399e269772661"
    assert r[2].stdout.strip() == "1"
    assert "passwd" not in r[3].stdout and "shadow" not in r[3].stdout and "ld.so.cache" in r[3].stdout


def test_stdin_and_extra_files(sandbox: Sandbox) -> None:
    job = Job("python", "import sys\nprint(sys.stdin.read().upper() + open('data.txt').read())",
              stdin="abc", files={"data.txt": "xyz"})
    r = sandbox.run(job)
    assert r.verdict is Verdict.PASSED and r.stdout.strip() == "ABCxyz"


def test_large_stdin_does_not_deadlock(sandbox: Sandbox) -> None:
    data = "x" * 3_000_000
    r = sandbox.run(Job("python", "import sys\nprint(len(sys.stdin.read()))", stdin=data,
                        limits=Limits(output_bytes=1 << 23)))
    assert r.verdict is Verdict.PASSED and r.stdout.strip() == str(len(data))


def test_unknown_and_result_fields(sandbox: Sandbox) -> None:
    r = sandbox.run(Job("cobol", "x"))
    assert r.verdict is Verdict.UNAVAILABLE and "known" in r.message
    r = sandbox.run(Job("python", "import sys; print('o'); print('e', file=sys.stderr); sys.exit(3)"))
    d = r.to_dict()
    assert d["verdict"] == "runtime_error" and d["exit_code"] == 3 and d["stdout"] == "o\n" and d["stderr"] == "e\n"
    assert d["total_seconds"] >= d["run_seconds"] > 0


def test_compile_cache_hit(sandbox: Sandbox) -> None:
    job = Job("cpp", "#include <cstdio>\nint main() { puts(\"cached\"); }")
    first, second = sandbox.run(job), sandbox.run(job)
    assert first.verdict is second.verdict is Verdict.PASSED
    assert not first.cached and first.compile_seconds > 0
    assert second.cached and second.compile_seconds == 0.0 and second.stdout == "cached\n"
    bad = Job("cpp", "int main() { return nope; }")
    assert sandbox.run(bad).verdict is Verdict.COMPILE_ERROR
    again = sandbox.run(bad)
    assert again.verdict is Verdict.COMPILE_ERROR and again.cached and "nope" in again.stderr


def test_language_info_lists_versions() -> None:
    rows = {r["language"]: r for r in language_info()}
    assert "python" in available_languages()
    assert rows["python"]["version"].startswith("Python 3")
    for row in rows.values():
        assert row["version"] and row["packages"]
