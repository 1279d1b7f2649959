"""Choose the fair experiment's training recipe from a finished sweep, by a rule fixed in advance.

The sweep (``configs/experiments/mbpp_recipe_sweep.yaml``) trains the "original only" arm with one
setting changed at a time and evaluates every arm and the base on a slice that is not the reported
benchmark (MBPP+[:200]). The rule, stated in that config's header before it runs:

1. an arm qualifies if its pass@1 on the slice is at least the base's minus ``--harm`` (2) points;
2. among those: the highest pass@1, then the lower mean NLL of the slice's canonical solutions, then
   fewer steps, then the lower learning rate;
3. if none qualifies, the best pass@1 is printed with a warning and ``--apply`` refuses.

    .venv/bin/python benchmarks/choose_recipe.py runs/mbpp-sweep --apply configs/experiments/fair_mbpp.yaml

``--apply`` rewrites the block between ``# recipe: begin`` and ``# recipe: end`` of the named config
(comments elsewhere kept), so the fair experiment runs the chosen settings as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from xinstruct.core.config import build_config
from xinstruct.experiment.config import BASE_ARM, ExperimentConfig

BEGIN, END = "# recipe: begin", "# recipe: end"


def candidates(sweep: Path, benchmark: str | None = None) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(benchmark, one row per trained arm with its settings and scores, the base's row)."""
    report = json.loads((sweep / "report.json").read_text(encoding="utf-8"))
    cfg = build_config(ExperimentConfig, json.loads((sweep / "config.json").read_text(encoding="utf-8")))
    if "humaneval+" in cfg.benchmarks:
        raise SystemExit(f"{sweep}: the sweep evaluated HumanEval+, the reported benchmark; a recipe chosen on it "
                         "would not be fair")
    bench = benchmark or cfg.benchmarks[0]
    b = report["benchmarks"][bench]
    against_base = {c["a"]: c for c in b["contrasts"] if c["b"] == BASE_ARM}
    rows = []
    for name, arm in cfg.arm_configs().items():
        if arm.weights_of is not None:
            continue
        train = cfg.train_config(name)
        r = b["arms"][name]
        rows.append({"arm": name, "learning_rate": train.learning_rate, "max_steps": train.max_steps,
                     "lora_r": train.lora_r, "lora_alpha": train.lora_alpha, "pass@1": r["pass@1"], "nll": r["nll"],
                     "gained": against_base[name]["gained"], "lost": against_base[name]["lost"],
                     "p": against_base[name]["p_value"], "train": {**cfg.train, **arm.train}})
    return bench, rows, b["arms"][BASE_ARM]


def choose(rows: list[dict[str, Any]], base_pass: float, harm: float) -> tuple[dict[str, Any], bool]:
    """The rule of the module docstring; returns (chosen row, whether it qualified)."""
    def key(r: dict[str, Any]) -> tuple[float, float, float, float]:
        nll = r["nll"] if r["nll"] is not None else float("inf")
        steps = r["max_steps"] if r["max_steps"] > 0 else float("inf")
        return (-r["pass@1"], nll, steps, r["learning_rate"])

    ok = [r for r in rows if r["pass@1"] >= base_pass - harm]
    return (min(ok, key=key), True) if ok else (min(rows, key=key), False)


def apply(config: Path, train: dict[str, Any], note: str) -> None:
    text = config.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{config}: no '{BEGIN}' ... '{END}' block to rewrite")
    head = text[: text.index("\n", start) + 1]
    block = f"# {note}\n" + yaml.safe_dump({"train": train}, sort_keys=False)
    config.write_text(head + block + text[end:], encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", type=Path, help="the sweep's experiment directory")
    ap.add_argument("--benchmark", default=None, help="the slice judged (default: the sweep's first benchmark)")
    ap.add_argument("--harm", type=float, default=2.0, help="points below the base an arm may be and still qualify")
    ap.add_argument("--apply", type=Path, default=None, help="config whose recipe block to rewrite")
    args = ap.parse_args()
    bench, rows, base = candidates(args.sweep, args.benchmark)
    chosen, qualified = choose(rows, base["pass@1"], args.harm)
    print(f"{bench} ({base['scored']} tasks scored), base pass@1 {base['pass@1']:.1f}, "
          f"mean canonical NLL {base['nll'] if base['nll'] is not None else '-'}")
    print("| arm | lr | steps | r | pass@1 | Δ base | gained / lost | sign p | mean NLL | qualifies |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['arm']}{' **chosen**' if r is chosen else ''} | {r['learning_rate']:g} | {r['max_steps']} | "
              f"{r['lora_r']} | {r['pass@1']:.1f} | {r['pass@1'] - base['pass@1']:+.1f} | {r['gained']} / {r['lost']} | "
              f"{r['p']:.3g} | {r['nll'] if r['nll'] is not None else '-'} | "
              f"{'yes' if r['pass@1'] >= base['pass@1'] - args.harm else 'no'} |")
    print(yaml.safe_dump({"train": chosen["train"]}, sort_keys=False), end="")
    if not qualified:
        print(f"WARNING: no arm is within {args.harm} points of the base on {bench}; try a gentler recipe "
              "before the fair experiment", file=sys.stderr)
        if args.apply:
            raise SystemExit(f"not applying a recipe that does harm to {args.apply}")
    if args.apply:
        apply(args.apply, chosen["train"], f"chosen by benchmarks/choose_recipe.py: arm {chosen['arm']} of {args.sweep}")
        print(f"wrote the recipe of {chosen['arm']} into {args.apply}")


if __name__ == "__main__":
    main()
