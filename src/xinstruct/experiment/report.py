"""The comparison table: pass@1, paired gained/lost with the exact sign test, canonical-solution NLL, phase times.

Built from the phases' outputs alone (evaluation shards, NLL files, ``phases.json``), so it can be
rebuilt at any time and says nothing the outputs do not.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xinstruct.core.runs import read_jsonl
from xinstruct.experiment.config import ExperimentConfig
from xinstruct.experiment.stats import paired

DATA_CARD = "data.json"
"""``arms/<arm>/data.json``: what an arm trained on (``rows.data_card``)."""


def slug(benchmark: str) -> str:
    """A benchmark name as a file name (``multipl-e:java`` -> ``multipl-e-java``)."""
    return re.sub(r"[^a-z0-9]+", "-", benchmark.replace("+", "plus")).strip("-")


def eval_rows(run: Path) -> Iterator[dict[str, Any]]:
    """Per-task rows of an evaluation run."""
    for shard in sorted((run / "shards").glob("results-*.jsonl")):
        yield from read_jsonl(shard)


def _pass_rates(run: Path) -> dict[str, float]:
    """task id -> fraction of samples passed, over the tasks that could run."""
    return {r["task_id"]: r["passed"] / r["n"] for r in eval_rows(run) if r["runnable"] and r["n"]}


def _nll(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    return {t: v["nll"] for t, v in json.loads(path.read_text(encoding="utf-8"))["tasks"].items()}


def _card(out: Path, arm: str) -> dict[str, Any] | None:
    path = out / "arms" / arm / DATA_CARD
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def data_report(out: Path, cfg: ExperimentConfig) -> dict[str, Any]:
    """Per arm: what it was trained on; an arm exporting another's weights shows the rows those weights saw."""
    cards: dict[str, Any] = {}
    for name, arm in cfg.arm_configs().items():
        card = _card(out, arm.weights_of or name)
        if card is None:
            continue
        if arm.weights_of is not None:
            stage = {"stage1": "1", "stage2": None, None: None}.get(arm.stage)
            part = card["stages"].get(stage) if stage else None
            card = {**card, **(part or {}), "stages": {stage: part} if part else card["stages"], "source": f"weights of {arm.weights_of}"
                    + (f" after {arm.stage}" if arm.stage else "") + f": {card['source']}"}
        cards[name] = card
    return cards


def build_report(out: Path, cfg: ExperimentConfig, arms: Sequence[str], phases: Sequence[Any]) -> dict[str, Any]:
    benchmarks: dict[str, Any] = {}
    for bench in cfg.benchmarks:
        rates, nlls, rows = {}, {}, {}
        for arm in arms:
            run = out / "arms" / arm / "eval" / slug(bench)
            summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))["benchmarks"][0]
            rates[arm] = _pass_rates(run)
            nlls[arm] = _nll(out / "arms" / arm / "nll" / f"{slug(bench)}.json")
            rows[arm] = {
                "pass@1": summary.get("pass@1"), "scored": summary["scored"], "not_runnable": summary["not_runnable"],
                "nll": round(statistics.fmean(nlls[arm].values()), 4) if nlls[arm] else None,
                "nll_tasks": len(nlls[arm]),
            }
        contrasts = []
        for a, b in cfg.contrast_pairs():
            pa, pb = rows[a]["pass@1"], rows[b]["pass@1"]
            entry: dict[str, Any] = {
                "a": a, "b": b, "pass@1_delta": round(pa - pb, 2) if pa is not None and pb is not None else None,
                **paired(rates[a], rates[b]).to_dict(),
            }
            if nlls[a] and nlls[b]:
                both = set(nlls[a]) & set(nlls[b])
                nll = paired(nlls[a], nlls[b], higher_is_better=False)
                entry["nll_delta"] = round(statistics.fmean(nlls[a][t] - nlls[b][t] for t in both), 4) if both else None
                entry["nll_paired"] = nll.to_dict()
            contrasts.append(entry)
        tasks = max((r["scored"] + r["not_runnable"] for r in rows.values()), default=0)
        benchmarks[bench] = {"tasks": tasks, "arms": rows, "contrasts": contrasts}
    return {
        "seed": cfg.seed,
        "arms": list(arms),
        "export": cfg.export if cfg.export == "hf" else f"gguf {cfg.quantize}",
        "benchmarks": benchmarks,
        "data": data_report(out, cfg),
        "phases": [{"name": p.name, "status": p.status, "seconds": p.seconds} for p in phases],
        "total_seconds": round(sum(p.seconds for p in phases), 1),
    }


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def _data_lines(cards: dict[str, Any]) -> list[str]:
    if not cards:
        return []
    against = next(iter(cards.values()))["decontamination"]["against"]
    lines = ["## Generated data", "",
             f"Training rows per arm after decontamination against {', '.join(against) or 'nothing (decontaminate: false)'} "
             "(13-word n-grams, instruction and response checked together); lengths in characters.", "",
             "| arm | source | rows | stage 1 / stage 2 | mean instruction | mean response | languages | "
             "decontamination drops |", "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |"]
    for arm, c in cards.items():
        stages = c.get("stages") or {}
        split = " / ".join(str(stages[s]["rows"]) if s in stages else "0" for s in ("1", "2")) if stages else "-"
        langs = ", ".join(f"{k} {v}" for k, v in c["languages"].items())
        lines.append(f"| {arm} | {c['source']} | {c['rows']} | {split} | {_fmt(c['mean_instruction_chars'], '.0f')} | "
                     f"{_fmt(c['mean_response_chars'], '.0f')} | {langs} | {c['decontamination']['dropped']} of "
                     f"{c['rows_before_decontamination']} |")
    return [*lines, ""]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Experiment report (seed {report['seed']}, models exported as {report['export']})", ""]
    for bench, b in report["benchmarks"].items():
        lines += [f"## {bench} ({b['tasks']} tasks)", "",
                  "| arm | pass@1 | scored | mean NLL of canonical solutions |", "| --- | ---: | ---: | ---: |"]
        for arm, r in b["arms"].items():
            lines.append(f"| {arm} | {_fmt(r['pass@1'])} | {r['scored']} | {_fmt(r['nll'], '.4f')} |")
        lines += ["", "| contrast | Δ pass@1 | gained | lost | sign test p | Δ NLL | NLL lower / higher | NLL p |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for c in b["contrasts"]:
            nll = c.get("nll_paired") or {}
            split = f"{nll['gained']} / {nll['lost']}" if nll else "-"
            lines.append(
                f"| {c['a']} − {c['b']} | {_fmt(c['pass@1_delta'], '+.1f')} | {c['gained']} | {c['lost']} | "
                f"{c['p_value']:.4g} | {_fmt(c.get('nll_delta'), '+.4f')} | {split} | {_fmt(nll.get('p_value'), '.4g')} |"
            )
        lines.append("")
    lines += _data_lines(report.get("data") or {})
    lines += ["Gained/lost count the tasks one model solves and the other does not; the p-value is the exact "
              "two-sided sign test on them. With 164 tasks only differences of about 5 points can show.", "",
              "## Phases", "", "| phase | status | wall s |", "| --- | --- | ---: |"]
    lines += [f"| {p['name']} | {p['status']} | {p['seconds']:.1f} |" for p in report["phases"]]
    lines += [f"| total | | {report['total_seconds']:.1f} |", ""]
    return "\n".join(lines)
