"""Per-job sandbox overhead (Python, trivial program) and the compile cache's effect, side by side.

Three ways to run the same trivial program, interleaved: a plain subprocess, a sandbox whose
bwrap starts for the job, and a pre-started sandbox (the default); then the pre-started kind
back to back, where the pool has to refill while jobs run.

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
    fresh = Sandbox(use_cache=False, prestart=0)  # bwrap started for each job
    pooled = Sandbox(use_cache=False)  # default: one pre-started sandbox per core
    for sb in (fresh, pooled):
        sb.run(Job("python", TRIVIAL))  # warm caches (toolchain lookup, page cache, the pool)

    def boxed(sb: Sandbox) -> float:
        t = time.perf_counter()
        r = sb.run(Job("python", TRIVIAL))
        assert r.verdict is Verdict.PASSED, r.to_dict()
        return time.perf_counter() - t

    times: dict[str, list[float]] = {"plain": [], "fresh": [], "pooled": []}
    for _ in range(args.repeat):  # interleaved so machine noise hits all alike
        times["plain"].append(bare(TRIVIAL))
        times["fresh"].append(boxed(fresh))
        times["pooled"].append(boxed(pooled))
    burst = [
        boxed(pooled) for _ in range(args.repeat)
    ]  # back to back: the pool must refill in the job's shadow
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    mburst = statistics.median(burst) * 1000
    print(
        f"{'python trivial job (n=' + str(args.repeat) + ')':<40} {'median ms':>10} {'added ms':>9} {'ratio':>6}"
    )
    rows = [
        ("unsandboxed subprocess", med["plain"]),
        ("sandbox, bwrap started per job", med["fresh"]),
        ("sandbox, pre-started (interleaved)", med["pooled"]),
        ("sandbox, pre-started (back to back)", mburst),
    ]
    for name, ms in rows:
        print(f"{name:<40} {ms:>10.1f} {ms - med['plain']:>9.1f} {ms / med['plain']:>5.2f}x")
    fresh.close()
    pooled.close()

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
