"""Execution fidelity: every check a language offers can fail in the sandbox (the table in
docs/sandbox.md, "Which checks can fail"), and the fixes that made some of them fail at all: PHP
assert(), Go's testify stand-in, C#'s implicit usings and Trace.Assert, TypeScript type errors."""

from __future__ import annotations

import pytest

from xinstruct.sandbox import Job, Result, Sandbox, Verdict

pytestmark = pytest.mark.toolchain

# language: (a true condition, a false one)
CONDITIONS: dict[str, tuple[str, str]] = {
    "python": ("1 + 1 == 2", "1 + 1 == 3"),
    "javascript": ("1 + 1 === 2", "1 + 1 === 3"),
    "typescript": ("1 + 1 === 2", "1 + 1 === 3"),
    "java": ("1 + 1 == 2", "1 + 1 == 3"),
    "cpp": ("1 + 1 == 2", "1 + 1 == 3"),
    "c": ("1 + 1 == 2", "1 + 1 == 3"),
    "csharp": ("1 + 1 == 2", "1 + 1 == 3"),
    "go": ("1+1 == 2", "1+1 == 3"),
    "rust": ("1 + 1 == 2", "1 + 1 == 3"),
    "php": ("1 + 1 === 2", "1 + 1 === 3"),
    "bash": ("[[ $((1 + 1)) -eq 2 ]]", "[[ $((1 + 1)) -eq 3 ]]"),
    "ruby": ("1 + 1 == 2", "1 + 1 == 3"),
    "perl": ("1 + 1 == 2", "1 + 1 == 3"),
    "lua": ("1 + 1 == 2", "1 + 1 == 3"),
    "r": ("1 + 1 == 2", "1 + 1 == 3"),
    "elixir": ("1 + 1 == 2", "1 + 1 == 3"),
}

# Wrappers: @ is replaced by the body (whose braces are still doubled for str.format).
_JAVA = "public class Main {{ public static void main(String[] a) {{ @ }} }}"
_CPP = "#include <cassert>\n#include <cstdlib>\n#include <stdexcept>\nint main() {{ @ }}"
_CS = "using System.Diagnostics;\nclass P {{ static int Main() {{ @ return 0; }} }}"
_GO_TEST = 'package main\nimport (\n "testing"\n@\n)\nfunc TestX(t *testing.T) {{ @ }}'
_RUBY_TEST = "require '@'\nclass T < @\n  def test_x\n    assert({c})\n  end\nend"


def _wrap(wrapper: str, *bodies: str) -> str:
    for body in bodies:
        wrapper = wrapper.replace("@", body, 1)
    return wrapper


