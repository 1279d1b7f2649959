"""The InverseCoder loop as one resumable run: data -> train each arm -> export -> evaluate -> compare.

Every phase writes one output under the experiment directory and is recorded in ``phases.json``
with a fingerprint of the settings it depends on, its upstream phases' fingerprints included. A
rerun skips a phase whose recorded fingerprint matches and whose output exists; a changed setting
changes the fingerprints of that phase and of what depends on it, and only those are redone. A
phase interrupted half-way is resumed by the stage itself (Inverse-Instruct shards and call
cache, training checkpoints, evaluation shards). The report is rebuilt from the outputs each time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.errors import InputError
from xinstruct.core.runs import atomic_write_json, atomic_write_text
from xinstruct.data.decontam import Decontaminator
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark, select_tasks
from xinstruct.experiment.config import BASE_ARM, DATA_CHOICES, ExperimentConfig
from xinstruct.experiment.report import DATA_CARD, build_report, render_markdown, slug
from xinstruct.experiment.rows import data_card, decontaminate_rows, select_rows
from xinstruct.readers import ReaderConfig

Log = Callable[[str], None]
STATE = "phases.json"


def fingerprint(settings: dict[str, Any]) -> str:
    """A short, stable hash of a phase's settings (upstream fingerprints included)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PhaseLog:
    """``phases.json``: for each phase the fingerprint it ran with, whether it finished, and its wall time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _save(self) -> None:
        atomic_write_json(self.path, self.state)

    def finished(self, name: str, fp: str, output: Path) -> bool:
        entry = self.state.get(name)
        return bool(entry and entry["fingerprint"] == fp and entry.get("finished") and output.exists())

    def resumable(self, name: str, fp: str) -> bool:
        """A start with the same settings that did not finish: its stage resumes what it wrote."""
        entry = self.state.get(name)
        return bool(entry and entry["fingerprint"] == fp)

    def start(self, name: str, fp: str) -> None:
        self.state[name] = {"fingerprint": fp, "finished": False}
        self._save()

    def finish(self, name: str, fp: str, seconds: float) -> None:
        self.state[name] = {"fingerprint": fp, "finished": True, "seconds": round(seconds, 2)}
        self._save()


@dataclass
class PhaseResult:
    name: str
    status: str
    """``ran`` in this invocation, or ``reused`` from an earlier one."""
    seconds: float
    """Wall time of the invocation that did the work."""
    fingerprint: str


@dataclass
class Model:
    """One evaluated model: an arm's export or the base's."""

    arm: str
    merged: Path
    evaluated: Path
    """What the evaluation backend loads: the GGUF file, or the merged directory."""
    export_fp: str = ""
    scorer: Any = None
    backend: Any = None


@dataclass
class Experiment:
    cfg: ExperimentConfig
    out: Path
    log: Log = print
    console: Any = None
    """Handed to the stages that draw progress bars (inverse, eval); None lets them make their own."""
    on_phase: Callable[[PhaseResult], None] | None = None
    """Called after each phase (the resume test interrupts the run from here)."""
    phases: list[PhaseResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.state = PhaseLog(self.out / STATE)
        self.arms = self.cfg.arm_configs()
        self._dec: Decontaminator | None = None

    # -- phase machinery ---------------------------------------------------------------------------

    def phase(self, name: str, settings: dict[str, Any], output: Path, work: Callable[[], Any],
              clear: Path | None = None) -> str:
        """Run ``work`` unless it finished before with these settings; returns the phase's fingerprint.

        When the settings differ from those the phase last started with, ``clear`` (default: the
        output) is removed first, so nothing made with the old settings is resumed.
        """
        fp = fingerprint(settings)
        if self.state.finished(name, fp, output):
            result = PhaseResult(name, "reused", self.state.state[name].get("seconds", 0.0), fp)
            self.log(f"{name}: done before ({result.seconds:.0f} s)")
        else:
            stale = clear or output
            if not self.state.resumable(name, fp) and stale.exists():
                self.log(f"{name}: settings changed, starting it afresh")
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
            self.state.start(name, fp)
            self.log(f"{name}: running")
            started = time.perf_counter()
            work()
            seconds = time.perf_counter() - started
            self.state.finish(name, fp, seconds)
            result = PhaseResult(name, "ran", round(seconds, 2), fp)
            self.log(f"{name}: finished in {seconds:.0f} s")
        self.phases.append(result)
        if self.on_phase is not None:
            self.on_phase(result)
        return fp

    # -- the loop ----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        tasks = {b: self._tasks(b) for b in cfg.benchmarks}
        data = self._data_phases()
        trained = {name: self._train(name, data[name]) for name, arm in self.arms.items() if arm.weights_of is None}
        models = [self._export_base()]
        for name, arm in self.arms.items():
            source = arm.weights_of or name
            models.append(self._export_arm(name, source, trained[source], arm.stage))
        for model in models:
            with self._closing(model):
                for bench in cfg.benchmarks:
                    self._eval(model, bench)
                if cfg.nll:
                    for bench, ts in tasks.items():
                        if any(t.canonical for t in ts):
                            self._nll(model, bench, ts)
        report = build_report(self.out, cfg, [m.arm for m in models], self.phases)
        atomic_write_json(self.out / "report.json", report)
        atomic_write_text(self.out / "report.md", render_markdown(report))
        return report

    def _tasks(self, benchmark: str) -> list[Task]:
        data = self.cfg.eval.get("data")
        return select_tasks(load_tasks(parse_benchmark(benchmark), Path(data) if data else None),
                            limit=self.cfg.benchmark_limits.get(benchmark))

    def _decontaminator(self) -> Decontaminator | None:
        """Built once per invocation from the benchmarks evaluated and ``decontaminate_against``."""
        if self._dec is None and self.cfg.decontamination_specs():
            data = self.cfg.eval.get("data")
            self._dec = Decontaminator.from_specs(self.cfg.decontamination_specs(), Path(data) if data else None)
        return self._dec

    def _data_phases(self) -> dict[str, Path]:
        """Training file per training arm; arms with the same generation settings share one run."""
        from xinstruct.train.data import file_digest

        cfg = self.cfg
        out: dict[str, Path] = {}
        for name, arm in self.arms.items():
            given = cfg.data if arm.data in DATA_CHOICES else arm.data
            if arm.weights_of is None and given is not None:
                out[name] = Path(given)
        if cfg.data is not None or all(arm.weights_of or name in out for name, arm in self.arms.items()):
            return out
        from xinstruct.models.registry import resolve_model

        generator = cfg.generator_config()
        if "backend" not in cfg.generator and generator.model and Path(generator.model).is_dir():
            generator.backend = "transformers"  # a Hugging Face directory: llama.cpp cannot load it
        model = resolve_model(generator.model)
        reader = ReaderConfig()  # decontamination filters each arm's rows (rows.py), not the corpus
        corpus = Path(cfg.corpus or "")
        runs: dict[str, Path] = {}
        for name, arm in self.arms.items():
            if arm.weights_of is not None or name in out:
                continue
            inverse = cfg.inverse_config(name)
            # limit is no part of the inverse run's own fingerprint (a larger one resumes that run)
            settings = {"corpus": file_digest(corpus), "inverse": output_fingerprint(inverse, reader),
                        "limit": inverse.limit,
                        "generator": {**output_fingerprint(generator), "model": model.sha256}}
            key = fingerprint(settings)
            if key not in runs:
                phase = "data" if not arm.inverse else f"data-{name}"
                run_dir = self.out / "data" / phase
                self.phase(phase, settings, run_dir / "train_two_stage.jsonl",
                           lambda d=run_dir, i=inverse: self._generate(corpus, d, i, generator, reader))
                runs[key] = run_dir / "train_two_stage.jsonl"
            out[name] = runs[key]
        return out

    def _generate(self, corpus: Path, run_dir: Path, inverse: Any, generator: Any, reader: ReaderConfig) -> None:
        from xinstruct.inverse.pipeline import run_inverse

        seed_cache(run_dir, [d for d in sorted((self.out / "data").glob("*")) if d != run_dir])
        inverse.overwrite = True  # a changed setting reaching here means the phase starts afresh
        summary = run_inverse(corpus, run_dir, inverse, generator, reader, console=self.console)
        if not summary["files"].get("two_stage", {}).get("rows"):
            raise InputError("Inverse-Instruct produced no training rows", str(corpus))

    def _train(self, name: str, data_file: Path) -> str:
        """Write the arm's decontaminated rows and their description, then train on them unless a run
        on these very rows with these settings finished before. A run interrupted half-way resumes
        (finished stages are not trained again); only a change of rows or settings starts afresh."""
        from xinstruct.train.data import file_digest

        arm = self.arms[name]
        train = self.cfg.train_config(name)
        arm_dir = self.out / "arms" / name
        rows_file = arm_dir / "rows.jsonl"
        numbered = select_rows(data_file, arm.data)
        rows, step = decontaminate_rows(numbered, self._decontaminator(), data_file)
        if not rows:
            raise InputError(f"arms.{name}: every row overlaps a benchmark ({', '.join(self.cfg.decontamination_specs())})",
                             str(data_file))
        card = data_card(rows, source=self._source(name, data_file), file=data_file, select=arm.data,
                         rows_in=len(numbered), step=step, against=self.cfg.decontamination_specs())
        if step is not None:
            self.log(f"{name}: decontamination dropped {card['decontamination']['dropped']} of {len(numbered)} rows")
        arm_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        if not rows_file.exists() or rows_file.read_text(encoding="utf-8") != text:
            atomic_write_text(rows_file, text)
        atomic_write_json(arm_dir / DATA_CARD, card)
        settings = {"rows": file_digest(rows_file), "train": output_fingerprint(train), "base": self._base_sha()}

        def work() -> None:
            from xinstruct.train.sft import run_sft

            # never overwrite: phase() already removed a run made with other settings, and a run with
            # these settings resumes from its finished stages and checkpoints
            run_sft([rows_file], arm_dir / "sft", train, log=self.log)

        return self.phase(f"train-{name}", settings, arm_dir / "sft", work)

    def _source(self, name: str, data_file: Path) -> str:
        arm = self.arms[name]
        if arm.data not in DATA_CHOICES:
            return f"file {Path(arm.data).name}"
        part = {"generated": "generated rows (stage 1)", "original": "original rows (stage 2)",
                "two-stage": "generated then original rows"}[arm.data]
        if self.cfg.data is not None:
            return f"{part} of {Path(self.cfg.data).name}"
        return f"{part}, Inverse-Instruct run {data_file.parent.name} on {Path(self.cfg.corpus or '').name}"

    def _export_settings(self) -> dict[str, Any]:
        return {"export": self.cfg.export, "quantize": self.cfg.quantize if self.cfg.export == "gguf" else None}

    def _base_sha(self) -> str:
        from xinstruct.models.registry import resolve_model

        return resolve_model(self.cfg.base).sha256

    def _export_base(self) -> Model:
        model = self._model(BASE_ARM)
        settings = {"base": self._base_sha(), **self._export_settings()}

        def work() -> None:
            from xinstruct.train.export import merge_base

            merge_base(self.cfg.base, model.merged)
            self._gguf(model)

        model.export_fp = self.phase(f"export-{BASE_ARM}", settings, model.evaluated, work)
        return model

    def _export_arm(self, name: str, source: str, train_fp: str, stage: str | None) -> Model:
        model = self._model(name)
        settings = {"train": train_fp, "stage": stage, **self._export_settings()}

        def work() -> None:
            from xinstruct.train.export import merge_run

            merge_run(self.out / "arms" / source / "sft", model.merged, stage=stage)
            self._gguf(model)

        model.export_fp = self.phase(f"export-{name}", settings, model.evaluated, work)
        return model

    def _model(self, arm: str) -> Model:
        arm_dir = self.out / "arms" / arm
        merged = arm_dir / "merged"
        evaluated = arm_dir / f"model-{self.cfg.quantize}.gguf" if self.cfg.export == "gguf" else merged
        return Model(arm, merged, evaluated)

    def _gguf(self, model: Model) -> None:
        if self.cfg.export == "gguf":
            from xinstruct.train.export import export_quantized

            path, route = export_quantized(model.merged, model.evaluated, self.cfg.quantize)
            self.log(f"{model.arm}: {path} ({route})")

    @contextmanager
    def _closing(self, model: Model) -> Iterator[None]:
        """Each model's backend and scorer are loaded at most once and released before the next model's."""
        try:
            yield
        finally:
            if model.backend is not None:
                model.backend.close()
            model.backend = model.scorer = None

    def _eval(self, model: Model, benchmark: str) -> None:
        cfg = self.cfg
        eval_cfg = cfg.eval_config(benchmark)
        backend_cfg = cfg.backend_config(str(model.evaluated))
        settings = {"model": model.export_fp, "benchmark": benchmark, "limit": eval_cfg.limit,
                    "eval": output_fingerprint(eval_cfg, backend_cfg)}
        out = self.out / "arms" / model.arm / "eval" / slug(benchmark)

        def work() -> None:
            from xinstruct.eval.pipeline import run_eval
            from xinstruct.llm.factory import make_backend

            if model.backend is None:
                model.backend = make_backend(backend_cfg)
            summary = run_eval(eval_cfg, backend_cfg, out, overwrite=True, backend=model.backend, console=self.console)
            for row in summary["benchmarks"]:
                self.log(f"{model.arm}: {row['benchmark']} pass@1 {row.get('pass@1')} ({row['scored']}/{row['tasks']} tasks)")

        # the exported model keeps its path when it changes: its old evaluation must go, not be resumed
        self.phase(f"eval-{model.arm}-{slug(benchmark)}", settings, out / "summary.json", work, clear=out)

    def _nll(self, model: Model, benchmark: str, tasks: list[Task]) -> None:
        style = self.cfg.eval_config(benchmark).style_for(benchmark)
        out = self.out / "arms" / model.arm / "nll" / f"{slug(benchmark)}.json"
        settings = {"model": model.export_fp, "benchmark": benchmark, "tasks": [t.task_id for t in tasks],
                    "prompt_style": style}

        def work() -> None:
            from xinstruct.experiment.nll import NllScorer

            if model.scorer is None:
                model.scorer = NllScorer(model.merged, threads=self.cfg.train.get("threads"))
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(out, {"benchmark": benchmark, "prompt_style": style,
                                    "tasks": model.scorer.score_tasks(tasks, style)})

        self.phase(f"nll-{model.arm}-{slug(benchmark)}", settings, out, work)


def seed_cache(run_dir: Path, others: list[Path]) -> bool:
    """Start a new generation run's call cache from an earlier run's, so an arm that only selects
    differently (``select: random``) gets the same candidates and scores without generating them
    again. Safe across models: cache keys include the backend's model identity."""
    import sqlite3

    target = run_dir / "llm-cache.sqlite"
    source = next((d / "llm-cache.sqlite" for d in others if (d / "llm-cache.sqlite").is_file()), None)
    if target.exists() or source is None:
        return False
    run_dir.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(target))
    try:
        src.backup(dst)  # a consistent copy even of a WAL-mode database
    finally:
        src.close()
        dst.close()
    return True


def run_experiment(cfg: ExperimentConfig, out: str | Path, *, log: Log = print, console: Any = None,
                   on_phase: Callable[[PhaseResult], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the experiment into ``out``; returns the report also written to ``out/report.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", config_to_dict(cfg))
    return Experiment(cfg, out, log=log, console=console, on_phase=on_phase).run()

