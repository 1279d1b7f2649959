"""The fair experiment's corpus: complete, test-checked Python functions from the free MBPP tasks.

Free tasks (``_free_mbpp.free_ids``) are in neither MBPP+ nor MultiPL-E's MBPP sets, so no
benchmark reported here evaluates them. Each becomes one row: instruction = the MBPP description,
response = the reference function (the MBXP signature and canonical body, the docstring removed:
it repeats the description and holds the test examples). A row is kept only if, in this order,

1. its code parses (``unparsable``),
2. that exact code passes the task's own tests in the real sandbox (``reference_fails``),
3. it shares no 13-word n-gram with HumanEval+, MBPP+ or MultiPL-E (HumanEval and MBPP, Python;
   the other languages' prompts carry the same English) (``benchmark_overlap``),
4. neither its code nor its description repeats an earlier kept row's (``duplicate``).

    XINSTRUCT_DATA=../shared/benchmarks .venv/bin/python benchmarks/free_mbpp_corpus.py --out runs/free_mbpp/corpus.jsonl

Rows carry ``instruction``/``response`` (what ``xinstruct inverse`` reads as the original pair and
extracts the code from), ``messages`` and ``stage: 2`` (what ``xinstruct train sft`` and an
experiment's ``data:`` read as original rows), so the one file is the Inverse-Instruct input of
``configs/experiments/fair_mbpp.yaml`` and the training data of ``mbpp_recipe_sweep.yaml``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _free_mbpp import free_ids, number

from xinstruct.core.runs import write_jsonl_atomic
from xinstruct.data.decontam import Decontaminator
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark, read_jsonl_gz
from xinstruct.eval.data import locate
from xinstruct.sandbox import Job, Limits, Sandbox

DECONTAMINATE = ("humaneval+", "mbpp+", "multipl-e:python", "multipl-e-mbpp:python")
REASONS = ("unparsable", "reference_fails", "benchmark_overlap", "duplicate")


@dataclass
class Corpus:
    rows: list[dict[str, Any]]
    free: int
    """Free ids considered."""
    dropped: Counter[str]
    examples: dict[str, list[str]]
    """Reason -> the first few task ids dropped for it."""


def reference_code(task: Task) -> str:
    """Signature + canonical body with the function's docstring lines cut out (comments and layout kept).

    Raises SyntaxError when prompt + canonical does not parse."""
    source = (task.prompt + (task.canonical or "")).expandtabs(4)
    tree = ast.parse(source)
    lines = source.splitlines()
    cut: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                if len(node.body) == 1:
                    raise SyntaxError(f"{task.task_id}: the function has no body besides its docstring")
                cut.update(range(first.lineno - 1, first.end_lineno or first.lineno))
    code = "\n".join(line.rstrip() for i, line in enumerate(lines) if i not in cut).strip("\n")
    ast.parse(code)  # what is shipped must parse too
    return code


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def build_corpus(data: Path | None, ids: Sequence[int] | None = None, *, sandbox: Sandbox | None = None,
                 timeout: float = 10.0) -> Corpus:
    """The kept rows and the drops by reason, for the free ids (or the given subset of them)."""
    free = free_ids(data)
    wanted = free if ids is None else free & set(ids)
    spec = parse_benchmark("mbxp:python")
    descriptions = {str(r["task_id"]): str(r["description"]) for r in read_jsonl_gz(locate(spec.relpath, data))}
    tasks = [t for t in load_tasks(spec, data) if number(t.task_id) in wanted]
    dropped: Counter[str] = Counter()
    examples: dict[str, list[str]] = {r: [] for r in REASONS}

    def drop(task: Task, reason: str) -> None:
        dropped[reason] += 1
        if len(examples[reason]) < 10:
            examples[reason].append(task.task_id)

    parsed: list[tuple[Task, str]] = []
    for task in tasks:
        try:
            parsed.append((task, reference_code(task)))
        except SyntaxError:
            drop(task, "unparsable")
    sandbox = sandbox or Sandbox()
    jobs = [Job("python", code, tests=task.tests, limits=Limits(timeout=timeout)) for task, code in parsed]
    verdicts = dict(sandbox.run_many(jobs))
    dec = Decontaminator.from_benchmarks(DECONTAMINATE, data)
    rows: list[dict[str, Any]] = []
    seen_code: set[str] = set()
    seen_text: set[str] = set()
    for i, (task, code) in enumerate(parsed):
        instruction = descriptions[task.task_id].strip()
        if not verdicts[i].passed:
            drop(task, "reference_fails")
        elif dec.overlaps(instruction + "\n" + code):
            drop(task, "benchmark_overlap")
        elif _norm(code) in seen_code or _norm(instruction) in seen_text:
            drop(task, "duplicate")
        else:
            seen_code.add(_norm(code))
            seen_text.add(_norm(instruction))
            response = f"```python\n{code}\n```"
            rows.append({
                "id": task.task_id, "instruction": instruction, "response": response, "language": "python",
                "entry_point": task.entry_point, "source": "mbpp-free", "stage": 2,
                "messages": [{"role": "user", "content": instruction}, {"role": "assistant", "content": response}],
            })
    return Corpus(rows, len(wanted), dropped, examples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="corpus JSONL to write")
    ap.add_argument("--data", type=Path, default=None, help="benchmark data root (default: XINSTRUCT_DATA)")
    ap.add_argument("--ids", default=None, help="comma-separated MBPP ids (default: every free id)")
    ap.add_argument("--timeout", type=float, default=10.0, help="sandbox seconds per reference")
    args = ap.parse_args()
    ids = [int(x) for x in args.ids.split(",")] if args.ids else None
    started = time.perf_counter()
    corpus = build_corpus(args.data, ids, timeout=args.timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(args.out, corpus.rows)
    seconds = time.perf_counter() - started
    print(f"free MBPP ids: {corpus.free}; kept {len(corpus.rows)} -> {args.out} ({seconds:.0f} s)")
    print("| dropped because | rows | first ids |\n| --- | ---: | --- |")
    for reason in REASONS:
        print(f"| {reason} | {corpus.dropped[reason]} | {', '.join(corpus.examples[reason])} |")
    if corpus.rows:
        inst = sum(len(r["instruction"]) for r in corpus.rows) / len(corpus.rows)
        resp = sum(len(r["response"]) for r in corpus.rows) / len(corpus.rows)
        print(f"mean instruction {inst:.0f} chars, mean response {resp:.0f} chars")
    print(json.dumps({"free": corpus.free, "kept": len(corpus.rows), "dropped": dict(corpus.dropped)}))


if __name__ == "__main__":
    main()
