"""Round trip: are selected instructions better than random ones at reproducing the code?

For HumanEval canonical solutions, Inverse-Instruct (the real pipeline, N candidates each)
writes instructions; the model then writes code from (a) the original HumanEval prompt, (b) the
best-scored instruction, (c) a random candidate; HumanEval's tests run in the sandbox. The
paper's claim is (b) > (c).

    .venv/bin/python benchmarks/inverse_roundtrip.py --limit 40 --samples 10 --out runs/roundtrip
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from _humaneval import full_solution, load_humaneval
from rich.console import Console
from rich.table import Table

from xinstruct.core.cache import CallCache
from xinstruct.core.fences import fenced_blocks
from xinstruct.core.seeds import derive_seed
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.base import GenerateRequest, SamplingParams
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.factory import BackendConfig
from xinstruct.llm.llamacpp import LlamaCppBackend
from xinstruct.models import resolve_model
from xinstruct.readers import ReaderConfig
from xinstruct.sandbox import Job, Limits, Sandbox

HEADER = "import math\nimport re\nimport string\nimport itertools\nimport collections\nimport heapq\nfrom typing import *\n\n"


def code_of(answer: str) -> str:
    blocks = [b for b in fenced_blocks(answer) if b.language in (None, "python")]
    return blocks[0].code if blocks else answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    ap.add_argument("--out", default="runs/roundtrip")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    problems = load_humaneval(args.data)[: args.limit]
    corpus = out / "humaneval_code.jsonl"
    with open(corpus, "w") as fh:
        for p in problems:
            fh.write(json.dumps({"code": full_solution(p), "language": "python", "task_id": p["task_id"]}) + "\n")

    model = resolve_model(args.model)
    engine = LlamaCppBackend(model, n_threads=args.threads)
    t0 = time.perf_counter()
    summary = run_inverse(corpus, out / "inverse", InverseConfig(samples=args.samples, max_chars=20000, max_lines=400),
                          BackendConfig(), ReaderConfig(), backend=engine)
    t_inverse = time.perf_counter() - t0
    rows = {r["id"]: r for r in map(json.loads, (out / "inverse" / "data.jsonl").read_text().splitlines())}

    llm = CachedBackend(engine, CallCache(out / "codegen-cache.sqlite"))
    conditions = ("original prompt", "selected instruction", "random instruction")
    requests, meta = [], []
    for i, p in enumerate(problems):
        row = rows.get(f"{corpus.name}:{i}")
        if row is None:
            continue
        usable = [c for c in row["candidates"] if c["instruction"]]
        rnd = random.Random(derive_seed(0, "roundtrip", p["task_id"])).choice(usable)
        name_hint = f"\nName the function `{p['entry_point']}`."
        prompts = (
            f"Complete the following Python function:\n```python\n{p['prompt']}\n```",
            row["instruction"] + name_hint,
            rnd["instruction"] + name_hint,
        )
        for cond, text in zip(conditions, prompts, strict=True):
            requests.append(GenerateRequest(({"role": "user", "content": text},), SamplingParams(max_tokens=512)))
            meta.append((p, cond))
    t1 = time.perf_counter()
    answers = dict(llm.generate(requests))
    t_codegen = time.perf_counter() - t1
    jobs = [
        Job("python", HEADER + code_of(answers[k].completions[0].text),
            tests=p["test"] + f"\ncheck({p['entry_point']})\n", limits=Limits(timeout=10))
        for k, (p, _) in enumerate(meta)
    ]
    t2 = time.perf_counter()
    verdicts = dict(Sandbox().run_many(jobs))
    t_exec = time.perf_counter() - t2
    passed = {c: [0, 0] for c in conditions}
    for k, (_, cond) in enumerate(meta):
        passed[cond][1] += 1
        passed[cond][0] += verdicts[k].verdict == "passed"
    table = Table(title=f"Round trip on HumanEval[:{args.limit}], N={args.samples}, {model.name}")
    for col in ("condition", "passed", "pass rate"):
        table.add_column(col)
    for cond, (ok, n) in passed.items():
        table.add_row(cond, f"{ok}/{n}", f"{ok / n:.1%}" if n else "-")
    Console().print(table)
    Console().print(
        f"time: inverse {t_inverse:.0f}s ({summary['snippets_per_minute']} snippets/min), "
        f"code generation {t_codegen:.0f}s, sandbox {t_exec:.1f}s"
    )


if __name__ == "__main__":
    main()
