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

Writes ``OUT/yardstick.json`` (schema in ``xinstruct.inverse.yardstick``) and a copy in the inverse
run directory, where ``xinstruct report`` finds it; ``--report`` prints its tables again without the
model. ``--inverse-only`` stops after the inverse run (to read candidates on the tune slice);
``--judge-layout code-first`` runs the judge with the code before the instruction. ``--writer MODEL``
has another model write the code from the instructions (the selections stay the embedded model's):
a reader that is not the one the round-trip selector consulted; its tables go to
``OUT/yardstick-<writer>.json`` (``--report --writer MODEL`` prints them).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from _free_mbpp import SLICES, free_ids, in_slice, number
from rich.console import Console
from rich.table import Table

from xinstruct.core.cache import CallCache
from xinstruct.core.code_analysis import sanitize_python
from xinstruct.core.fences import fenced_blocks
from xinstruct.core.seeds import derive_seed
from xinstruct.core.tables import table_console
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark
from xinstruct.eval.extract import pick_code
from xinstruct.inverse import yardstick
from xinstruct.inverse.config import JUDGE_LAYOUTS, InverseConfig
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


def code_of(answer: str, entry_point: str | None = None, *, sanitize: bool = True) -> str:
    """The code the hidden tests run on: the answer's block, sanitized as the eval does (imports, defs,
    classes, constants). Unsanitized, a correct function fails whenever the model's own top-level
    ``check_solution()`` asserts a wrong expected value (HumanEval/0, 4, 15 of the 2026-12-07 run)."""
    if not sanitize:  # the harness before 2026-12-07: the first python block, as written
        blocks = [b for b in fenced_blocks(answer) if b.language in (None, "python")]
        return blocks[0].code if blocks else answer
    return sanitize_python(pick_code(answer, "python", entry_point), entry_point)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/roundtrip"))
    ap.add_argument("--humaneval", type=int, default=164, help="first N HumanEval tasks")
    ap.add_argument("--mbpp", type=int, default=150, help="first N free MBPP tasks of the slice")
    ap.add_argument("--slice", choices=SLICES, default="measure")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--roundtrip", action="store_true", help="also score candidates by round trip (--select roundtrip)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--writer", default=None, help="model that writes code from the instructions (default: --model)")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    ap.add_argument("--parallel", type=int, default=8, help="decode slots")
    ap.add_argument("--data", type=Path, default=None, help="benchmark data root (default: XINSTRUCT_DATA)")
    ap.add_argument("--judge-layout", choices=JUDGE_LAYOUTS, default="paper", help="InverseConfig.judge_layout")
    ap.add_argument("--inverse-dir", type=Path, default=None, help="the inverse run directory (default: OUT/inverse)")
    ap.add_argument("--inverse-only", action="store_true", help="stop after the inverse run (no code generation)")
    ap.add_argument("--raw-code", action="store_true",
                    help="test the answer's first block as written (the harness before 2026-12-07), not sanitized")
    ap.add_argument("--report", action="store_true", help="print the tables of OUT/yardstick.json (no model) and stop")
    args = ap.parse_args()
    name = "yardstick.json" if args.writer is None else f"yardstick-{Path(args.writer).stem}.json"
    if args.report:
        print_tables(yardstick.read(args.out / name))
        return
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
    inverse_dir = args.inverse_dir or out / "inverse"
    summary = run_inverse(corpus, inverse_dir, InverseConfig(samples=args.samples, max_chars=20000, max_lines=400,
                                                      select="roundtrip" if args.roundtrip else "best",
                                                      judge_layout=args.judge_layout),
                          BackendConfig(), ReaderConfig(), backend=engine)
    t_inverse = time.perf_counter() - t0
    if args.inverse_only:
        Console().print(f"inverse run {inverse_dir}: {t_inverse:.0f}s ({summary['snippets_per_minute']} snippets/min)")
        return
    rows = {r["id"]: r for r in map(json.loads, (inverse_dir / "data.jsonl").read_text().splitlines())}
    writer = model
    if args.writer is not None:
        engine.close()
        writer = resolve_model(args.writer)
        engine = LlamaCppBackend(writer, n_threads=args.threads, parallel=args.parallel)

    llm = CachedBackend(engine, CallCache(out / "codegen-cache.sqlite"))  # keys carry the model's identity
    requests, meta = [], []
    choices: dict[str, dict[str, Any]] = {}  # the round-trip agreement of each condition's choice (--roundtrip)
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
            chosen = row["candidates"][row["selected_index"]]
            choices[task.task_id] = {"selected": judged.get("roundtrip"), "random": rnd.get("roundtrip"),
                                     "roundtrip": chosen.get("roundtrip"),
                                     "fallback": all(c.get("roundtrip") is None for c in usable),
                                     "perfect_candidates": sum(1 for c in usable if c.get("roundtrip") == 1.0),
                                     "usable": len(usable)}
        for cond, text in zip(CONDITIONS, texts, strict=False):
            requests.append(GenerateRequest(({"role": "user", "content": text},), SamplingParams(max_tokens=512)))
            meta.append((task, cond))
    t1 = time.perf_counter()
    answers = dict(llm.generate(requests))
    t_codegen = time.perf_counter() - t1
    jobs = [Job("python", HEADER + code_of(answers[k].completions[0].text, task.entry_point, sanitize=not args.raw_code),
                tests=task.tests, limits=Limits(timeout=10))
            for k, (task, _) in enumerate(meta)]
    t2 = time.perf_counter()
    verdicts = dict(Sandbox().run_many(jobs))
    t_exec = time.perf_counter() - t2
    passed: dict[str, dict[str, bool]] = {c: {} for c in CONDITIONS[: 3 + args.roundtrip]}
    for k, (task, cond) in enumerate(meta):
        passed[cond][task.task_id] = verdicts[k].verdict == "passed"
    result = yardstick.build(passed, argv=sys.argv, samples=args.samples, slice_name=args.slice)
    if choices:
        result["choice_roundtrip"] = choices  # beside the schema: read by print_tables
    result["model"] = model.name
    result["writer"] = writer.name
    result["seconds"] = {"inverse": round(t_inverse), "codegen": round(t_codegen), "sandbox": round(t_exec, 1)}
    # the run directory gets a copy so that `xinstruct report <inverse dir>` finds it
    yardstick.write([out / name, *([inverse_dir / name] if args.writer is None else [])], result)
    print_tables(result)
    Console().print(f"time: inverse {t_inverse:.0f}s ({summary['snippets_per_minute']} snippets/min), "
                    f"code generation {t_codegen:.0f}s, sandbox {t_exec:.1f}s; wrote {out / name}")


def print_tables(result: dict[str, Any]) -> None:
    """Pass rate per condition and each contrast's 2x2 cells with the sign test, per seed set and pooled."""
    seeds = result["seeds"]
    console = table_console()
    title = (f"Round trip: HumanEval {seeds['humaneval']} + free MBPP ({result['slice']}) {seeds['mbpp']}, "
             f"N={result['samples']}, {result.get('model', '?')}"
             + (f", code written by {result['writer']}" if result.get("writer", result.get("model")) != result.get("model") else ""))
    passed = Table(title=title)
    for col in ("set", "condition", "passed", "pass rate"):
        passed.add_column(col)
    contrasts = Table(title="Paired contrasts (a vs b on the same tasks; exact sign test on only_a vs only_b)")
    for col in ("set", "a", "b", "both", "only a", "only b", "neither", "a - b", "sign-test p"):
        contrasts.add_column(col)
    sets = [(name, yardstick.subset(result, source)) for name, source in (("HumanEval", "humaneval"), ("MBPP", "mbpp"))
            if seeds[source]]
    for name, part in [*sets, ("all", result)] if len(sets) > 1 else sets:
        for cond, c in part["conditions"].items():
            passed.add_row(name, cond, f"{c['passed']}/{c['total']}", f"{c['passed'] / c['total']:.1%}")
        for x in part["contrasts"]:
            total = x["both"] + x["only_a"] + x["only_b"] + x["neither"]
            contrasts.add_row(name, x["a"], x["b"], str(x["both"]), str(x["only_a"]), str(x["only_b"]), str(x["neither"]),
                              f"{(x['only_a'] - x['only_b']) / total:+.1%}", f"{x['p']:.3g}")
    console.print(passed)
    console.print(contrasts)
    if result.get("choice_roundtrip"):
        console.print(choice_table(result))
    console.print(f"command: {result['command']}")

def choice_table(result: dict[str, Any]) -> Table:
    """Each condition's pass rate by the round-trip agreement of the candidate it chose: does agreement on
    the model's own calls predict the hidden tests?"""
    choices, per_task = result["choice_roundtrip"], {r["task_id"]: r for r in result["per_task"]}
    table = Table(title="Hidden-test pass rate by the round-trip agreement of the chosen candidate "
                        f"({sum(1 for c in choices.values() if c['fallback'])} snippets fell back to p(Yes))")
    for col in ("condition", "agreement 1.0", "0 < agreement < 1", "agreement 0", "not scored", "mean agreement"):
        table.add_column(col)
    buckets = (lambda x: x == 1.0, lambda x: x is not None and 0 < x < 1, lambda x: x == 0, lambda x: x is None)
    for cond in ("selected", "random", "roundtrip"):
        cells = []
        for test in buckets:
            ids = [t for t, c in choices.items() if t in per_task and test(c[cond])]
            won = sum(per_task[t][cond] for t in ids)
            cells.append(f"{won}/{len(ids)}" + (f" ({won / len(ids):.0%})" if ids else ""))
        scored = [c[cond] for c in choices.values() if c[cond] is not None]
        table.add_row(cond, *cells, f"{sum(scored) / len(scored):.3f}" if scored else "-")
    return table


if __name__ == "__main__":
    main()
