"""Inverse-Instruct end to end: read -> extract -> summarize -> judge -> select -> write.

The run directory makes it resumable: each finished snippet is one fsynced line in
``shards/results-<rank>.jsonl``; a rerun skips those ids and every finished LLM call is served
from ``llm-cache.sqlite``. Final datasets are rebuilt from the shards in input order, so a
resumed run ends with exactly the rows of an uninterrupted one.

Memory is flat in the number of records: the cheap steps are a source read once to count and once
more, streaming, into the LLM steps; the outputs stream from the shards. What is kept per snippet
is small keys: its id (the finished ones, and this run's while counting), its code digest (the
duplicate filter) and, while assembling, where its row is and its order.
"""

from __future__ import annotations

import itertools
import math
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.core.cache import CallCache
from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.errors import InputError
from xinstruct.core.instructions import REJECT_REASONS
from xinstruct.core.pipeline import Shard, SkipLog, SpilledSkipLog, Step, chain, reasons
from xinstruct.core.progress import make_progress
from xinstruct.core.prompts import PromptFile
from xinstruct.core.records import Record
from xinstruct.core.runs import RunDir, input_identity
from xinstruct.data.dataset_folder import place_parquet, write_dataset_card
from xinstruct.data.decontam import Decontaminator, DropContaminated
from xinstruct.inverse.config import JUDGE_PROMPTS, InverseConfig
from xinstruct.inverse.extract import ExtractCode, ExtractSettings
from xinstruct.inverse.output import SOURCE, dataset_rows, export, jsonl_batches, original_row
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


def _score_histogram(bins: Counter[int]) -> dict[str, int]:
    return {f"{b / 10:.1f}-{(b + 1) / 10:.1f}": bins.get(b, 0) for b in range(10)}


