"""Per-job sandbox overhead (Python, trivial program) and the compile cache's effect, side by side.

python benchmarks/sandbox_overhead.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time

from xinstruct.sandbox import Job, Sandbox, Verdict

TRIVIAL = "print(sum(range(10)))\n"
COMPILED = {
    "cpp": '#include <cstdio>\nint main() { printf("%d\\n", 45); }',
    "java": "public class Main { public static void main(String[] a) { System.out.println(45); } }",
    "rust": 'fn main() { println!("{}", 45); }',
    "go": 'package main\nimport "fmt"\nfunc main() { fmt.Println(45) }',
    "csharp": "class P { static void Main() { System.Console.WriteLine(45); } }",
    "typescript": "const x: number = 45; console.log(x);",
}


def bare(code: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write(code)
        f.flush()
        t = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-B", f.name], capture_output=True, check=True)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    sb = Sandbox(use_cache=False)
    sb.run(Job("python", TRIVIAL))  # warm caches (toolchain lookup, page cache)
    plain, boxed = [], []
    for _ in range(args.repeat):  # interleaved so machine noise hits both alike
        plain.append(bare(TRIVIAL))
        t = time.perf_counter()
        r = sb.run(Job("python", TRIVIAL))
        boxed.append(time.perf_counter() - t)
        assert r.verdict is Verdict.PASSED, r.to_dict()
    mp, mb = statistics.median(plain) * 1000, statistics.median(boxed) * 1000
    print(f"{'python trivial job':<28} {'median ms':>10}")
    print(f"{'unsandboxed subprocess':<28} {mp:>10.1f}")
    print(f"{'sandboxed (bwrap+prlimit)':<28} {mb:>10.1f}")
    print(f"{'added per job':<28} {mb - mp:>10.1f}   (ratio {mb / mp:.2f}x, n={args.repeat})")

    print(f"\n{'compile cache':<12} {'1st run s':>10} {'compile s':>10} {'2nd run s':>10} {'speed-up':>9}")
    with tempfile.TemporaryDirectory() as cache:
        cached = Sandbox(cache_dir=cache)
        for lang, code in COMPILED.items():
            first = cached.run(Job(lang, code))
            second = cached.run(Job(lang, code))
            ok = first.verdict is second.verdict is Verdict.PASSED and second.cached
            print(
                f"{lang:<12} {first.total_seconds:>10.3f} {first.compile_seconds:>10.3f} "
                f"{second.total_seconds:>10.3f} {first.total_seconds / second.total_seconds:>8.1f}x"
                f"{'' if ok else '  (!) ' + second.verdict.value}"
            )


if __name__ == "__main__":
    main()
