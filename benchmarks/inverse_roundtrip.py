"""Inverse-Instruct's claim, measured against hidden tests: does the judge's choice (p(Yes)) write
a better instruction than a random candidate?

Seeds: HumanEval (164) and the free MBPP tasks (in neither MBPP+ nor MultiPL-E's MBPP sets; ids
>= 601 are the ``measure`` slice, ids < 601 the ``tune`` slice, fixed before measuring). The
pipeline sees only the code: the canonical solution with its docstring and comments removed. The
real Inverse-Instruct pipeline writes N candidate instructions per snippet and the model judges
them; then the model writes code from (a) the original task text, (b) the selected instruction and
(c) a random candidate (each told the entry point's name, nothing else), and the seed's hidden tests
run on each in the sandbox. Reported: pass rates, per-task gained/lost and the exact sign test.

    .venv/bin/python benchmarks/inverse_roundtrip.py --out /work/runs/rt --samples 10 \\
        --humaneval 164 --mbpp 150 --data ../shared/benchmarks

Resumable: the inverse run resumes from its run directory; code generation is served from
``OUT/codegen-cache.sqlite``; only the sandbox runs again.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import time
from pathlib import Path
from typing import Any

from _free_mbpp import SLICES, free_ids, in_slice, number
from rich.console import Console
from rich.table import Table

from xinstruct.core.cache import CallCache
from xinstruct.core.fences import fenced_blocks
from xinstruct.core.seeds import derive_seed
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark
from xinstruct.experiment.stats import paired
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.base import GenerateRequest, SamplingParams
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig
from xinstruct.sandbox import Job, Limits, Sandbox

HEADER = "import math\nimport re\nimport string\nimport itertools\nimport collections\nimport heapq\nfrom typing import *\n\n"
CONDITIONS = ("original", "selected", "random", "roundtrip")
"""``selected``: the judge's best p(Yes); ``roundtrip``: ``--select roundtrip``'s choice (with --roundtrip)."""


def code_only(source: str) -> str:
    """The code without docstrings and comments: what a code corpus would give the pipeline."""
    tree = ast.parse(source.expandtabs(4))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def seeds(humaneval: int, mbpp: int, slice_name: str, data: Path | None) -> list[tuple[Task, str]]:
    """(task, original task text) pairs: HumanEval's prompt, MBPP's description."""
    out: list[tuple[Task, str]] = [(t, t.prompt) for t in load_tasks(parse_benchmark("humaneval"), data)[:humaneval]]
    if mbpp:
        from xinstruct.eval.benchmarks import read_jsonl_gz
        from xinstruct.eval.data import locate

        spec = parse_benchmark("mbxp:python")
        desc = {str(r["task_id"]): str(r["description"]) for r in read_jsonl_gz(locate(spec.relpath, data))}
        free = free_ids(data)
        picked = [t for t in load_tasks(spec, data) if number(t.task_id) in free and in_slice(t.task_id, slice_name)]
        out += [(t, desc[t.task_id]) for t in picked[:mbpp]]
    return out


def code_of(answer: str) -> str:
    blocks = [b for b in fenced_blocks(answer) if b.language in (None, "python")]
    return blocks[0].code if blocks else answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/roundtrip"))
    ap.add_argument("--humaneval", type=int, default=164, help="first N HumanEval tasks")
    ap.add_argument("--mbpp", type=int, default=150, help="first N free MBPP tasks of the slice")
    ap.add_argument("--slice", choices=SLICES, default="measure")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--roundtrip", action="store_true", help="also score candidates by round trip (--select roundtrip)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    ap.add_argument("--parallel", type=int, default=8, help="decode slots")
    ap.add_argument("--data", type=Path, default=None, help="benchmark data root (default: XINSTRUCT_DATA)")
    args = ap.parse_args()
    data = args.data  # None: XINSTRUCT_DATA, then the packaged HumanEval (eval/data.py's order)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    problems = seeds(args.humaneval, args.mbpp, args.slice, data)
    corpus = out / "code.jsonl"
    with open(corpus, "w") as fh:
        for task, _ in problems:
            fh.write(json.dumps({"code": code_only(task.prompt + (task.canonical or "")), "language": "python",
                                 "task_id": task.task_id}) + "\n")

    from xinstruct.llm.llamacpp import LlamaCppBackend
    from xinstruct.models import resolve_model

    model = resolve_model(args.model)
    engine = LlamaCppBackend(model, n_threads=args.threads, parallel=args.parallel)
    t0 = time.perf_counter()
    summary = run_inverse(corpus, out / "inverse", InverseConfig(samples=args.samples, max_chars=20000, max_lines=400,
                                                        select="roundtrip" if args.roundtrip else "best"),
                          BackendConfig(), ReaderConfig(), backend=engine)
    t_inverse = time.perf_counter() - t0
    rows = {r["id"]: r for r in map(json.loads, (out / "inverse" / "data.jsonl").read_text().splitlines())}

    llm = CachedBackend(engine, CallCache(out / "codegen-cache.sqlite"))
    requests, meta = [], []
    for i, (task, original) in enumerate(problems):
        row = rows.get(f"{corpus.name}:{i}")
        if row is None:
            continue
        usable = [c for c in row["candidates"] if c["instruction"]]
        rnd = random.Random(derive_seed(0, "roundtrip", task.task_id)).choice(usable)
        judged = max(usable, key=lambda c: c.get("score") or 0.0)
        hint = f"\nName the function `{task.entry_point}`."
        texts = [
            f"Complete the following Python function:\n```python\n{original}\n```" if original.lstrip().startswith(("def", "from", "import"))
            else original + hint,
            judged["instruction"] + hint,
            rnd["instruction"] + hint,
        ]
        if args.roundtrip:
            texts.append(row["instruction"] + hint)  # the run selected by round trip
        for cond, text in zip(CONDITIONS, texts, strict=False):
            requests.append(GenerateRequest(({"role": "user", "content": text},), SamplingParams(max_tokens=512)))
            meta.append((task, cond))
    t1 = time.perf_counter()
    answers = dict(llm.generate(requests))
    t_codegen = time.perf_counter() - t1
    jobs = [Job("python", HEADER + code_of(answers[k].completions[0].text), tests=task.tests, limits=Limits(timeout=10))
            for k, (task, _) in enumerate(meta)]
    t2 = time.perf_counter()
    verdicts = dict(Sandbox().run_many(jobs))
    t_exec = time.perf_counter() - t2
    passed: dict[str, dict[str, float]] = {c: {} for c in CONDITIONS}
    for k, (task, cond) in enumerate(meta):
        passed[cond][task.task_id] = float(verdicts[k].verdict == "passed")
    results: dict[str, Any] = {"model": model.name, "samples": args.samples, "slice": args.slice, "conditions": {}}
    table = Table(title=f"Round trip: HumanEval[:{args.humaneval}] + free MBPP ({args.slice})[:{args.mbpp}], "
                        f"N={args.samples}, {model.name}")
    for col in ("set", "condition", "passed", "pass rate", "vs random: gained/lost", "sign-test p"):
        table.add_column(col)
    for name, prefix in (("HumanEval", "HumanEval/"), ("MBPP", "MBPP/"), ("all", "")):
        for cond in CONDITIONS:
            mine = {t: v for t, v in passed[cond].items() if t.startswith(prefix)}
            rnd = {t: v for t, v in passed["random"].items() if t.startswith(prefix)}
            if not mine:
                continue
            cmp = paired(mine, rnd)
            ok = int(sum(mine.values()))
            results["conditions"][f"{name}/{cond}"] = {"passed": ok, "tasks": len(mine), **cmp.to_dict()}
            table.add_row(name, cond, f"{ok}/{len(mine)}", f"{ok / len(mine):.1%}",
                          "-" if cond == "random" else f"{cmp.gained}/{cmp.lost}",
                          "-" if cond == "random" else f"{cmp.p_value:.3g}")
    Console().print(table)
    results["seconds"] = {"inverse": round(t_inverse), "codegen": round(t_codegen), "sandbox": round(t_exec, 1)}
    results["per_task"] = passed
    (out / "results.json").write_text(json.dumps(results, indent=1))
    Console().print(f"time: inverse {t_inverse:.0f}s ({summary['snippets_per_minute']} snippets/min), "
                    f"code generation {t_codegen:.0f}s, sandbox {t_exec:.1f}s")


if __name__ == "__main__":
    main()
