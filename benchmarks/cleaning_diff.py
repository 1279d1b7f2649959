"""What a change to the cleaning rules changes: two source trees' ``clean_instruction`` side by side.

On the candidates of an Inverse-Instruct run (rebuilt as the pipeline does: prefix + reply up to
the fence) and on human-written instructions (a JSON/JSON.GZ list of rows with an ``instruction``
field), which must not change. Rules are written from the tune slice's runs only.

    .venv/bin/python benchmarks/cleaning_diff.py --old /work/old/src --new src \\
        --run /work/runs/rt-tune-new/inverse --human ../shared/corpora/evol-instruct-code-2k.json.gz -v
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def load(src: Path, name: str) -> ModuleType:
    """``core/instructions.py`` of one tree (it imports nothing of the package)."""
    spec = importlib.util.spec_from_file_location(name, src / "xinstruct" / "core" / "instructions.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: no xinstruct/core/instructions.py under {src}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def outcome(module: ModuleType, text: str) -> tuple[Any, ...]:
    c = module.clean_instruction(text)
    return c.text, c.reason, c.rule, c.edits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="src/ of the tree before the change")
    ap.add_argument("--new", type=Path, default=Path("src"))
    ap.add_argument("--run", type=Path, action="append", default=[], help="an inverse run directory (repeatable)")
    ap.add_argument("--human", type=Path, default=None, help="human instructions: JSON list of rows with 'instruction'")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every changed text")
    args = ap.parse_args()
    old, new = load(args.old, "_old_instructions"), load(args.new, "_new_instructions")
    for run in args.run:
        n = changed = selected = 0
        for shard in sorted((run / "shards").glob("results-*.jsonl")):
            for line in shard.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                for i, cand in enumerate(row.get("candidates") or []):
                    text = (cand.get("prefix") or "") + (cand.get("raw") or "").split("```")[0]
                    a, b = outcome(old, text), outcome(new, text)
                    n += 1
                    if a[:2] != b[:2]:
                        changed += 1
                        selected += i in (row.get("selected") or [])
                        if args.verbose:
                            print(f"--- {row['id']} candidate {i}{' (selected)' if i in (row.get('selected') or []) else ''}: {b[3]}")
                            print(f"old: {a[0]!r}\nnew: {b[0]!r}")
        print(f"{run}: {n} candidates, {changed} changed, {selected} of them selected")
    if args.human:
        opener = gzip.open if args.human.suffix == ".gz" else open
        with opener(args.human, "rt", encoding="utf-8") as f:
            rows = json.load(f)
        diff = [r["instruction"] for r in rows if outcome(old, r["instruction"]) != outcome(new, r["instruction"])]
        for text in diff if args.verbose else []:
            print(f"--- human: {text[:300]!r}")
        print(f"{args.human}: {len(rows)} human instructions, {len(diff)} with another outcome (text, reason, rule, edits)")


if __name__ == "__main__":
    main()
