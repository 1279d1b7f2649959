"""Inverse-Instruct end to end: read -> extract -> summarize -> judge -> select -> write.

The run directory makes it resumable: each finished snippet is one fsynced line in
``shards/results-<rank>.jsonl``; a rerun skips those ids and every finished LLM call is served
from ``llm-cache.sqlite``. Final datasets are rebuilt from the shards in input order, so a
resumed run ends with exactly the rows of an uninterrupted one.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.core.cache import CallCache
from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.errors import InputError
from xinstruct.core.instructions import REJECT_REASONS
from xinstruct.core.pipeline import Shard, SkipLog, Step, chain, reasons
from xinstruct.core.progress import make_progress
from xinstruct.core.prompts import PromptFile
from xinstruct.core.records import Record
from xinstruct.core.runs import RunDir, input_identity
from xinstruct.data.dataset_folder import write_dataset_folder
from xinstruct.data.decontam import Decontaminator, DropContaminated
from xinstruct.inverse.config import JUDGE_PROMPTS, InverseConfig
from xinstruct.inverse.extract import ExtractCode, ExtractSettings
from xinstruct.inverse.output import SOURCE, dataset_rows, export, original_row
from xinstruct.inverse.roundtrip import RoundTrip
from xinstruct.inverse.steps import Judge, Select, Summarize
from xinstruct.inverse.tasks import JudgeTask, SummarizeTask
from xinstruct.inverse.templates import load_prompt
from xinstruct.llm.base import Backend
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.factory import BackendConfig, BackendPlan, GivenBackend, plan_or_given
from xinstruct.readers import ReaderConfig, read_input
from xinstruct.sandbox import Sandbox

STAGE = "inverse"


def _result_row(record: Record, order: int) -> dict[str, Any]:
    d = record.data
    return {
        "id": record.id,
        "order": order,
        "status": "ok",
        "language": d["language"],
        "code": d["code"],
        "original_instruction": d.get("instruction"),
        "original_response": d.get("response"),
        "candidates": d["candidates"],
        "selected": d["selected"],
        "provenance": record.provenance,
        "prompt_tokens": d.get("prompt_tokens", 0),
        "unselected_reason": d.get("unselected_reason"),
        "roundtrip_calls": d.get("roundtrip_calls"),
        "roundtrip_fallback": d.get("roundtrip_fallback"),
    }


def _score_histogram(scores: list[float]) -> dict[str, int]:
    bins = Counter(min(int(s * 10), 9) for s in scores)
    return {f"{b / 10:.1f}-{(b + 1) / 10:.1f}": bins.get(b, 0) for b in range(10)}


def cleaning_counts(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """What cleaning did to the candidates: rejections by reason (and by the rule that matched),
    and what was cut from the kept ones, by what was cut (``core/instructions.py``)."""
    rejected = Counter(c["rejected"] for c in candidates if c.get("rejected"))
    rules = Counter(f"{c['rejected']}.{c['rule']}" for c in candidates if c.get("rejected") and c.get("rule"))
    edited = Counter(e for c in candidates if c.get("instruction") for e in c.get("edits") or ())
    return {
        "kept": sum(1 for c in candidates if c.get("instruction")),
        "edited": sum(1 for c in candidates if c.get("instruction") and c.get("edits")),
        "rejected_by_reason": {r: rejected.get(r, 0) for r in REJECT_REASONS},
        "rejected_by_rule": dict(sorted(rules.items())),
        "cuts": dict(sorted(edited.items())),
    }


def summarize_run(results: list[dict[str, Any]], skips: SkipLog, *, read: int, extracted: int,
                  dataset: int, elapsed: float, calls: dict[str, Any]) -> dict[str, Any]:
    ok = [r for r in results if r["status"] == "ok"]
    cands = [c for r in ok for c in r["candidates"]]
    scores = [c["score"] for c in cands if c.get("score") is not None]
    chosen = [r["candidates"][i]["score"] for r in ok for i in r["selected"] if r["candidates"][i].get("score") is not None]
    skipped = Counter(skips.counts)
    for r in results:
        if r["status"] != "ok":
            skipped[f"llm.{r['status']}"] += 1
        elif not r["selected"]:
            skipped[f"select.{r.get('unselected_reason', 'no_usable_candidate')}"] += 1
    return {
        "records_read": read,
        "snippets_extracted": extracted,
        "snippets_finished": len(results),
        "snippets_with_selection": sum(1 for r in ok if r["selected"]),
        "dataset_rows": dataset,
        "skipped_by_reason": dict(sorted(skipped.items())),
        "candidates_generated": len(cands),
        "empty_candidates": sum(1 for c in cands if not c.get("instruction") and c.get("rejected", "empty") == "empty"),
        "cleaning": cleaning_counts(cands),
        "score_mean": statistics.fmean(scores) if scores else None,
        "score_median": statistics.median(scores) if scores else None,
        "selected_score_mean": statistics.fmean(chosen) if chosen else None,
        "score_histogram": _score_histogram(scores),
        "roundtrip": dict(Counter(f"fallback_pyes.{r['roundtrip_fallback']}" if r.get("roundtrip_fallback") else "scored"
                                  for r in ok if r.get("roundtrip_fallback") or r.get("roundtrip_calls") is not None)),
        "languages": dict(Counter(r["language"] for r in ok).most_common()),
        "tokens": {
            "prompt": sum(r.get("prompt_tokens", 0) for r in ok),
            "completion": sum(c.get("tokens", 0) for c in cands),
        },
        "llm_calls": calls,
        "seconds": round(elapsed, 2),
        "snippets_per_minute": round(60 * len([r for r in results if r.get("new")]) / elapsed, 2) if elapsed > 0 else None,
    }


@dataclass(frozen=True)
class InversePrompts:
    summarize: PromptFile
    judge: PromptFile
    roundtrip: PromptFile | None

    @classmethod
    def load(cls, cfg: InverseConfig) -> InversePrompts:
        return cls(load_prompt("summarize", cfg.summarize_prompt), load_prompt(JUDGE_PROMPTS[cfg.judge_layout], cfg.judge_prompt),
                   load_prompt("roundtrip") if cfg.select == "roundtrip" else None)


@dataclass
class Prepared:
    """What the driver knows before the first LLM call: the run directory (checked against the
    model's identity), every snippet in input order and which of them are still to do."""

    run: RunDir
    plan: BackendPlan | GivenBackend
    prompts: InversePrompts
    skips: SkipLog
    records_read: int
    snippets: list[Record]
    order: dict[str, int]
    todo: list[Record]
    resumed: bool
    started: float


def prepare_inverse(input_path: str | Path, out_dir: str | Path, cfg: InverseConfig, backend_cfg: BackendConfig,
                    reader_cfg: ReaderConfig, backend: Backend | None, *, all_shards: bool = False) -> Prepared:
    """Read, extract, deduplicate, decontaminate and shard; open (or resume) the run directory.

    Nothing expensive happens here: the model is planned, not built. ``all_shards`` takes the
    finished ids from every result shard of the run (a cluster run writes one per block).
    """
    started = time.perf_counter()
    run = RunDir(out_dir, STAGE)
    prompts = InversePrompts.load(cfg)
    skips = SkipLog()
    records = list(read_input(input_path, reader_cfg, skips))
    extract = ExtractCode(ExtractSettings(cfg.min_chars, cfg.max_chars, 1, cfg.max_lines, tuple(cfg.languages)))
    steps: list[Step] = [extract]
    decontaminator = Decontaminator.from_specs(reader_cfg.decontaminate)
    if decontaminator is not None:
        steps.append(DropContaminated(decontaminator))
    snippets = list(chain([*steps, Shard()], records, rank=cfg.rank, world_size=cfg.world_size))
    for step in steps:
        skips.merge(step.skips)
    if not snippets and cfg.world_size == 1:  # before the run directory or the model
        raise InputError(
            f"no usable code snippets ({reasons(skips)}); give code records, a code directory, or responses with "
            "code (fenced, or unfenced code that parses), and check --min-chars, --max-lines and --languages",
            str(input_path))
    order = {r.id: i for i, r in enumerate(snippets)}
    if cfg.limit is not None:
        snippets = snippets[: cfg.limit]

    # the run directory is checked against the model's identity before the model is loaded or pulled
    plan = plan_or_given(backend_cfg, backend)
    resumed = run.open(
        config={"inverse": config_to_dict(cfg), "backend": config_to_dict(backend_cfg), "reader": config_to_dict(reader_cfg),
                "input": str(input_path)},
        fingerprint={**output_fingerprint(cfg, reader_cfg), "backend": backend_cfg.backend, "input": str(Path(input_path).resolve())},
        model=plan.identity(),
        input=input_identity(input_path),
        prompts={"summarize": prompts.summarize.sha256, "judge": prompts.judge.sha256,
                 **({"roundtrip": prompts.roundtrip.sha256} if prompts.roundtrip else {})},
        seed=cfg.seed,
        overwrite=cfg.overwrite,
    )
    done = {r["id"] for r in run.rows("results")} if all_shards else run.done_ids("results", cfg.rank)
    todo = [r for r in snippets if r.id not in done]
    return Prepared(run, plan, prompts, skips, len(records) + _read_skips(skips), snippets, order, todo, resumed, started)


def llm_steps(llm: Backend, cfg: InverseConfig, prompts: InversePrompts) -> tuple[Step, ...]:
    """The steps that call the model, in order (selection follows them)."""
    summarize = Summarize(
        llm, SummarizeTask(prompts.summarize), samples=cfg.samples, temperature=cfg.temperature, top_p=cfg.top_p,
        repetition_penalty=cfg.repetition_penalty, max_tokens=cfg.max_tokens, seed=cfg.seed,
        want_logprobs=cfg.select == "perplexity",
    )
    steps: tuple[Step, ...] = (summarize, Judge(llm, JudgeTask(prompts.judge)))
    if prompts.roundtrip is not None:
        steps += (RoundTrip(llm, Sandbox(), prompts.roundtrip, calls=cfg.roundtrip_calls, seed=cfg.seed),)
    return steps


def selector(cfg: InverseConfig) -> Select:
    return Select(cfg.select, seed=cfg.seed, top_k=cfg.top_k, threshold=cfg.threshold)


def drop_row(entry: dict[str, Any], order: int) -> dict[str, Any]:
    """The result row of a snippet an LLM step dropped (it is finished: a resume skips it)."""
    return {"id": entry["id"], "order": order, "status": entry["reason"], "detail": entry["detail"], "new": True}


def finished_row(record: Record, order: int) -> dict[str, Any]:
    row = _result_row(record, order)
    row["new"] = True
    return row


def run_inverse(
    input_path: str | Path,
    out_dir: str | Path,
    cfg: InverseConfig,
    backend_cfg: BackendConfig,
    reader_cfg: ReaderConfig,
    *,
    backend: Backend | None = None,
    console: Console | None = None,
    on_record: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) Inverse-Instruct into ``out_dir``; returns the summary.

    ``backend`` overrides the configured one (tests pass a scripted backend); ``on_record`` is
    called after each finished snippet (tests use it to simulate a crash).
    """
    console = console or Console(stderr=True)
    prep = prepare_inverse(input_path, out_dir, cfg, backend_cfg, reader_cfg, backend)
    run, order, todo = prep.run, prep.order, prep.todo
    done = len(prep.snippets) - len(todo)
    if prep.resumed:
        console.print(f"resuming {run.path}: {done} snippets done, {len(todo)} to go")

    inner = prep.plan.build()
    cache = CallCache(run.cache_path)
    llm = CachedBackend(inner, cache)
    steps = llm_steps(llm, cfg, prep.prompts)
    summarize = steps[0]
    assert isinstance(summarize, Summarize)
    drained = dict.fromkeys(steps, 0)

    try:
        with run.writer("results", cfg.rank) as writer, make_progress(console) as progress:
            task = progress.add_task("inverse-instruct", total=len(todo))

            def write_llm_drops() -> None:
                for step in steps:
                    for entry in step.skips.entries[drained[step]:]:
                        writer.write(drop_row(entry, order[entry["id"]]))
                        progress.advance(task)
                    drained[step] = len(step.skips.entries)

            for record in chain([*steps, selector(cfg)], todo):
                write_llm_drops()
                writer.write(finished_row(record, order[record.id]))
                progress.update(
                    task, advance=1, tokens=summarize.completion_tokens,
                    cached=llm.cached_calls,
                )
                if on_record is not None:
                    on_record(done + progress.tasks[0].completed)
            write_llm_drops()
    finally:
        cache.close()
        if backend is None:
            inner.close()
    return finish_inverse(prep, cfg, {"new": llm.new_calls, "cached": llm.cached_calls,
                                      "retries": llm.retries_by_kind()}, console)


def finish_inverse(prep: Prepared, cfg: InverseConfig, calls: dict[str, Any], console: Console,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Datasets, skip log and summary from the result shards, in input order: one code for every
    executor, so a cluster run's files equal a local run's. A snippet finished twice (a cluster
    block retried after its file was written) is counted once."""
    run = prep.run
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    duplicates = 0
    for row in sorted(run.rows("results"), key=lambda r: r["order"]):
        if row["id"] in seen:
            duplicates += 1
            continue
        seen.add(row["id"])
        results.append(row)
    dataset = [row for r in results if r["status"] == "ok" for row in dataset_rows(r)]
    files = {"dataset": export(run.path, "data", dataset)}
    if cfg.with_original:
        originals = [row for r in results if r["status"] == "ok" and (row := original_row(r)) is not None]
        staged = [{**row, "stage": 1} for row in dataset] + [{**row, "stage": 2} for row in originals]
        files["two_stage"] = export(run.path, "train_two_stage", staged)
        if not originals:
            console.print("[yellow]--with-original: the input has no original (instruction, response) pairs; stage 2 is empty")
    # read/extract skips are recomputed identically on every run; LLM-step and selection outcomes
    # come from the result shards, so a resumed run reports the whole run, not only its tail.
    llm_skips = [
        {"stage": "llm", "reason": r["status"], "file": None, "line": None, "id": r["id"], "detail": r.get("detail", "")}
        for r in results if r["status"] != "ok"
    ]
    run.write_skips([*prep.skips.entries, *llm_skips])
    elapsed = time.perf_counter() - prep.started
    summary = summarize_run(
        results, prep.skips, read=prep.records_read, extracted=len(prep.snippets),
        dataset=len(dataset), elapsed=elapsed, calls=calls,
    )
    summary["files"] = files
    summary["resumed"] = prep.resumed
    summary["duplicate_results"] = duplicates
    summary["source"] = SOURCE
    headline = {k: summary.get(k) for k in ("records_read", "snippets_extracted", "dataset_rows", "candidates_generated",
                                            "score_mean", "selected_score_mean")}
    folder = write_dataset_folder(run.path, stage=STAGE, rows=dataset, manifest=run.manifest(),
                                  dropped=summary["skipped_by_reason"], headline=headline)
    files["hub_folder"] = {"path": str(folder), "rows": len(dataset)}
    if extra:
        summary.update(extra)
    run.write_summary(summary)
    return summary


def _read_skips(skips: SkipLog) -> int:
    return sum(v for k, v in skips.counts.items() if k.startswith("read."))
