"""The end-to-end loop on the embedded model: Inverse-Instruct -> two-stage LoRA SFT -> export ->
evaluation of the base and the fine-tuned model through the same export path, with the wall time
of every phase.

    XINSTRUCT_DATA=../shared/benchmarks python benchmarks/e2e_inverse_sft.py --out runs/e2e \
        --corpus ../shared/corpora/evol-instruct-code-2k.json.gz --limit 128

Each phase is one ``xinstruct`` command (each resumable on its own); a finished phase is recorded
in ``OUT/phases.json`` with its wall time and not run again, so rerunning the script after a crash
continues where it stopped. The baseline is *not* the published Q4_K_M file but the base model
exported by the same route as the fine-tuned one (dequantized -> F16 GGUF -> ``--quantize``), so the
comparison isolates training from re-quantization.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

XI = [sys.executable, "-m", "xinstruct"]


def run_phase(out: Path, name: str, argv: list[str], console: Console) -> float:
    """Run one phase unless ``phases.json`` says it finished; return its wall seconds."""
    state_file = out / "phases.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if name in state:
        console.print(f"[dim]{name}: done before ({state[name]['seconds']:.0f} s)[/]")
        return state[name]["seconds"]
    console.rule(name)
    console.print(" ".join(argv))
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    seconds = time.perf_counter() - started
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    state[name] = {"seconds": round(seconds, 1), "argv": argv}
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    return seconds


def per_task(run: Path) -> dict[tuple[str, str], bool]:
    """(benchmark, task id) -> passed, from an eval run's result shards."""
    out = {}
    for shard in sorted((run / "shards").glob("results-*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[(row["benchmark"], row["task_id"])] = bool(row["passed"])
    return out


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact sign (McNemar) test on the tasks that changed: p-value under 'no effect'."""
    n, k = gained + lost, min(gained, lost)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="../shared/corpora/evol-instruct-code-2k.json.gz")
    ap.add_argument("--out", type=Path, default=Path("runs/e2e"))
    ap.add_argument("--limit", type=int, default=128, help="snippets for Inverse-Instruct")
    ap.add_argument("--samples", type=int, default=4, help="candidate instructions per snippet (paper: 10)")
    ap.add_argument("--max-length", type=int, default=512, help="training sequence length (longer rows dropped)")
    ap.add_argument("--quantize", default="q8_0", help="GGUF type both models are evaluated in")
    ap.add_argument("--benchmark", action="append", default=None,
                    help="benchmarks run in full before and after (default: humaneval+)")
    ap.add_argument("--multipl-e", default="java,cpp,javascript", help="MultiPL-E languages (first --multipl-e-limit tasks)")
    ap.add_argument("--multipl-e-limit", type=int, default=20)
    ap.add_argument("--phases", default="inverse,train,export,eval",
                    help="comma-separated subset of inverse,train,export,eval")
    args = ap.parse_args()

    console = Console(stderr=True)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    phases = set(args.phases.split(","))
    suites = {"full": (args.benchmark or ["humaneval+"], None)}
    if args.multipl_e:
        suites["mple"] = ([f"multipl-e:{lang}" for lang in args.multipl_e.split(",")], args.multipl_e_limit)
    inverse_dir, sft_dir = out / "inverse", out / "sft"
    models = {"base": out / f"base-{args.quantize}.gguf", "sft": out / f"sft-{args.quantize}.gguf"}

    evaluated = [b for benchmarks, _ in suites.values() for b in benchmarks]
    if "inverse" in phases:
        # corpus rows that share a 13-word n-gram with anything evaluated below never reach training
        run_phase(out, "inverse", [*XI, "inverse", args.corpus, "--out", str(inverse_dir), "--samples",
                                   str(args.samples), "--max-tokens", "128", "--limit", str(args.limit),
                                   "--with-original", "--decontaminate", ",".join(evaluated)], console)
    if "train" in phases:
        run_phase(out, "train", [*XI, "train", "sft", str(inverse_dir / "train_two_stage.jsonl"), "--out", str(sft_dir),
                                 "--max-length", str(args.max_length), "--batch-size", "4", "--grad-accum", "2"],
                  console)
    if "export" in phases:
        run_phase(out, "export-sft", [*XI, "train", "export", str(sft_dir), "--gguf", str(models["sft"]),
                                      "--quantize", args.quantize], console)
        run_phase(out, "export-base", [*XI, "train", "export", str(sft_dir), "--base-only", "--gguf",
                                       str(models["base"]), "--quantize", args.quantize], console)
    if "eval" in phases:
        for suite, (benchmarks, limit) in suites.items():
            flags = [flag for b in benchmarks for flag in ("--benchmark", b)]
            flags += ["--limit", str(limit)] if limit else []
            for name, gguf in models.items():
                run_phase(out, f"eval-{suite}-{name}", [*XI, "eval", *flags, "--model", str(gguf), "--parallel", "8",
                                                        "--out", str(out / f"eval-{suite}-{name}")], console)

    state = json.loads((out / "phases.json").read_text())
    table = Table(title="phases (wall time)")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for name, row in state.items():
        table.add_row(name, f"{row['seconds']:.0f}")
    Console().print(table)
    rows = {}
    for suite in suites:
        for name in models:
            summary = out / f"eval-{suite}-{name}" / "summary.json"
            if summary.exists():
                for row in json.loads(summary.read_text())["benchmarks"]:
                    rows.setdefault(row["benchmark"], {})[name] = row
    if rows:
        verdicts = {name: {} for name in models}
        for suite in suites:
            for name in models:
                if (out / f"eval-{suite}-{name}").exists():
                    verdicts[name].update(per_task(out / f"eval-{suite}-{name}"))
        table = Table(title="pass@1 before (base, same export) vs after (two-stage LoRA)")
        for col in ("benchmark", "tasks", "base", "sft", "delta", "gained", "lost", "sign test p"):
            table.add_column(col)
        for bench, pair in rows.items():
            base, sft = pair.get("base", {}).get("pass@1"), pair.get("sft", {}).get("pass@1")
            delta = f"{sft - base:+.1f}" if base is not None and sft is not None else ""
            tasks = next(iter(pair.values()))["tasks"]
            both = [k for k in verdicts["base"] if k[0] == bench and k in verdicts["sft"]]
            gained = sum(verdicts["sft"][k] and not verdicts["base"][k] for k in both)
            lost = sum(verdicts["base"][k] and not verdicts["sft"][k] for k in both)
            table.add_row(bench, str(tasks), f"{base}", f"{sft}", delta, str(gained), str(lost),
                          f"{sign_test(gained, lost):.2f}")
        Console().print(table)


if __name__ == "__main__":
    main()