# (language, check) -> program; {c} is the condition. A check "can fail" when the program with the
# false condition is not passed and the one with the true condition is.
CHECKS: dict[tuple[str, str], str] = {
    ("python", "assert"): "assert {c}",
    ("python", "exception"): "if not ({c}):\n    raise ValueError('check')",
    ("python", "exit code"): "import sys\nsys.exit(0 if {c} else 1)",
    ("python", "unittest"): "import unittest\nclass T(unittest.TestCase):\n    def test(self):\n"
                            "        self.assertTrue({c})\nunittest.main()",
    ("javascript", "assert"): "const assert = require('node:assert');\nassert.ok({c});",
    ("javascript", "console.assert"): "console.assert({c});",
    ("javascript", "exception"): "if (!({c})) throw new Error('check');",
    ("javascript", "exit code"): "process.exit(({c}) ? 0 : 1);",
    ("javascript", "node:test"): "const test = require('node:test');\nconst assert = require('node:assert');\n"
                                 "test('t', () => {{ assert.ok({c}); }});",
    ("typescript", "assert"): "import * as assert from 'assert';\nassert.ok({c});",
    ("typescript", "console.assert"): "console.assert({c});",
    ("typescript", "exception"): "if (!({c})) throw new Error('check');",
    ("typescript", "exit code"): "declare var process: any;\nprocess.exit(({c}) ? 0 : 1);",
    ("java", "assert"): _wrap(_JAVA, "assert {c};"),
    ("java", "exception"): _wrap(_JAVA, 'if (!({c})) throw new RuntimeException("check");'),
    ("java", "exit code"): _wrap(_JAVA, "System.exit(({c}) ? 0 : 1);"),
    ("cpp", "assert"): _wrap(_CPP, "assert({c});"),
    ("cpp", "exception"): _wrap(_CPP, 'if (!({c})) throw std::runtime_error("check");'),
    ("cpp", "exit code"): _wrap(_CPP, "return ({c}) ? 0 : 1;"),
    ("c", "assert"): "#include <assert.h>\nint main(void) {{ assert({c}); return 0; }}",
    ("c", "exit code"): "int main(void) {{ return ({c}) ? 0 : 1; }}",
    ("csharp", "Debug.Assert"): _wrap(_CS, "Debug.Assert({c});"),
    ("csharp", "Trace.Assert"): _wrap(_CS, 'Trace.Assert({c}, "check");'),
    ("csharp", "exception"): _wrap(_CS, 'if (!({c})) throw new Exception("check");'),
    ("csharp", "exit code"): _wrap(_CS, "if (!({c})) return 1;"),
    ("csharp", "CompareLogic"): _wrap(_CS,
        "var r = new KellermanSoftware.CompareNetObjects.CompareLogic().Compare("
        "new List<int> {{ 1, 2 }}, new List<int> {{ 1, ({c}) ? 2 : 3 }});"
        ' if (!r.AreEqual) throw new Exception("Exception --- test case 0 did not pass!");'
    ),
    ("go", "panic"): "package main\nfunc main() {{ if !({c}) {{ panic(\"check\") }} }}",
    ("go", "exit code"): 'package main\nimport "os"\nfunc main() {{ if !({c}) {{ os.Exit(1) }} }}',
    ("go", "testing"): _wrap(_GO_TEST, "", 'if !({c}) {{ t.Errorf("check") }}'),
    ("go", "testify"): _wrap(_GO_TEST, ' "github.com/stretchr/testify/assert"', "assert.True(t, {c})"),
    ("rust", "assert"): "fn main() {{ assert!({c}); }}",
    ("rust", "panic"): 'fn main() {{ if !({c}) {{ panic!("check"); }} }}',
    ("rust", "exit code"): "fn main() {{ std::process::exit(if {c} {{ 0 }} else {{ 1 }}); }}",
    ("rust", "#[test]"): "#[test]\nfn t() {{ assert!({c}); }}",
    ("php", "assert"): "<?php\nassert({c});",
    ("php", "exception"): "<?php\nif (!({c})) {{ throw new Exception('check'); }}",
    ("php", "exit code"): "<?php\nexit(({c}) ? 0 : 1);",
    ("bash", "exit code"): "if ! {c}; then exit 1; fi",
    ("bash", "set -e"): "set -e\n{c}\necho done",
    ("ruby", "exception"): "raise 'check' unless {c}",
    ("ruby", "exit code"): "exit({c} ? 0 : 1)",
    ("ruby", "test/unit"): _wrap(_RUBY_TEST, "test/unit", "Test::Unit::TestCase"),
    ("ruby", "minitest"): _wrap(_RUBY_TEST, "minitest/autorun", "Minitest::Test"),
    ("perl", "exception"): "die 'check' unless {c};",
    ("perl", "exit code"): "exit({c} ? 0 : 1);",
    ("perl", "Test::More"): "use Test::More tests => 1;\nok({c});",
    ("perl", "Test::Deep"): "use Test::More tests => 1;\nuse Test::Deep;\ncmp_deeply([1, 2], [1, ({c}) ? 2 : 3]);",
    ("lua", "assert"): "assert({c})",
    ("lua", "exception"): "if not ({c}) then error('check') end",
    ("lua", "exit code"): "os.exit(({c}) and 0 or 1)",
    ("lua", "luaunit"): "lu = require('luaunit')\nfunction test_x() lu.assertTrue({c}) end\nos.exit(lu.LuaUnit.run())",
    ("r", "stopifnot"): "stopifnot({c})",
    ("r", "exception"): "if (!({c})) stop('check')",
    ("r", "exit code"): "quit(status = if ({c}) 0 else 1)",
    ("elixir", "exception"): 'unless {c}, do: raise "check"',
    ("elixir", "exit code"): "System.halt(if {c}, do: 0, else: 1)",
    ("elixir", "ExUnit"): 'ExUnit.start()\ndefmodule T do\n  use ExUnit.Case\n  test "x" do\n    assert {c}\n  end\nend',
}

