"""The sandbox under load: many jobs at once, every installed language, hostile programs among them.
Reports jobs/s and every verdict that differs from the expected one, then checks the host: no
process of these sandboxes left, no work dir, the same mount table, no new names in the host's /tmp.

    nice -n 19 .venv/bin/python benchmarks/sandbox_load.py --jobs 2000 --concurrency 8

Each language's passing and failing program runs once first (that also fills the compile cache);
a language whose passing program does not pass there is reported and left out of the load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from xinstruct.sandbox import Job, Limits, Sandbox, Verdict, available_languages

OK_FAIL: dict[str, tuple[str, str]] = {
    "python": ("print('ok')", "import sys\nsys.exit(1)"),
    "javascript": ("console.log('ok');", "process.exit(1);"),
    "typescript": ("const s: string = 'ok';\nconsole.log(s);", "throw new Error('no');"),
    "java": ('public class Main { public static void main(String[] a) { System.out.println("ok"); } }',
             "public class Main { public static void main(String[] a) { System.exit(1); } }"),
    "cpp": ('#include <cstdio>\nint main() { std::puts("ok"); }', "int main() { return 1; }"),
    "c": ('#include <stdio.h>\nint main(void) { puts("ok"); return 0; }', "int main(void) { return 1; }"),
    "csharp": ('using System;\nclass P { static void Main() { Console.WriteLine("ok"); } }',
               "using System;\nclass P { static void Main() { Environment.Exit(1); } }"),
    "go": ('package main\nimport "fmt"\nfunc main() { fmt.Println("ok") }', 'package main\nimport "os"\nfunc main() { os.Exit(1) }'),
    "rust": ('fn main() { println!("ok"); }', "fn main() { std::process::exit(1); }"),
    "php": ('<?php echo "ok\\n";', "<?php exit(1);"),
    "bash": ("echo ok", "exit 1"),
    "ruby": ("puts 'ok'", "exit 1"),
    "perl": ('print "ok\\n";', "exit 1;"),
    "r": ('cat("ok\\n")', "quit(status = 1)"),
    "elixir": ('IO.puts("ok")', "System.halt(1)"),
    "lua": ('print("ok")', "os.exit(1)"),
}
HOSTILE: list[tuple[str, str, str, Limits, Verdict]] = [
    ("fork bomb", "python", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
     Limits(timeout=2, processes=32), Verdict.TIMEOUT),
    ("memory bomb", "python", "x = []\nwhile True:\n    x.append(bytearray(10 << 20))\n", Limits(timeout=8, memory_mb=200),
     Verdict.MEMORY_EXCEEDED),
    ("busy loop", "c", "int main(void) { for (;;); }", Limits(timeout=2), Verdict.TIMEOUT),
    ("output flood", "python", "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n",
     Limits(timeout=5, output_bytes=100_000), Verdict.OUTPUT_LIMIT),
    ("SIGSTOP own group", "python", "import os, signal\nos.killpg(0, signal.SIGSTOP)\n", Limits(timeout=2), Verdict.TIMEOUT),
    ("closed stdout", "bash", "exec 1>&- 2>&-\nsleep 100", Limits(timeout=2), Verdict.TIMEOUT),
    ("detached child", "bash", "setsid sleep 1000 &\necho ok", Limits(timeout=3), Verdict.PASSED),
]


@dataclass(frozen=True)
class Kind:
    name: str
    job: Job
    expected: Verdict


def host_state(root: Path) -> tuple[list[int], list[str], str, frozenset[str]]:
    """Processes whose command line names ``root``, entries under it, mounts, names in /tmp."""
    marker = str(root).encode()
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker in f.read():
                        pids.append(int(name))
            except OSError:
                continue
    with open("/proc/self/mountinfo") as f:
        mounts = f.read()
    return pids, sorted(os.listdir(root)), mounts, frozenset(os.listdir("/tmp"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="xinstruct-load-"))
    root.chmod(0o755)  # the sandbox's unprivileged uid must reach its work dir
    kinds: list[Kind] = []
    left_out: dict[str, str] = {}
    _, _, mounts_before, tmp_before = host_state(root)
    with Sandbox(cache_dir=root.with_name(root.name + "-cache"), workdir_root=root) as sb:
        for lang in available_languages():
            if lang not in OK_FAIL:
                left_out[lang] = "no program here"
                continue
            ok, fail = (Job(lang, code, limits=Limits(timeout=60)) for code in OK_FAIL[lang])
            r = sb.run(ok)
            if r.verdict is not Verdict.PASSED:
                left_out[lang] = f"{r.verdict}: {(r.message or r.stderr)[-120:]!r}"
                continue
            kinds += [Kind(f"{lang} ok", ok, Verdict.PASSED), Kind(f"{lang} exit 1", fail, sb.run(fail).verdict)]
        kinds += [Kind(name, Job(lang, code, limits=limits), expected) for name, lang, code, limits, expected in HOSTILE]
        jobs = [kinds[i % len(kinds)] for i in range(args.jobs)]
        start = time.perf_counter()
        wrong: Counter[str] = Counter()
        verdicts: Counter[str] = Counter()
        for i, result in sb.run_many([k.job for k in jobs], concurrency=args.concurrency):
            verdicts[str(result.verdict)] += 1
            if result.verdict is not jobs[i].expected:
                wrong[f"{jobs[i].name}: {result.verdict} (expected {jobs[i].expected})"] += 1
        wall = time.perf_counter() - start
    deadline = time.monotonic() + 5
    while (state := host_state(root))[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    pids, entries, mounts_after, tmp_after = state
    hostile = sum(1 for k in jobs if k.name in {h[0] for h in HOSTILE})
    print(f"jobs {len(jobs)} ({hostile} hostile) at concurrency {args.concurrency}, {len(kinds)} kinds, "
          f"languages {sorted({k.job.language for k in kinds})}")
    print(f"left out: {left_out or 'none'}")
    print(f"wall {wall:.1f} s, {len(jobs) / wall:.2f} jobs/s")
    print(f"verdicts: {dict(verdicts)}")
    print(f"wrong verdicts: {dict(wrong) or 'none'}")
    print(f"leftover processes: {pids or 'none'}; leftover work dirs: {entries or 'none'}; "
          f"mounts changed: {mounts_after != mounts_before}; new names in /tmp: {sorted(n for n in tmp_after - tmp_before if not n.startswith(root.name)) or 'none'}")
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root.with_name(root.name + "-cache"), ignore_errors=True)


if __name__ == "__main__":
    main()
