"""What a program returns for given calls, as comparable text: output capture per language.

Behaviour is compared by running several programs on the same calls and comparing what each call
returned, so each language gets a harness that evaluates every call, turns its value into one
canonical line (lists in order; maps and sets sorted; floats to 9 significant digits; a thrown
exception as ``!Type``) and prints it after a marker. The harness is appended to the program as its
tests, so it runs through the ordinary sandbox path. Equal text means equal behaviour on that call
within what the language's own equality would distinguish (ints and floats of equal value print the
same where the benchmarks' equality treats them as equal: Python, C++, C#, PHP, JavaScript).

The same canonical text serves as the expected value of checks written from agreed outputs
(:func:`checks_from_outputs`): a test compares the canonical text of the call with the agreed one,
so its expected values are right by construction for the behaviour that was agreed on.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xinstruct.core.code_detect import PYTHON_PARSE_FAILURES
from xinstruct.sandbox.jobs import Job, Limits, Result
from xinstruct.sandbox.runner import Sandbox

MARK = "@@XR"
_LINE = re.compile(r"^@@XR(\d+)@@ ?(.*)$", re.M)

# ---------------------------------------------------------------- per-language harness pieces
_PY = r'''
import re as _xr_re


def _xr(v):
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return repr(v)
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else format(v, ".9g")
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_xr(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(_xr(x) for x in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(sorted(_xr(k) + ": " + _xr(x) for k, x in v.items())) + "}"
    if isinstance(v, (set, frozenset)):
        return "set{" + ", ".join(sorted(_xr(x) for x in v)) + "}"
    return _xr_re.sub(r" at 0x[0-9a-fA-F]+", "", repr(v))


def _xr_run(i, thunk):
    try:
        s = _xr(thunk())
    except BaseException as e:  # the call's behaviour, whatever it raised
        s = "!" + type(e).__name__
    print("@@XR%d@@ %s" % (i, s.replace("\n", "\\n")), flush=True)

'''

_JS = r'''
function __xr(v: any): string {
  if (v === undefined) return "undefined";
  if (typeof v === "number") {
    if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
    return String(Number(v.toPrecision(9)));
  }
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || typeof v === "boolean") return String(v);
  if (typeof v === "function") return "<function>";
  if (Array.isArray(v)) return "[" + v.map(__xr).join(", ") + "]";
  if (v instanceof Set) return "set{" + Array.from(v).map(__xr).sort().join(", ") + "}";
  if (v instanceof Map) {
    return "map{" + Array.from(v.entries()).map((e: any) => __xr(e[0]) + ": " + __xr(e[1])).sort().join(", ") + "}";
  }
  return "{" + Object.keys(v).sort().map((k: string) => JSON.stringify(k) + ": " + __xr(v[k])).join(", ") + "}";
}
function __xrRun(i: number, f: () => any): void {
  let s: string;
  try { s = __xr(f()); } catch (e: any) { s = "!" + ((e && e.name) || typeof e); }
  console.log("@@XR" + i + "@@ " + s.replace(/\n/g, "\\n"));
}
'''

_PHP = r'''
function __xr($v) {
    if (is_null($v)) return "null";
    if (is_bool($v)) return $v ? "true" : "false";
    if (is_int($v)) return (string)$v;
    if (is_float($v)) {
        if (is_nan($v) || is_infinite($v)) return (string)$v;
        return (floor($v) == $v && abs($v) < 1e15) ? sprintf("%.0f", $v) : sprintf("%.9g", $v);
    }
    if (is_string($v)) return json_encode($v);
    if (is_array($v)) {
        if (array_keys($v) === range(0, count($v) - 1) || count($v) == 0) {
            return "[" . implode(", ", array_map("__xr", $v)) . "]";
        }
        $parts = [];
        foreach ($v as $k => $x) { $parts[] = __xr($k) . ": " . __xr($x); }
        sort($parts);
        return "{" . implode(", ", $parts) . "}";
    }
    if (is_object($v)) return get_class($v) . json_encode($v);
    return gettype($v);
}
function __xr_run($i, $f) {
    try { $s = __xr($f()); } catch (\Throwable $e) { $s = "!" . get_class($e); }
    echo "@@XR" . $i . "@@ " . str_replace("\n", "\\n", $s) . "\n";
}
'''

_JAVA = r'''
    static String __xr(Object o) {
        if (o == null) return "null";
        if (o instanceof String) return "\"" + o + "\"";
        if (o instanceof Character) return "'" + o + "'";
        if (o instanceof Double || o instanceof Float) {
            double d = ((Number) o).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) return String.valueOf(d);
            if (d == Math.rint(d) && Math.abs(d) < 1e15) return (long) d + ".0";
            return String.format(java.util.Locale.ROOT, "%.9g", d).replaceAll("\\.?0+$", "");
        }
        if (o instanceof Number || o instanceof Boolean) return o.toString();
        if (o.getClass().isArray()) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < java.lang.reflect.Array.getLength(o); i++) {
                if (i > 0) sb.append(", ");
                sb.append(__xr(java.lang.reflect.Array.get(o, i)));
            }
            return sb.append("]").toString();
        }
        if (o instanceof java.util.Map) {
            java.util.List<String> parts = new java.util.ArrayList<>();
            for (java.util.Map.Entry<?, ?> e : ((java.util.Map<?, ?>) o).entrySet()) {
                parts.add(__xr(e.getKey()) + "=" + __xr(e.getValue()));
            }
            java.util.Collections.sort(parts);
            return "{" + String.join(", ", parts) + "}";
        }
        if (o instanceof java.util.Set) {
            java.util.List<String> parts = new java.util.ArrayList<>();
            for (Object x : (java.util.Set<?>) o) parts.add(__xr(x));
            java.util.Collections.sort(parts);
            return "set{" + String.join(", ", parts) + "}";
        }
        if (o instanceof Iterable) {
            java.util.List<String> parts = new java.util.ArrayList<>();
            for (Object x : (Iterable<?>) o) parts.add(__xr(x));
            return "[" + String.join(", ", parts) + "]";
        }
        return o.toString().replaceAll("@[0-9a-f]+$", "");
    }

    static void __xrRun(int i, java.util.concurrent.Callable<Object> f) {
        String s;
        try { s = __xr(f.call()); } catch (Throwable e) { s = "!" + e.getClass().getSimpleName(); }
        System.out.println("@@XR" + i + "@@ " + s.replace("\n", "\\n"));
    }
'''

_CS = r'''
    static string XinstructRepr(object o) {
        if (o == null) return "null";
        if (o is string) return "\"" + o + "\"";
        if (o is char) return "'" + o + "'";
        if (o is bool) return ((bool) o) ? "true" : "false";
        if (o is double || o is float || o is decimal) {
            double d = System.Convert.ToDouble(o);
            if (double.IsNaN(d) || double.IsInfinity(d)) return d.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (d == System.Math.Round(d) && System.Math.Abs(d) < 1e15) return ((long) d).ToString();
            return d.ToString("G9", System.Globalization.CultureInfo.InvariantCulture);
        }
        if (o is System.IConvertible) return System.Convert.ToString(o, System.Globalization.CultureInfo.InvariantCulture);
        if (o is System.Collections.IDictionary) {
            var parts = new System.Collections.Generic.List<string>();
            foreach (System.Collections.DictionaryEntry e in (System.Collections.IDictionary) o) {
                parts.Add(XinstructRepr(e.Key) + ": " + XinstructRepr(e.Value));
            }
            parts.Sort(System.StringComparer.Ordinal);
            return "{" + string.Join(", ", parts) + "}";
        }
        if (o is System.Collections.IEnumerable) {
            var parts = new System.Collections.Generic.List<string>();
            foreach (object x in (System.Collections.IEnumerable) o) parts.Add(XinstructRepr(x));
            var t = o.GetType();
            bool set = t.IsGenericType && t.GetGenericTypeDefinition().Name.Contains("Set");
            if (set) parts.Sort(System.StringComparer.Ordinal);
            return (set ? "set[" : "[") + string.Join(", ", parts) + "]";
        }
        return o.ToString();
    }

    static void XinstructRun(int i, System.Func<object> f) {
        string s;
        try { s = XinstructRepr(f()); } catch (System.Exception e) { s = "!" + e.GetType().Name; }
        System.Console.WriteLine("@@XR" + i + "@@ " + s.Replace("\n", "\\n"));
    }
'''

_CPP = r'''
#include <bits/stdc++.h>
namespace xinstruct_repr {
template <class T, class = void> struct iterable : std::false_type {};
template <class T>
struct iterable<T, std::void_t<decltype(std::begin(std::declval<const T&>()))>> : std::true_type {};
template <class T, class = void> struct hashed : std::false_type {};
template <class T> struct hashed<T, std::void_t<typename T::hasher>> : std::true_type {};
template <class T, class = void> struct tuple_like : std::false_type {};
template <class T> struct tuple_like<T, std::void_t<decltype(std::tuple_size<T>::value)>> : std::true_type {};

template <class T> std::string r(const T& v);
inline std::string r(const std::string& s) { return "\"" + s + "\""; }
inline std::string r(const char* s) { return r(std::string(s)); }
inline std::string r(char c) { return std::string("'") + c + "'"; }
inline std::string r(bool b) { return b ? "true" : "false"; }

template <class T> std::string r(const T& v) {
    if constexpr (std::is_floating_point_v<T>) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
        return buf;
    } else if constexpr (std::is_integral_v<T>) {
        return std::to_string(v);
    } else if constexpr (std::is_same_v<T, std::vector<bool>::reference> ||
                         std::is_same_v<T, std::vector<bool>::const_reference>) {
        return static_cast<bool>(v) ? "true" : "false";
    } else if constexpr (std::is_enum_v<T>) {
        return std::to_string(static_cast<long long>(v));
    } else if constexpr (iterable<T>::value) {
        std::vector<std::string> parts;
        for (const auto& x : v) parts.push_back(r(x));
        if constexpr (hashed<T>::value) std::sort(parts.begin(), parts.end());
        std::string out = "[";
        for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
        return out + "]";
    } else if constexpr (tuple_like<T>::value) {
        std::string out = "(";
        std::apply([&](const auto&... xs) { size_t i = 0; ((out += (i++ ? ", " : "") + r(xs)), ...); }, v);
        return out + ")";
    } else {
        return "<value>";
    }
}

template <class F> void run(int i, F f) {
    std::string s;
    try { s = r(f()); } catch (const std::exception& e) { s = "!exception"; } catch (...) { s = "!exception"; }
    std::string out;
    for (char c : s) out += (c == '\n') ? std::string("\\n") : std::string(1, c);
    std::cout << "@@XR" << i << "@@ " << out << std::endl;
}
}  // namespace xinstruct_repr
'''

_BASH = r'''
__xr_run() {
    local i=$1; shift
    local out rc
    out=$("$@" 2>/dev/null); rc=$?
    out=${out//$'\n'/\\n}
    printf '@@XR%s@@ %s rc=%s\n' "$i" "$out" "$rc"
}
'''


@dataclass(frozen=True)
class Harness:
    """How one language evaluates calls: helper code, one line per call, and how checks are written."""

    prelude: str
    call: str
    """Evaluates call ``{i}`` with code ``{call}`` and prints its canonical value."""
    wrap: str = "{prelude}\n{body}\n"
    """Where the helper and the call lines go (a class with a main for Java/C#/C++)."""
    check: str = ""
    """One check of a written test: the call's canonical text must equal ``{expected}`` (a string literal)."""
    indent: str = ""


HARNESSES: dict[str, Harness] = {
    "python": Harness(_PY, "_xr_run({i}, lambda: {call})",
                      check="assert _xr({call}) == {expected}, {message}"),
    "typescript": Harness(_JS, "__xrRun({i}, () => {call});",
                          check="if (__xr({call}) !== {expected}) {{ throw new Error({message}); }}"),
    "javascript": Harness(_JS.replace(": any", "").replace(": string", "").replace(": number", "")
                          .replace(": () => any", "").replace("): void", ")"),
                          "__xrRun({i}, () => {call});",
                          check="if (__xr({call}) !== {expected}) {{ throw new Error({message}); }}"),
    "php": Harness(_PHP, "__xr_run({i}, function () {{ return {call}; }});",
                   check="if (__xr({call}) !== {expected}) {{ throw new Exception({message}); }}"),
    "java": Harness(_JAVA, "__xrRun({i}, () -> {call});",
                    wrap="public class Main extends Solution {{\n{prelude}\n    public static void main(String[] args) {{\n{body}\n    }}\n}}\n",
                    check="if (!__xr({call}).equals({expected})) {{ throw new AssertionError({message}); }}",
                    indent="        "),
    "csharp": Harness(_CS, "XinstructRun({i}, () => {call});",
                      wrap="class Program : Solution {{\n{prelude}\n    static void Main() {{\n{body}\n    }}\n}}\n",
                      check="if (XinstructRepr({call}) != {expected}) {{ throw new System.Exception({message}); }}",
                      indent="        "),
    "cpp": Harness(_CPP, "xinstruct_repr::run({i}, [&]() {{ return {call}; }});",
                   wrap="{prelude}\nint main() {{\n{body}\n    return 0;\n}}\n",
                   check="if (xinstruct_repr::r({call}) != std::string({expected})) {{ throw std::runtime_error({message}); }}",
                   indent="    "),
    "bash": Harness(_BASH, "__xr_run {i} {call}",
                    check='[ "$(__xr_run 0 {call})" = "@@XR0@@ "{expected} ] || {{ echo {message} >&2; exit 1; }}'),
}


def supported(language: str) -> bool:
    return language in HARNESSES


# ---------------------------------------------------------------- calls
_BASH_UNSAFE = re.compile(r"[|;&<>`]|\$\(")


_COMMENT_STARTS = {"python": ("#",), "bash": ("#",), "php": ("//", "#")}


def _outside_strings(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(index, character) of ``text`` from ``start`` that are not inside a string literal."""
    quote, escaped = None, False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        else:
            yield i, ch


def strip_comment(text: str, language: str) -> str:
    """``text`` without a trailing comment outside string literals (the models annotate calls:
    ``f(2); // Expected output: 4``)."""
    starts = _COMMENT_STARTS.get(language, ("//", "/*"))
    for i, _ in _outside_strings(text):
        if any(text.startswith(s, i) for s in starts) and (language != "bash" or i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def is_value(output: str | None) -> bool:
    """A canonical output a test can check: printed, not an exception (``!Type``) and not an
    opaque object (``<...>``)."""
    return output is not None and not output.startswith(("!", "<"))


def parse_calls(text: str, language: str, name: str, limit: int) -> list[str]:
    """Up to ``limit`` distinct calls of ``name`` the harness can run, one per line of ``text``."""
    calls: list[str] = []
    for line in text.splitlines():
        call = clean_call(line, language, name)
        if call is not None and call not in calls:
            calls.append(call)
    return calls[:limit]


def clean_call(text: str, language: str, name: str) -> str | None:
    """The call of ``name`` a line starts with, which the harness can evaluate, or None. Only the
    call itself is kept (up to its closing parenthesis): the models append what they expect
    (``f(2) == 4``, ``f(2) should return 4``), and a second statement after the call cannot reach
    the harness. Bash: one simple command, no pipes, redirections or substitutions."""
    call = strip_comment(text, language).strip().rstrip(";").strip()
    if language == "bash":
        if not re.match(rf"{re.escape(name)}(\s|$)", call) or _BASH_UNSAFE.search(call):
            return None
        return call
    m = re.match(rf"(?:\w+(?:\.|::))?{re.escape(name)}\s*\(", call)
    close = _closing_paren(call, m.end() - 1) if m else None
    if close is None:
        return None
    call = call[: close + 1]
    if language == "python":
        try:
            tree = ast.parse(call, mode="eval")
        except PYTHON_PARSE_FAILURES:
            return None
        if not isinstance(tree.body, ast.Call):
            return None
    return call


def _closing_paren(text: str, open_at: int) -> int | None:
    """Index of the parenthesis closing the one at ``open_at`` (brackets nested properly, string
    literals skipped), or None when the line is cut off or mismatched."""
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for i, ch in _outside_strings(text, open_at):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return None
            if not stack:
                return i
    return None


def capture_tests(language: str, calls: Sequence[str]) -> str:
    """The harness, appended as ``tests``, that prints each call's canonical value after a marker."""
    h = HARNESSES[language]
    body = "\n".join(h.indent + h.call.format(i=i, call=c) for i, c in enumerate(calls))
    return h.wrap.format(prelude=h.prelude, body=body)


def parse_capture(stdout: str, n: int) -> list[str | None]:
    """Each call's canonical value (None where the program stopped before printing it)."""
    out: list[str | None] = [None] * n
    for m in _LINE.finditer(stdout):
        i = int(m.group(1))
        if 0 <= i < n and out[i] is None:
            out[i] = m.group(2).rstrip("\r")
    return out


# ---------------------------------------------------------------- checks from agreed outputs
def _literal(text: str, language: str) -> str:
    """``text`` as a string literal of ``language``."""
    if language == "python":
        return repr(text)
    if language == "bash":
        return "'" + text.replace("'", "'\\''") + "'"
    if language == "php":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def checks_from_outputs(language: str, calls: Sequence[str], outputs: Sequence[str]) -> str:
    """Tests whose expected values are the agreed canonical outputs: each check fails when the
    call's canonical value differs. Uses the capture helper, which is included."""
    h = HARNESSES[language]
    lines = []
    for n, (call, expected) in enumerate(zip(calls, outputs, strict=True), start=1):
        message = _literal(f"Test failed: check {n}: {call}", language)
        check = h.check.format(call=call, expected=_literal(expected, language), message=message)
        lines.append(h.indent + check)
    return h.wrap.format(prelude=h.prelude, body="\n".join(lines))


# ---------------------------------------------------------------- running
@dataclass
class Capture:
    """One program's behaviour on the calls: canonical outputs per call, the run's verdict, and the
    calls whose output changed between two runs (time, randomness, address-dependent order)."""

    outputs: list[str | None]
    verdict: str
    message: str = ""
    unstable: list[int] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"outputs": self.outputs, "verdict": self.verdict, "message": self.message,
                "unstable": self.unstable or [], "seconds": round(self.seconds, 3)}


def run_capture(sandbox: Sandbox, language: str, programs: Sequence[str], calls: Sequence[str], limits: Limits,
                *, repeats: int = 2, concurrency: int = 2) -> list[Capture]:
    """Each program's canonical outputs on ``calls``, every program run ``repeats`` times in the
    sandbox. A program that does not compile or prints nothing has all outputs None."""
    tests = capture_tests(language, calls)
    jobs = [Job(language=language, code=p, tests=tests, limits=limits) for p in programs for _ in range(repeats)]
    results: dict[int, Result] = dict(sandbox.run_many(jobs, concurrency=concurrency))
    out = []
    for k in range(len(programs)):
        runs = [results[k * repeats + r] for r in range(repeats)]
        parsed = [parse_capture(r.stdout, len(calls)) for r in runs]
        first = parsed[0]
        unstable = [i for i in range(len(calls)) if any(p[i] != first[i] for p in parsed[1:])]
        verdict = runs[0].verdict.value
        if verdict == "failed":  # the harness itself has no checks: a non-zero exit is a crash
            verdict = "runtime_error"
        message = ""
        if verdict != "passed":
            message = runs[0].message or next(iter(runs[0].stderr.strip().splitlines()[-1:]), "")
        out.append(Capture(first, verdict, message[:300], unstable, sum(r.total_seconds for r in runs)))
    return out


def compiling_calls(sandbox: Sandbox, language: str, program: str, calls: Sequence[str], limits: Limits) -> list[str]:
    """The calls that compile with ``program``. In a compiled language one bad call (wrong arity or
    types, which the small models write often) fails the whole harness, so when the calls do not
    compile together each is tried alone and only those that compile are kept."""
    if not calls:
        return []
    together = sandbox.run(Job(language=language, code=program, tests=capture_tests(language, calls), limits=limits))
    if together.verdict.value != "compile_error":
        return list(calls)
    jobs = [Job(language=language, code=program, tests=capture_tests(language, [c]), limits=limits) for c in calls]
    results = dict(sandbox.run_many(jobs, concurrency=2))
    return [c for i, c in enumerate(calls) if results[i].verdict.value != "compile_error"]