# Twins given explicitly (passing, failing): the check fails before the program runs.
COMPILE_TIME: dict[tuple[str, str], tuple[str, str]] = {
    ("typescript", "type check"): ("const x: number = 1;\nconsole.log(x);", "const x: number = '1';\nconsole.log(x);"),
}


@pytest.fixture(scope="module")
def checks(sandbox: Sandbox) -> dict[tuple[str, str, bool], Result]:
    """All twins in one concurrent batch; tests="" marks them as test runs (failed vs runtime_error)."""
    keys, jobs = [], []
    twins = {key: tuple(t.format(c=c) for c in CONDITIONS[key[0]]) for key, t in CHECKS.items()}
    for (lang, check), programs in {**twins, **COMPILE_TIME}.items():
        for ok, program in zip((True, False), programs, strict=True):
            keys.append((lang, check, ok))
            jobs.append(Job(lang, program, tests=""))
    return {keys[i]: r for i, r in sandbox.run_many(jobs)}


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "check"), sorted([*CHECKS, *COMPILE_TIME]))
def test_check_can_fail(lang: str, check: str, checks: dict[tuple[str, str, bool], Result]) -> None:
    good, bad = checks[(lang, check, True)], checks[(lang, check, False)]
    assert good.verdict is Verdict.PASSED, good.to_dict()
    if (lang, check) in COMPILE_TIME:
        assert bad.verdict is Verdict.COMPILE_ERROR, bad.to_dict()
    else:
        assert bad.verdict in (Verdict.FAILED, Verdict.RUNTIME_ERROR), bad.to_dict()


def test_php_assert_is_not_a_no_op(sandbox: Sandbox) -> None:
    """Debian's php.ini compiles assert() out (zend.assertions=-1); the MBXP/agents style must fail."""
    solution = "<?php\nfunction f() { return 3; }"
    jobs = [Job("php", solution, "assert(f() === 2);"), Job("php", solution, "assert(f() === 3);")]
    bad, good = (r for _, r in sorted(sandbox.run_many(jobs), key=lambda x: x[0]))
    assert bad.verdict is Verdict.FAILED and "AssertionError" in bad.stderr, bad.to_dict()
    assert good.verdict is Verdict.PASSED, good.to_dict()


_TESTIFY_PASS = """package main

import (
    "errors"
    "testing"
    "github.com/stretchr/testify/assert"
)

func TestPass(t *testing.T) {
    a := assert.New(t)
    var nilPtr *int
    assert.Equal(t, []int{1, 2}, []int{1, 2})
    a.Equal(map[string]int{"a": 1}, map[string]int{"a": 1}, "with a message %d", 1)
    assert.Equal(t, []byte{}, []byte{})
    assert.NotEqual(t, 1, int64(1)); a.NotEqual("a", "b")
    assert.EqualValues(t, int32(1), int64(1)); a.EqualValues(uint8(7), 7)
    assert.True(t, true); a.True(true); assert.False(t, false); a.False(false)
    assert.Nil(t, nil); a.Nil(nilPtr); assert.NotNil(t, t); a.NotNil([]int{})
    assert.Empty(t, ""); a.Empty([]int{}); a.Empty(0); assert.NotEmpty(t, []int{0}); a.NotEmpty("x")
    assert.Len(t, []int{1, 2, 3}, 3); a.Len("ab", 2); a.Len(map[int]int{1: 1}, 1)
    assert.Contains(t, "hello", "ell"); a.Contains([]string{"a", "b"}, "b"); a.Contains(map[string]int{"k": 1}, "k")
    assert.NotContains(t, []int{1}, 2); a.NotContains("abc", "x")
    assert.ElementsMatch(t, []int{1, 2, 2, 3}, []int{2, 3, 1, 2}); a.ElementsMatch([]string{}, nil)
    assert.InDelta(t, 0.3, 0.1+0.2, 1e-9); a.InDelta(3, 3.05, 0.1); a.InDelta(float32(1.5), 1.5, 0)
    assert.Greater(t, 2, 1); a.Greater("b", "a"); assert.GreaterOrEqual(t, 2.0, 2.0); a.GreaterOrEqual(3, 2)
    assert.Less(t, uint(1), uint(2)); a.Less(-1.5, 0.0); assert.LessOrEqual(t, 1, 1); a.LessOrEqual("a", "a")
    assert.NoError(t, nil); a.NoError(nil); assert.Error(t, errors.New("e")); a.Error(errors.New("e"))
    assert.Panics(t, func() { panic(1) }); a.Panics(func() { panic(1) })
    assert.NotPanics(t, func() {}); a.NotPanics(func() {})
}
"""

