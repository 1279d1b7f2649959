"""HumanEval+ canonical solutions on base+plus inputs: jobs/s sandboxed vs evalplus-style bare subprocesses.

    python benchmarks/sandbox_throughput.py --data /work/shared/benchmarks [--limit N] [--concurrency C]

Each job runs one task's canonical solution over all its base and plus inputs (what evalplus does
to produce ground truth). The bare side runs the same file with /usr/bin/python3 in a subprocess
with a timeout, as evalplus's unsandboxed executor does, with the same concurrency.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xinstruct.sandbox import Job, Limits, Sandbox, Verdict


def programs(data: Path, limit: int) -> list[str]:
    out = []
    with gzip.open(data / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz", "rt") as f:
        for line in f:
            t = json.loads(line)
            inputs = t["base_input"] + t["plus_input"]
            out.append(
                t["prompt"] + t["canonical_solution"]
                + f"\nimport copy, json\n_inputs = json.loads({json.dumps(json.dumps(inputs))})\n"
                + f"for _args in _inputs:\n    {t['entry_point']}(*copy.deepcopy(_args))\n"
            )
            if limit and len(out) >= limit:
                break
    return out


def bare(code: str, timeout: float) -> bool:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "main.py"
        p.write_text(code)
        try:
            return subprocess.run(["/usr/bin/python3", "-B", str(p)], capture_output=True, timeout=timeout,
                                  cwd=d).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=os.environ.get("XINSTRUCT_DATA", "../shared/benchmarks"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=os.cpu_count())
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    codes = programs(Path(args.data), args.limit)
    rows = []
    for mode in ("bare", "sandbox", "bare", "sandbox"):  # twice, alternating, against drift
        t = time.perf_counter()
        if mode == "bare":
            with ThreadPoolExecutor(args.concurrency) as pool:
                ok = sum(pool.map(lambda c: bare(c, args.timeout), codes))
        else:
            jobs = [Job("python", c, limits=Limits(timeout=args.timeout, memory_mb=2048)) for c in codes]
            ok = sum(r.verdict is Verdict.PASSED for _, r in Sandbox().run_many(jobs, args.concurrency))
        rows.append((mode, len(codes), ok, time.perf_counter() - t))
    print(f"{'mode':<10} {'jobs':>5} {'passed':>7} {'seconds':>8} {'jobs/s':>7}")
    for mode, n, ok, s in rows:
        print(f"{mode:<10} {n:>5} {ok:>7} {s:>8.1f} {n / s:>7.1f}")
    b = sum(s for m, _, _, s in rows if m == "bare")
    s = sum(s for m, _, _, s in rows if m == "sandbox")
    print(f"sandbox/bare time ratio: {s / b:.2f} (concurrency {args.concurrency})")


if __name__ == "__main__":
    main()
