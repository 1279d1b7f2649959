"""Report sections for a training run (SFT or DPO): loss curves from ``progress.jsonl``."""

from __future__ import annotations

from collections import defaultdict

from xinstruct.report import plots
from xinstruct.report.page import Section, Table
from xinstruct.report.rundata import Run


def train_sections(run: Run) -> list[Section]:
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for ev in run.file_rows("progress.jsonl"):
        if ev.get("event") == "log" and isinstance(ev.get("loss"), int | float):
            curves[str(ev.get("stage", "train"))].append((float(ev.get("step", 0)), float(ev["loss"])))
    sec = Section("Training", "training", intro="Training loss as logged by the trainer, per stage.")
    if curves:
        sec.charts.append(plots.lines(curves, xlabel="step", ylabel="loss", title="Loss"))
    stages = run.summary.get("stages") or []
    if stages:
        keys = sorted({k for s in stages for k, v in s.items() if isinstance(v, int | float | str)})
        sec.tables.append(Table(keys, [[s.get(k) for k in keys] for s in stages], caption="Stages"))
    sec.figures = [("artifact", run.summary.get("artifact")), ("logged steps", sum(len(c) for c in curves.values()))]
    return [sec]