# name: a call that must fail, reporting one error to the recorder r (a TestingT); package functions and,
# for a subset, assert.New(r) methods
_TESTIFY_FAILS: dict[str, str] = {
    "Equal": "assert.Equal(r, 1, int64(1))",
    "EqualBytes": 'assert.Equal(r, []byte("a"), []byte("b"))',
    "EqualFunc": "assert.Equal(r, func() {}, nil)",
    "NotEqual": "assert.NotEqual(r, 2, 2)",
    "EqualValues": 'assert.EqualValues(r, 1, "1")',
    "True": "assert.True(r, false)",
    "False": "assert.False(r, true)",
    "Nil": "assert.Nil(r, 0)",
    "NotNil": "assert.NotNil(r, nil)",
    "Empty": 'assert.Empty(r, " ")',
    "NotEmpty": "assert.NotEmpty(r, map[int]int{})",
    "Len": "assert.Len(r, []int{1}, 2)",
    "LenNotSized": "assert.Len(r, 5, 1)",
    "Contains": 'assert.Contains(r, "abc", "x")',
    "ContainsTyped": "assert.Contains(r, []int{1}, int64(1))",
    "NotContains": 'assert.NotContains(r, "abc", "b")',
    "ElementsMatch": "assert.ElementsMatch(r, []int{1, 1, 2}, []int{1, 2, 2})",
    "InDelta": "assert.InDelta(r, 1.0, 1.2, 0.1)",
    "InDeltaNotNumber": 'assert.InDelta(r, "1", 1, 1)',
    "Greater": "assert.Greater(r, 1, 2)",
    "GreaterMixedKinds": "assert.Greater(r, 2, 1.0)",
    "GreaterOrEqual": "assert.GreaterOrEqual(r, 1, 2)",
    "Less": "assert.Less(r, 2, 1)",
    "LessOrEqual": 'assert.LessOrEqual(r, "b", "a")',
    "NoError": 'assert.NoError(r, errors.New("e"))',
    "Error": "assert.Error(r, nil)",
    "Panics": "assert.Panics(r, func() {})",
    "NotPanics": "assert.NotPanics(r, func() { panic(1) })",
    "MethodInDelta": "assert.New(r).InDelta(2, 2.5, 0.1)",
    "MethodEqual": "assert.New(r).Equal([]int{1}, []int{2})",
    "MethodElementsMatch": "assert.New(r).ElementsMatch([]int{1}, []int{2})",
}


_TESTIFY_RECORDER = """type recorder struct{ errors int }

func (r *recorder) Errorf(format string, args ...interface{}) { r.errors++ }

"""
_TESTIFY_CHECK = """    check := func(name string, ok bool, r *recorder) {
        if ok || r.errors != 1 { t.Errorf("%s: ok=%v errors=%d", name, ok, r.errors) }
    }
"""


def test_go_testify_stand_in(sandbox: Sandbox) -> None:
    """testify's common API, package functions and assert.New(t) methods: each passes when it should and
    each failing call reports exactly one error; a failing InDelta on *testing.T fails the job."""
    calls = "\n".join(f'    {{ r := &recorder{{}}; check("{n}", {call}, r) }}' for n, call in _TESTIFY_FAILS.items())
    failing = _TESTIFY_PASS.split("func TestPass")[0] + _TESTIFY_RECORDER + (
        f"func TestEachFails(t *testing.T) {{\n{_TESTIFY_CHECK}{calls}\n}}\n\n"
        "func TestInDelta(t *testing.T) { assert.InDelta(t, 1.0, 1.5, 0.1) }\n"
    )
    jobs = [Job("go", _TESTIFY_PASS, tests=""), Job("go", failing, tests="")]
    good, bad = (r for _, r in sorted(sandbox.run_many(jobs), key=lambda x: x[0]))
    assert good.verdict is Verdict.PASSED, good.to_dict()
    assert bad.verdict is Verdict.FAILED and "--- FAIL: TestInDelta " in bad.stdout, bad.to_dict()
    assert "TestEachFails" not in bad.stdout, bad.stdout