def _median(values: array[float]) -> float | None:
    """``statistics.median`` of the values, sorted as float64 (8 bytes a value, no float objects)."""
    import numpy as np

    if not values:
        return None
    data = np.sort(np.frombuffer(values, dtype=np.float64))
    n = len(data)
    return float(data[n // 2]) if n % 2 else (float(data[n // 2 - 1]) + float(data[n // 2])) / 2


class RunTally:
    """The summary's figures, added one finished snippet's result row at a time (in input order),
    so a run of any size is summarized without holding its rows: counters, and the candidates'
    scores as float64 (the median needs them all)."""

    def __init__(self) -> None:
        self.finished = self.new = self.with_selection = 0
        self.outcomes: Counter[str] = Counter()
        self.candidates = self.empty = self.kept = self.edited = 0
        self.rejected: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.cuts: Counter[str] = Counter()
        self.scores: array[float] = array("d")
        self.chosen: array[float] = array("d")
        self.bins: Counter[int] = Counter()
        self.roundtrip: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()
        self.prompt_tokens = self.completion_tokens = 0

    def add(self, r: dict[str, Any]) -> None:
        self.finished += 1
        self.new += bool(r.get("new"))
        if r["status"] != "ok":
            self.outcomes[f"llm.{r['status']}"] += 1
            return
        if r["selected"]:
            self.with_selection += 1
        else:
            self.outcomes[f"select.{r.get('unselected_reason', 'no_usable_candidate')}"] += 1
        for c in r["candidates"]:
            self._candidate(c)
        self.chosen.extend(s for i in r["selected"] if (s := r["candidates"][i].get("score")) is not None)
        if r.get("roundtrip_fallback") or r.get("roundtrip_calls") is not None:
            self.roundtrip[f"fallback_pyes.{r['roundtrip_fallback']}" if r.get("roundtrip_fallback") else "scored"] += 1
        self.languages[r["language"]] += 1
        self.prompt_tokens += r.get("prompt_tokens", 0)

    def _candidate(self, c: dict[str, Any]) -> None:
        self.candidates += 1
        self.completion_tokens += c.get("tokens", 0)
        if not c.get("instruction") and c.get("rejected", "empty") == "empty":
            self.empty += 1
        if c.get("rejected"):
            self.rejected[c["rejected"]] += 1
            if c.get("rule"):
                self.rules[f"{c['rejected']}.{c['rule']}"] += 1
        if c.get("instruction"):
            self.kept += 1
            self.edited += bool(c.get("edits"))
            self.cuts.update(c.get("edits") or ())
        if (score := c.get("score")) is not None:
            self.scores.append(score)
            self.bins[min(int(score * 10), 9)] += 1

    def cleaning(self) -> dict[str, Any]:
        """What cleaning did to the candidates: rejections by reason (and by the rule that matched),
        and what was cut from the kept ones, by what was cut (``core/instructions.py``)."""
        return {
            "kept": self.kept,
            "edited": self.edited,
            "rejected_by_reason": {r: self.rejected.get(r, 0) for r in REJECT_REASONS},
            "rejected_by_rule": dict(sorted(self.rules.items())),
            "cuts": dict(sorted(self.cuts.items())),
        }


def summarize_run(tally: RunTally, skips: SkipLog, *, read: int, extracted: int,
                  dataset: int, elapsed: float, calls: dict[str, Any]) -> dict[str, Any]:
    skipped = Counter(skips.counts)
    skipped.update(tally.outcomes)
    return {
        "records_read": read,
        "snippets_extracted": extracted,
        "snippets_finished": tally.finished,
        "snippets_with_selection": tally.with_selection,
        "dataset_rows": dataset,
        "skipped_by_reason": dict(sorted(skipped.items())),
        "candidates_generated": tally.candidates,
        "empty_candidates": tally.empty,
        "cleaning": tally.cleaning(),
        "score_mean": math.fsum(tally.scores) / len(tally.scores) if tally.scores else None,
        "score_median": _median(tally.scores),
        "selected_score_mean": math.fsum(tally.chosen) / len(tally.chosen) if tally.chosen else None,
        "score_histogram": _score_histogram(tally.bins),
        "roundtrip": dict(tally.roundtrip),
        "languages": dict(tally.languages.most_common()),
        "tokens": {"prompt": tally.prompt_tokens, "completion": tally.completion_tokens},
        "llm_calls": calls,
        "seconds": round(elapsed, 2),
        "snippets_per_minute": round(60 * tally.new / elapsed, 2) if elapsed > 0 else None,
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


def _counted(records: Iterable[Record], count: list[int]) -> Iterator[Record]:
    for record in records:
        count[0] += 1
        yield record


@dataclass
class SnippetSource:
    """The cheap steps (read, extract, deduplicate, decontaminate, shard, ``--limit``) as a source
    that can be read more than once: each pass reads the input afresh and yields the snippets in
    input order, with their order index, so the steps after it hold no list of records."""

    input_path: str | Path
    cfg: InverseConfig
    reader_cfg: ReaderConfig
    decontaminator: Decontaminator | None

    def snippets(self, skips: SkipLog, *, limit: bool = True, count: list[int] | None = None) -> Iterator[Record]:
        """Every snippet; the skips of reading, then extraction, then decontamination go to ``skips``
        (in that order, when the pass is read to its end). ``limit`` stops after ``--limit`` snippets;
        ``count[0]`` counts the records read."""
        cfg = self.cfg
        steps: list[Step] = [ExtractCode(ExtractSettings(cfg.min_chars, cfg.max_chars, 1, cfg.max_lines, tuple(cfg.languages)))]
        if self.decontaminator is not None:
            steps.append(DropContaminated(self.decontaminator))
        if isinstance(skips, SpilledSkipLog):
            for step in steps:
                step.skips = SpilledSkipLog()
        records = read_input(self.input_path, self.reader_cfg, skips)
        stream = chain([*steps, Shard()], records if count is None else _counted(records, count), rank=cfg.rank,
                       world_size=cfg.world_size)
        yield from itertools.islice(stream, cfg.limit if limit else None)
        for step in steps:
            skips.merge(step.skips)


@dataclass
class Prepared:
    """What the driver knows before the first LLM call: the run directory (checked against the
    model's identity), how many snippets the input has and which ids are finished. The snippets
    themselves are read again, streaming, by :meth:`todo`."""

    run: RunDir
    plan: BackendPlan | GivenBackend
    prompts: InversePrompts
    skips: SkipLog
    records_read: int
    extracted: int
    """Snippets in this run (after ``--limit``)."""
    source: SnippetSource
    done: set[str]
    todo_count: int
    resumed: bool
    started: float

    def todo(self) -> Iterator[tuple[Record, int]]:
        """The snippets still to do, in input order, each with its order index."""
        for order, record in enumerate(self.source.snippets(SkipLog())):
            if record.id not in self.done:
                yield record, order


def prepare_inverse(input_path: str | Path, out_dir: str | Path, cfg: InverseConfig, backend_cfg: BackendConfig,
                    reader_cfg: ReaderConfig, backend: Backend | None, *, all_shards: bool = False) -> Prepared:
    """Read, extract, deduplicate, decontaminate and shard once, to count; open (or resume) the run directory.

    Nothing expensive happens here: the model is planned, not built, and no snippet is kept (only
    the ids of this run's snippets, to count those still to do). ``all_shards`` takes the finished
    ids from every result shard of the run (a cluster run writes one per block).
    """
    started = time.perf_counter()
    run = RunDir(out_dir, STAGE)
    prompts = InversePrompts.load(cfg)
    skips = SpilledSkipLog()  # one entry per dropped input record: on disk until skipped.jsonl
    source = SnippetSource(input_path, cfg, reader_cfg, Decontaminator.from_specs(reader_cfg.decontaminate))
    ids: set[str] = set()
    read, extracted = [0], 0
    for record in source.snippets(skips, limit=False, count=read):
        if cfg.limit is None or extracted < cfg.limit:
            ids.add(record.id)
            extracted += 1
    if not extracted and cfg.world_size == 1:  # before the run directory or the model
        raise InputError(
            f"no usable code snippets ({reasons(skips)}); give code records, a code directory, or responses with "
            "code (fenced, or unfenced code that parses), and check --min-chars, --max-lines and --languages",
            str(input_path))

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
    done &= ids
    return Prepared(run, plan, prompts, skips, read[0] + _read_skips(skips), extracted, source, done,
                    extracted - len(done), resumed, started)


def llm_steps(llm: Backend, cfg: InverseConfig, prompts: InversePrompts) -> tuple[Step, ...]:
    """The steps that call the model, in order (selection follows them)."""
    summarize = Summarize(
        llm, SummarizeTask(prompts.summarize), samples=cfg.samples, temperature=cfg.temperature, top_p=cfg.top_p,
        repetition_penalty=cfg.repetition_penalty, max_tokens=cfg.max_tokens, seed=cfg.seed,
        want_logprobs=cfg.select == "perplexity",
    )
    steps: tuple[Step, ...] = (summarize, Judge(llm, JudgeTask(prompts.judge)))
    if prompts.roundtrip is not None:
        steps += (RoundTrip(llm, Sandbox(), prompts.roundtrip, calls=cfg.roundtrip_calls, seed=cfg.seed,
                             window=cfg.roundtrip_window),)
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
    run = prep.run
    done = prep.extracted - prep.todo_count
    if prep.resumed:
        console.print(f"resuming {run.path}: {done} snippets done, {prep.todo_count} to go")

    inner = prep.plan.build()
    cache = CallCache(run.cache_path)
    llm = CachedBackend(inner, cache)
    steps = llm_steps(llm, cfg, prep.prompts)
    summarize = steps[0]
    assert isinstance(summarize, Summarize)
    in_flight: dict[str, int] = {}
    """Order index of each snippet between the source and its result row (one or two at a time)."""

    def feed() -> Iterator[Record]:
        for record, order in prep.todo():
            in_flight[record.id] = order
            yield record

    try:
        with run.writer("results", cfg.rank) as writer, make_progress(console) as progress:
            task = progress.add_task("inverse-instruct", total=prep.todo_count)

            def write_llm_drops() -> None:
                for step in steps:
                    for entry in step.skips.entries:
                        writer.write(drop_row(entry, in_flight.pop(entry["id"])))
                        progress.advance(task)
                    step.skips.entries.clear()  # written: the result shard holds them now

            for record in chain([*steps, selector(cfg)], feed()):
                write_llm_drops()
                writer.write(finished_row(record, in_flight.pop(record.id)))
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
    block retried after its file was written, or an actor of a killed run that finished its block
    after the rerun had read the finished ids) is counted once, as ``duplicate_results``: its first
    row is the one used.

    The rows stream from the shards (:class:`~xinstruct.core.runs.OrderedRows`) into the files,
    several times (datasets, then skips, then the second stage), and are never all held.
    """
    run = prep.run
    results = run.ordered_rows("results")
    tally = RunTally()
    languages: set[str] = set()
    failed = array("q")  # positions (in the order) of the snippets an LLM step dropped

    def dataset() -> Iterator[dict[str, Any]]:
        for k, r in enumerate(results):
            tally.add(r)
            if r["status"] != "ok":
                failed.append(k)
                continue
            for row in dataset_rows(r):
                if row.get("language"):
                    languages.add(str(row["language"]))
                yield row

    files = {"dataset": export(run.path, "data", dataset())}
    n_dataset = files["dataset"]["rows"]
    if cfg.with_original:
        originals = [0]

        def staged() -> Iterator[dict[str, Any]]:
            for batch in jsonl_batches(run.path / "data.jsonl") if n_dataset else ():
                yield from ({**row, "stage": 1} for row in batch)
            for r in results:
                if r["status"] == "ok" and (row := original_row(r)) is not None:
                    originals[0] += 1
                    yield {**row, "stage": 2}

        files["two_stage"] = export(run.path, "train_two_stage", staged())
        if not originals[0]:
            console.print("[yellow]--with-original: the input has no original (instruction, response) pairs; stage 2 is empty")
    # read/extract skips are recomputed identically on every run; LLM-step and selection outcomes
    # come from the result shards, so a resumed run reports the whole run, not only its tail.
    llm_skips = (
        {"stage": "llm", "reason": r["status"], "file": None, "line": None, "id": r["id"], "detail": r.get("detail", "")}
        for r in results.at(failed)
    )
    run.write_skips(itertools.chain(prep.skips.entries, llm_skips))
    elapsed = time.perf_counter() - prep.started
    summary = summarize_run(
        tally, prep.skips, read=prep.records_read, extracted=prep.extracted,
        dataset=n_dataset, elapsed=elapsed, calls=calls,
    )
    summary["files"] = files
    summary["resumed"] = prep.resumed
    summary["duplicate_results"] = results.duplicates
    summary["source"] = SOURCE
    headline = {k: summary.get(k) for k in ("records_read", "snippets_extracted", "dataset_rows", "candidates_generated",
                                            "score_mean", "selected_score_mean")}
    parquet = files["dataset"].get("parquet")
    place_parquet(run.path, Path(parquet) if parquet else None)
    folder = write_dataset_card(run.path, stage=STAGE, rows=n_dataset, languages=sorted(languages), manifest=run.manifest(),
                                dropped=summary["skipped_by_reason"], headline=headline)
    files["hub_folder"] = {"path": str(folder), "rows": n_dataset}
    if extra:
        summary.update(extra)
    run.write_summary(summary)
    return summary


def _read_skips(skips: SkipLog) -> int:
    return sum(v for k, v in skips.counts.items() if k.startswith("read."))
