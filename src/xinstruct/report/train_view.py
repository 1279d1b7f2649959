"""Report sections for a training run (SFT or DPO): loss curves from ``progress.jsonl``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from xinstruct.report import plots
from xinstruct.report.page import Section, Table
from xinstruct.report.rundata import Run


def train_sections(run: Run) -> list[Section]:
    curves = loss_curves({"": run.path / "progress.jsonl"}, run)
    sec = Section("Training", "training", intro="Training loss as logged by the trainer, per stage.")
    if curves:
        sec.charts.append(plots.lines(curves, xlabel="step", ylabel="loss", title="Loss"))
    stages = run.summary.get("stages") or []
    if stages:
        keys = sorted({k for s in stages for k, v in s.items() if isinstance(v, int | float | str)})
        sec.tables.append(Table(keys, [[s.get(k) for k in keys] for s in stages], caption="Stages"))
    sec.figures = [("artifact", run.summary.get("artifact")), ("logged steps", sum(len(c) for c in curves.values()))]
    return [sec]


def loss_curves(paths: dict[str, Path], run: Run) -> dict[str, list[tuple[float, float]]]:
    """(label -> points) from trainer logs; each label names the run and the curriculum stage."""
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for label, path in paths.items():
        for ev in run.jsonl(path):
            if ev.get("event") == "log" and isinstance(ev.get("loss"), int | float):
                curves[f"{label} {ev.get('stage', '')}".strip()].append((float(ev.get("step", 0)), float(ev["loss"])))
    return curves


def experiment_sections(run: Run) -> list[Section]:
    """The arms' comparison (pass@1, canonical-solution NLL, paired contrasts) and each arm's loss."""
    rep = run.summary
    out = [Section("Overview", "overview", figures=[("arms", len(rep.get("arms") or [])), ("seed", rep.get("seed")),
                                                    ("export", rep.get("export")), ("total seconds", rep.get("total_seconds"))])]
    for n, (bench, b) in enumerate((rep.get("benchmarks") or {}).items()):
        arms = b.get("arms") or {}
        sec = Section(f"{bench} ({b.get('tasks')} tasks)", f"bench-{n}",
                      intro="pass@1 in %, and the mean negative log-likelihood of the canonical solutions; "
                            "gained / lost count tasks one arm solves and the other does not (exact sign test).")
        sec.tables.append(Table(["arm", "pass@1", "scored", "mean NLL"],
                                [[a, r.get("pass@1"), r.get("scored"), r.get("nll")] for a, r in arms.items()]))
        sec.tables.append(Table(["contrast", "Δ pass@1", "gained", "lost", "sign test p", "Δ NLL"],
                                [[f"{c.get('a')} − {c.get('b')}", c.get("pass@1_delta"), c.get("gained"), c.get("lost"),
                                  c.get("p_value"), c.get("nll_delta")] for c in b.get("contrasts") or []]))
        if arms:
            sec.charts.append(plots.bars(list(arms), {"pass@1": [r.get("pass@1") or 0 for r in arms.values()]},
                                         ylabel="pass@1 (%)", title=f"{bench}: pass@1 per arm"))
        out.append(sec)
    curves = loss_curves({p.parent.parent.name: p for p in sorted((run.path / "arms").glob("*/sft/progress.jsonl"))}, run)
    training = Section("Training", "training", intro="Each arm's training loss, per curriculum stage.")
    if curves:
        training.charts.append(plots.lines(curves, xlabel="step", ylabel="loss", title="Loss per arm"))
    training.tables.append(Table(["phase", "status", "seconds"],
                                 [[p.get("name"), p.get("status"), p.get("seconds")] for p in rep.get("phases") or []],
                                 caption="Phases"))
    return [*out, training]