def test_csharp_implicit_usings(sandbox: Sandbox) -> None:
    """Programs written for .NET 6+ use Linq etc. without usings; programs with their own usings still
    compile without CS0105 noise, and compiler messages keep the program's line numbers."""
    body = "class P {{ static void Main() {{\n  var xs = new List<int> {{ 1, 2 }}.Select(x => x * 2);\n" \
           '  if (!xs.SequenceEqual(new[] {{ 2, {} }})) throw new Exception("Assertion failed");\n}} }}'
    own = "using System;\nusing System.Linq;\nusing System.Collections.Generic;\n" + body.format(4)
    broken = "using System;\n\nclass P {\n  static void Main() {\n    int x = \"s\";\n  }\n}"
    jobs = [Job("csharp", body.format(4), tests=""), Job("csharp", body.format(5), tests=""),
            Job("csharp", own, tests=""), Job("csharp", broken)]
    good, bad, dup, err = (r for _, r in sorted(sandbox.run_many(jobs), key=lambda x: x[0]))
    assert good.verdict is Verdict.PASSED, good.to_dict()
    assert bad.verdict is Verdict.FAILED, bad.to_dict()
    assert dup.verdict is Verdict.PASSED, dup.to_dict()
    assert err.verdict is Verdict.COMPILE_ERROR and "main.cs(5," in err.stderr and "CS0105" not in err.stderr


def test_csharp_tuple_equality_unsupported_by_mcs(sandbox: Sandbox) -> None:
    """Documented limitation: mcs implements C# 7.0 tuples but not 7.3's tuple ==, so it is a compile error."""
    r = sandbox.run(Job("csharp", 'class P { static void Main() { System.Console.WriteLine((1, "a") == (1, "a")); } }'))
    assert r.verdict is Verdict.COMPILE_ERROR and "CS0019" in r.stderr, r.to_dict()


def test_typescript_type_errors_are_compile_errors(sandbox: Sandbox) -> None:
    """A full program check as MultiPL-E's `tsc --target esnext`: the type error is named; well-typed
    MBXP (`import * as assert`) and MultiPL-E (`declare var require: any`) programs run."""
    mbxp = "import * as assert from 'assert'\nconst f = function (a: number): number { return a + 1; }\n"
    multipl_e = "function f(a: number): number { return a + 1; }\ndeclare var require: any;\n" \
                "const assert = require('node:assert');\n"
    jobs = [
        Job("typescript", 'const x: number = "not a number";\nconsole.log(x);'),
        Job("typescript", mbxp, 'assert.deepEqual(f(1), 2, "Exception --- test case 0 failed to pass");'),
        Job("typescript", mbxp, 'assert.deepEqual(f(1), 3, "Exception --- test case 0 failed to pass");'),
        Job("typescript", multipl_e, "assert.deepEqual(f(1), 2);"),
        Job("typescript", "const f = (a: number): number => a + 1;", "f('1');"),
    ]
    typed, good, bad, multi, arg = (r for _, r in sorted(sandbox.run_many(jobs), key=lambda x: x[0]))
    assert typed.verdict is Verdict.COMPILE_ERROR and "main.ts(1,7): error TS2322" in typed.stderr, typed.to_dict()
    assert good.verdict is Verdict.PASSED, good.to_dict()
    assert bad.verdict is Verdict.FAILED, bad.to_dict()
    assert multi.verdict is Verdict.PASSED, multi.to_dict()
    assert arg.verdict is Verdict.COMPILE_ERROR and "TS2345" in arg.stderr, arg.to_dict()
    again = sandbox.run(Job("typescript", 'const x: number = "not a number";\nconsole.log(x);'))
    assert again.cached and again.verdict is Verdict.COMPILE_ERROR and "TS2322" in again.stderr
