"""``report``'s work: a run directory (or two eval runs) -> one self-contained HTML file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError
from xinstruct.core.runs import atomic_write_text
from xinstruct.report import agents_view, eval_view, inverse_view, train_view
from xinstruct.report.page import Section, Table, render
from xinstruct.report.rundata import Run, open_run

SECTIONS: dict[str, Callable[[Run], list[Section]]] = {
    "inverse": inverse_view.sections,
    "agents": agents_view.sections,
    "eval": eval_view.sections,
    "sft": train_view.train_sections,
    "dpo": train_view.train_sections,
    "experiment": train_view.experiment_sections,
}


def _summary_section(run: Run) -> Section:
    """Any stage without its own view: the summary's scalar figures as they are."""
    flat: list[list[Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif not isinstance(value, list):
            flat.append([prefix, value])

    walk("", run.summary)
    return Section("Summary", "summary", tables=[Table(["figure", "value"], flat)])


def _run_section(run: Run) -> Section:
    m = run.manifest
    model = m.get("model") or {}
    rows = [["stage", run.stage], ["created", m.get("created")],
            ["command", " ".join(str(a) for a in m.get("command") or []) or None],
            ["model", model.get("name") or model.get("path") or model.get("backend")],
            ["model sha256", model.get("sha256") or model.get("model_sha256")], ["seed", m.get("seed")]]
    rows += [[f"input {i['path']}", i.get("sha256")] for i in m.get("input") or [] if isinstance(i, dict)]
    rows += [[f"version {k}", v] for k, v in (m.get("versions") or {}).items()]
    sec = Section("Run", "run", tables=[Table(["what", "value"], rows)])
    if run.bad_lines:
        sec.tables.append(Table(["file", "line", "problem"], [[b.file, b.line, b.reason] for b in run.bad_lines[:200]],
                                caption=f"Lines not read ({len(run.bad_lines)})"))
    return sec


def sections_for(run: Run) -> list[Section]:
    make = SECTIONS.get(run.stage)
    out = make(run) if make else [_summary_section(run)]
    return [*out, _run_section(run)]


def build_report(run_dir: str | Path, out: str | Path | None = None, compare: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` (beside it as ``report.html`` unless ``out`` says otherwise).

    With ``compare``, both must be eval runs; the page shows the second against the first.
    """
    run = open_run(run_dir)
    secs = sections_for(run)
    title = f"xinstruct {run.stage} run: {run.name}"
    if compare is not None:
        other = open_run(compare)
        if run.stage != "eval" or other.stage != "eval":
            raise InputError(f"--compare needs two eval runs; {run.path} is '{run.stage}', {other.path} is '{other.stage}'")
        secs = [*eval_view.compare_sections(run, other), *secs]
        title = f"xinstruct eval: {run.name} vs {other.name}"
    target = Path(out) if out is not None else run.path / "report.html"
    meta = [("run", str(run.path)), ("stage", run.stage), ("created", run.manifest.get("created"))]
    atomic_write_text(target, render(title, meta, secs))
    return target
