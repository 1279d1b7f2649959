"""Unit tests of the declarative language table (no toolchain needed)."""

from __future__ import annotations

import re

import pytest

from xinstruct.sandbox import LANGUAGES, get_language
from xinstruct.sandbox.go_testify import GO_TESTIFY
from xinstruct.sandbox.languages import _go_fix_imports, _java_entry

REQUIRED = ["python", "javascript", "typescript", "java", "cpp", "c", "csharp", "go", "rust", "php", "bash",
            "ruby", "perl", "lua", "r", "elixir"]


def test_required_languages_present() -> None:
    assert set(REQUIRED) <= {lang.name for lang in LANGUAGES}


@pytest.mark.parametrize(("alias", "name"), [("py", "python"), ("js", "javascript"), ("ts", "typescript"),
                                             ("c++", "cpp"), ("cs", "csharp"), ("sh", "bash"), ("rb", "ruby"),
                                             ("golang", "go"), ("rs", "rust")])
def test_aliases(alias: str, name: str) -> None:
    lang = get_language(alias)
    assert lang is not None and lang.name == name


def test_unknown_language() -> None:
    assert get_language("brainfuck") is None


def test_every_entry_names_its_packages() -> None:
    for lang in LANGUAGES:
        assert lang.packages, lang.name
        assert lang.memory in ("rlimit", "heap")


def test_java_imports_hoisted_and_main_class_found() -> None:
    files = get_language("java").assemble(  # type: ignore[union-attr]
        "import java.util.*;\nclass Problem { static int f() { return 1; } }",
        "import java.io.*;\npublic class Main { public static void main(String[] a) { } }",
    )
    (name, text), = files.items()
    assert name == "Main.java"
    assert text.index("import java.io.*;") < text.index("class Problem")
    assert "org.javatuples" in text
    assert _java_entry(files) == "Main"
    multipl_e = {"Main.java": "class Problem {\n public static void main(String[] args) {}\n}"}
    assert _java_entry(multipl_e) == "Problem"


def test_go_imports_merged_and_test_mode() -> None:
    files = get_language("go").assemble(  # type: ignore[union-attr]
        'package main\nimport (\n    "math"\n)\nfunc F() float64 { return math.Pi }\n',
        'package main\nimport (\n    "testing"\n    "math"\n    "github.com/stretchr/testify/assert"\n)\n'
        "func TestF(t *testing.T) { assert.New(t).Equal(1, 1) }\n",
    )
    src = files["main_test.go"]
    assert src.count('"math"') == 1 and src.count("package ") == 1
    fixed = _go_fix_imports(files, '# prog\n./main_test.go:5:5: "math" imported and not used\n')
    assert fixed is not None and '"math"' not in fixed["main_test.go"]
    fixed = _go_fix_imports(files, "./main_test.go:9:5: undefined: strings\n")
    assert fixed is not None and 'import "strings"' in fixed["main_test.go"]
    # a missing member of an imported package is the program's error: importing "fmt" twice only adds one
    assert _go_fix_imports(files, "./main_test.go:9:5: undefined: math.Sqrtt\n") is None


def test_rust_unfetchable_crates_stripped() -> None:
    files = get_language("rust").assemble("use rand::Rng;\nuse regex::Regex;\nuse md5;\nfn f() {}", None)  # type: ignore[union-attr]
    assert "rand" not in files["main.rs"] and "regex" not in files["main.rs"] and "fn main" in files["main.rs"]


def test_php_open_tag_once() -> None:
    files = get_language("php").assemble("<?php\nfunction f() { return 1; }\n?>", "<?php\necho f();")  # type: ignore[union-attr]
    assert files["main.php"].count("<?php") == 1 and "?>" not in files["main.php"]


def test_cpp_links_libcrypto_only_when_included() -> None:
    cpp = get_language("cpp")
    assert cpp is not None and cpp.binary == "g++"
    assert "-lcrypto" not in cpp.compile_command({"main.cpp": "#include <cstdio>\nint main() {}"})  # type: ignore[operator]
    assert "-lcrypto" in cpp.compile_command({"main.cpp": "#include <openssl/md5.h>\nint main() {}"})  # type: ignore[operator]


def test_js_stand_in_modules_only_when_required() -> None:
    js = get_language("javascript")
    assert "node_modules/js-md5/index.js" in js.assemble("const md5 = require('js-md5');", None)  # type: ignore[union-attr]
    assert "node_modules/js-md5/index.js" not in js.assemble("console.log(1)", None)  # type: ignore[union-attr]


def test_php_assertions_enabled() -> None:
    """Debian's php.ini compiles assert() out; the run command turns it back on, throwing."""
    run = get_language("php").run  # type: ignore[union-attr]
    assert "zend.assertions=1" in run and "assert.exception=1" in run


def test_csharp_implicit_usings_after_leading_directives() -> None:
    text = get_language("csharp").assemble("#define X\n// c\nclass P { }", None)["main.cs"]  # type: ignore[union-attr]
    lines = text.splitlines()
    assert lines[:2] == ["#define X", "// c"] and "using System.Linq;" in lines and "#line 3" in lines
    assert lines.index("#line 3") == len(lines) - 2 and lines[-1] == "class P { }"


def test_csharp_trace_and_debug_assert_routed() -> None:
    text = get_language("csharp").assemble("Debug.Assert(a);\nSystem.Diagnostics.Trace.Assert(b, \"m\");", None)["main.cs"]  # type: ignore[union-attr]
    assert "XinstructAssert.Assert(a)" in text and 'XinstructAssert.Assert(b, "m")' in text


def test_go_testify_methods_mirror_functions() -> None:
    """Every package-level assertion of the stand-in is also a method of assert.New(t)."""
    funcs = set(re.findall(r"^func ([A-Z]\w*)\(t TestingT", GO_TESTIFY, re.M))
    methods = set(re.findall(r"^func \(a \*Assertions\) (\w+)\(", GO_TESTIFY, re.M))
    assert funcs - {"New"} == methods and {"InDelta", "ElementsMatch", "EqualValues", "Len", "Contains"} <= funcs


def test_typescript_checks_types() -> None:
    files = get_language("typescript").assemble("const x: number = 1;", None)  # type: ignore[union-attr]
    assert "createProgram" in files["_tsc.js"] and "getPreEmitDiagnostics" in files["_tsc.js"]
    assert "declare module 'assert'" in files["_node.d.ts"]
