"""The agents run loop: seed stage, collaboration rounds, DPO sampling, export and summary.

Work is split into units with stable ids (``seed:<record>``, ``r<round>:<lang>``, ``dpo:<sample>``).
A finished unit is one fsynced line in a shard; its LLM calls are in the call cache. State that
later units read (memories, reflections) is rebuilt by re-applying finished units in their fixed
order, so a resumed run ends with exactly the rows of an uninterrupted one and redoes no call.

The units of one stage (all seeds; all agents of one round) read the team's state as it was when
the stage began, so they run concurrently (``--concurrency``): each in its own thread, their LLM
calls decoding together through a ``CoalescingBackend``. Their samples are applied afterwards in
agent order, which keeps the result independent of which unit finished first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xinstruct.agents.calls import Caller
from xinstruct.agents.collaborate import (
    MAX_FAULTS,
    Agent,
    Team,
    centralized_unit,
    parallel_unit,
    seed_unit,
)
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.dpo import dpo_unit, user_message
from xinstruct.agents.memory import Memory, minhash, sample_text
from xinstruct.agents.profiles import get_profile
from xinstruct.agents.scorer import DIMENSIONS, SCORE_KEYS, merits_and_faults
from xinstruct.agents.tasks import prompt_hashes
from xinstruct.core.cache import CallCache
from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.fences import fence, first_fenced_block
from xinstruct.core.languages import normalize_language
from xinstruct.core.pipeline import SkipLog
from xinstruct.core.progress import make_progress
from xinstruct.core.records import Record
from xinstruct.core.runs import RunDir, write_jsonl_atomic
from xinstruct.data.decontam import Decontaminator, DropContaminated
from xinstruct.llm.base import Backend, PromptTooLong
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.coalesce import CoalescingBackend
from xinstruct.readers import ReaderConfig, read_input
from xinstruct.sandbox import Sandbox

SOURCE = "xinstruct-agents"
STAGE = "agents"


# ----------------------------------------------------------------------------- inputs
def code_inputs(path: str | Path, languages: list[str], limit: int | None, skips: SkipLog,
                reader_cfg: ReaderConfig, decontaminator: Decontaminator | None = None) -> list[Record]:
    """Code snippets in the agents' languages: code records as they are, instruction rows by their
    response's first fenced block. The first ``limit`` usable snippets, in input order."""
    out: list[Record] = []
    step = DropContaminated(decontaminator) if decontaminator is not None else None
    records = read_input(path, reader_cfg, skips)
    for record in step(records) if step is not None else records:
        data = record.data
        code, language = data.get("code"), data.get("language")
        if code is None:
            block = first_fenced_block(str(data.get("response") or ""))
            code, language = (block.code, block.language) if block else (None, None)
        language = normalize_language(language) if isinstance(language, str) else None
        if not code or not str(code).strip():
            skips.add("agents", "no_code", record_id=record.id)
            continue
        if language not in languages:
            skips.add("agents", "language_not_selected", record_id=record.id, detail=str(language))
            continue
        out.append(Record(id=record.id, data={"code": code, "language": language}, provenance=record.provenance))
        if limit is not None and len(out) >= limit:
            break
    if step is not None:
        skips.merge(step.skips)
    return out


def file_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- rows
def sft_row(sample: dict[str, Any]) -> dict[str, Any]:
    lang = sample["language"]
    answer = f"{fence(sample['solution'], lang)}\n\nUnit tests:\n\n{fence(sample['tests'], lang)}"
    return {
        "id": sample["id"],
        "messages": [
            {"role": "user", "content": user_message(sample["instruction"], lang)},
            {"role": "assistant", "content": answer},
        ],
        **{k: sample.get(k) for k in (
            "instruction", "solution", "tests", "language", "agent", "round", "stage", "evolution",
            "critiques", "parents", "scores", "verdict", "first_verdict", "repairs", "tests_verdict",
            "model_tests", "agreement",
        )},
        "source": SOURCE,
    }


def rejected_row(sample: dict[str, Any], reason: str) -> dict[str, Any]:
    keep = ("id", "stage", "round", "agent", "language", "instruction", "solution", "tests", "parents",
            "evolution", "verdict", "verdict_message", "first_verdict", "repairs", "scores", "score_raw", "raw",
            "tests_verdict", "model_tests", "agreement")
    return {**{k: sample.get(k) for k in keep}, "reason": reason, "source": SOURCE}


# ----------------------------------------------------------------------------- the run
class AgentsRun:
    """One ``xinstruct agents`` run in a run directory (created or resumed)."""

    def __init__(
        self,
        cfg: AgentsConfig,
        input_path: str | Path,
        out: str | Path,
        backend: Backend,
        *,
        model_identity: dict[str, Any] | None = None,
        backend_fingerprint: dict[str, Any] | None = None,
        sandbox: Sandbox | None = None,
        console: Console | None = None,
        overwrite: bool = False,
        reader_cfg: ReaderConfig | None = None,
    ) -> None:
        self.cfg = cfg
        self.reader_cfg = reader_cfg or ReaderConfig()
        self.input_path = Path(input_path)
        self.run = RunDir(out, STAGE)
        self.inner_backend = backend
        self.model_identity = model_identity
        self.backend_fingerprint = backend_fingerprint or {}
        self.sandbox = sandbox or Sandbox()
        self.console = console or Console(stderr=True)
        self.overwrite = overwrite

    # -- state changes: the only place memories and reflections change
    def _apply(self, sample: dict[str, Any], agent: Agent, round_hashes: list[Any] | None) -> None:
        lang = agent.language
        st = self.stats[lang]
        st["proposed"] += 1
        st["tokens"] += sample.get("tokens", 0)
        st["new_tokens"] += sample.get("new_tokens", 0)
        st["seconds"] += sample.get("seconds", 0.0)
        stage = self.stage_stats[sample["stage"]]
        stage["proposed"] += 1
        scores = sample.get("scores")
        if scores:
            st["scored"] += 1
            for key in SCORE_KEYS:
                if key in scores:
                    self.score_sums[lang][key] += scores[key]
                    self.score_counts[lang][key] += 1
        elif sample.get("score_raw") is not None:
            st["score_unparseable"] += 1
        reason = None
        if sample.get("error"):
            reason = sample["error"]
        elif sample.get("verdict") != "passed":
            reason = str(sample.get("verdict"))
            agent.faults.append(f"{sample['verdict']} ({str(sample.get('verdict_message') or '')[:80]})")
        else:
            st["passed"] += 1
            stage["passed"] += 1
            st["passed_after_repair" if sample.get("repairs") else "passed_first_try"] += 1
            if round_hashes is not None:
                probe = minhash(sample_text(sample))
                if any(probe.jaccard(h) >= self.cfg.similarity for h in round_hashes):
                    reason = "duplicate_in_round"
                round_hashes.append(probe)
            if reason is None and scores and scores.get("total") is not None and scores["total"] < self.cfg.min_score:
                reason = "low_score"
            if reason is None and self.decontaminator is not None and self.decontaminator.overlaps(sample_text(sample)):
                reason = "benchmark_overlap"
        if self.cfg.reflection:
            _, faults = merits_and_faults(scores)
            if faults and sample.get("verdict") == "passed":
                agent.faults.append("weak " + ", ".join(faults))
        if reason is not None:
            st[f"rejected.{reason}"] += 1
            stage["rejected"] += 1
            self.rejected.append(rejected_row(sample, reason))
        else:
            st["kept"] += 1
            stage["kept"] += 1
            self.kept.append(sft_row(sample))
            if self.cfg.memory:
                admitted, why = agent.memory.offer(sample)
                st["admitted" if admitted else f"memory.{why}"] += 1
                if admitted:
                    agent.memory.save(self.run.path / "memory")

    def _units(self, jobs: Sequence[tuple[str, Agent, Callable[[Team], dict[str, Any]]]]) -> list[dict[str, Any]]:
        """The samples of ``jobs`` (unit id, agent, producer), in order: finished units come from
        the shard, the others are produced ``concurrency`` at a time and appended as they finish."""
        if self.cfg.concurrency == 1 or sum(unit not in self.done for unit, _, _ in jobs) <= 1:
            return [self._unit(*job) for job in jobs]
        with ThreadPoolExecutor(self.cfg.concurrency, thread_name_prefix="agent") as pool:
            futures = [pool.submit(self._unit, *job) for job in jobs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                # queued units are dropped; those in flight finish (and are saved) before this raises
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _unit(self, unit: str, agent: Agent, produce: Callable[[Team], dict[str, Any]]) -> dict[str, Any]:
        """A finished unit from the shard, or produced now (calls cached) and appended."""
        if unit in self.done:
            return self.done[unit]
        # each unit meters its own calls: units run in parallel threads
        team = dataclasses.replace(self.team, caller=Caller(self.team.caller.backend, self.cfg.seed))
        started = time.perf_counter()
        try:
            sample = produce(team)
        except PromptTooLong as exc:
            sample = {"id": unit, "stage": "error", "round": 0, "agent": agent.language, "language": agent.language,
                      "error": "prompt_too_long", "verdict_message": str(exc)}
        sample["tokens"] = team.caller.meter.tokens
        sample["new_tokens"] = team.caller.meter.new_tokens
        sample["seconds"] = round(time.perf_counter() - started, 2)
        with self.write_lock:
            self.writer.write(sample)
            self.done[unit] = sample
        return sample

    def execute(self) -> dict[str, Any]:
        cfg = self.cfg
        skips = SkipLog()
        self.decontaminator = Decontaminator.from_specs(self.reader_cfg.decontaminate)
        inputs = code_inputs(self.input_path, cfg.languages, cfg.limit, skips, self.reader_cfg, self.decontaminator)
        fingerprint = {**output_fingerprint(cfg, self.reader_cfg), **self.backend_fingerprint,
                       "input_sha256": file_sha256(self.input_path)}
        resumed = self.run.open(
            config={"agents": config_to_dict(cfg), "reader": config_to_dict(self.reader_cfg), "input": str(self.input_path)},
            fingerprint=fingerprint, model=self.model_identity, prompts=prompt_hashes(), seed=cfg.seed,
            overwrite=self.overwrite,
        )
        if resumed:
            self.console.print(f"[cyan]resuming {self.run.path}")
        cache = CallCache(self.run.cache_path)
        backend = CachedBackend(self.inner_backend, cache)
        shared = CoalescingBackend(backend) if cfg.concurrency > 1 else backend
        agents = {
            lang: Agent(get_profile(lang), Memory(lang, cfg.memory_size, cfg.similarity),
                        snippets=[r for r in inputs if r.data["language"] == lang])
            for lang in cfg.languages
        }
        self.team = Team(cfg=cfg, caller=Caller(shared, cfg.seed), sandbox=self.sandbox, agents=agents, inputs=inputs)
        self.write_lock = threading.Lock()
        self.stats: dict[str, Counter[str]] = defaultdict(Counter)
        self.stage_stats: dict[str, Counter[str]] = defaultdict(Counter)
        self.score_sums: dict[str, Counter[str]] = defaultdict(Counter)
        self.score_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.kept: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.done = {row["id"]: row for row in self.run.rows("events")}
        done_dpo = {row["id"]: row for row in self.run.rows("dpo")}
        started = time.perf_counter()
        dpo_rows: list[dict[str, Any]] = []
        self.writer = self.run.writer("events")
        try:
            with make_progress(self.console) as progress, self.run.writer("dpo") as dpo_writer:
                bars = {
                    lang: progress.add_task(f"{lang:<10}", total=len(agents[lang].snippets) + cfg.rounds)
                    for lang in cfg.languages
                }

                def tick(lang: str) -> None:
                    progress.update(bars[lang], advance=1, tokens=self.stats[lang]["new_tokens"],
                                    cached=backend.cached_calls)

                seeds = self._units([
                    (f"seed:{r.id}", agents[r.data["language"]],
                     lambda t, r=r: seed_unit(t, agents[r.data["language"]], r, f"seed:{r.id}"))
                    for r in inputs
                ])
                for record, sample in zip(inputs, seeds, strict=True):
                    self._apply(sample, agents[record.data["language"]], None)
                    tick(record.data["language"])
                unit_of = centralized_unit if cfg.mode == "centralized" else parallel_unit
                for round_no in range(1, cfg.rounds + 1):
                    produced = self._units([
                        (f"r{round_no}:{lang}", agents[lang],
                         lambda t, la=lang, n=round_no: unit_of(t, la, n, f"r{n}:{la}"))
                        for lang in cfg.languages
                    ])
                    # parallel proposals are merged: a near-duplicate of an earlier one this round is dropped
                    round_hashes: list[Any] | None = [] if cfg.mode == "parallel" else None
                    for lang, sample in zip(cfg.languages, produced, strict=True):
                        self._apply(sample, agents[lang], round_hashes)
                        tick(lang)
                if cfg.dpo_samples > 0:
                    dpo_bar = progress.add_task("dpo       ", total=len(self.kept))
                    for row in self.kept:
                        unit = f"dpo:{row['id']}"
                        event = done_dpo.get(unit)
                        if event is None:
                            before = backend.new_calls
                            event = dpo_unit(self.team, row, unit)
                            event["new_calls"] = backend.new_calls - before
                            dpo_writer.write(event)
                        dpo_rows.extend(event["pairs"])
                        self.stats[row["language"]]["dpo_pairs"] += len(event["pairs"])
                        progress.update(dpo_bar, advance=1)
        finally:
            self.writer.close()
            cache.close()
        for agent in agents.values():
            agent.memory.save(self.run.path / "memory")
        write_jsonl_atomic(self.run.path / "sft.jsonl", self.kept)
        write_jsonl_atomic(self.run.path / "rejected.jsonl", self.rejected)
        write_jsonl_atomic(self.run.path / "dpo.jsonl", dpo_rows)
        summary = self._summary(inputs, skips, dpo_rows, time.perf_counter() - started, backend)
        self.run.write_summary(summary)
        return summary

    def _summary(self, inputs: list[Record], skips: SkipLog, dpo_rows: list[dict[str, Any]], wall: float,
                 backend: CachedBackend) -> dict[str, Any]:
        per_language = {}
        for lang in self.cfg.languages:
            st = self.stats[lang]
            rejected = {k.split(".", 1)[1]: v for k, v in sorted(st.items()) if k.startswith("rejected.")}
            mean = {k: round(self.score_sums[lang][k] / self.score_counts[lang][k], 2)
                    for k in SCORE_KEYS if self.score_counts[lang][k]}
            per_language[lang] = {
                "proposed": st["proposed"], "passed": st["passed"], "passed_first_try": st["passed_first_try"],
                "passed_after_repair": st["passed_after_repair"], "kept": st["kept"],
                "rejected": rejected, "rejected_total": sum(rejected.values()),
                "admitted": st["admitted"],
                "not_admitted": {k.split(".", 1)[1]: v for k, v in st.items() if k.startswith("memory.")},
                "memory_size": len(self.team.agents[lang].memory.items),
                "scored": st["scored"], "score_unparseable": st["score_unparseable"], "mean_scores": mean,
                "tokens": st["tokens"], "new_tokens": st["new_tokens"], "seconds": round(st["seconds"], 1),
                "dpo_pairs": st["dpo_pairs"],
            }
        totals: Counter[str] = Counter()
        for row in per_language.values():
            for key in ("proposed", "passed", "passed_first_try", "passed_after_repair", "kept", "rejected_total",
                        "admitted", "tokens", "new_tokens", "dpo_pairs"):
                totals[key] += row[key]
        return {
            "stage": STAGE,
            "mode": self.cfg.mode,
            "memory": self.cfg.memory,
            "reflection": self.cfg.reflection,
            "inputs": len(inputs),
            "skipped_inputs": dict(skips.counts),
            "per_language": per_language,
            "by_stage": {k: dict(v) for k, v in sorted(self.stage_stats.items())},
            "totals": dict(totals),
            "pass_rate": round(totals["passed"] / totals["proposed"], 3) if totals["proposed"] else None,
            "first_try_pass_rate": round(totals["passed_first_try"] / totals["proposed"], 3) if totals["proposed"] else None,
            "tokens_per_kept": round(totals["tokens"] / totals["kept"], 1) if totals["kept"] else None,
            "dpo_rows": len(dpo_rows),
            "llm_calls": {"new": backend.new_calls, "cached": backend.cached_calls},
            "wall_seconds": round(wall, 1),
            "dimensions": list(DIMENSIONS),
            "max_faults_in_prompt": MAX_FAULTS,
        }


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"xinstruct agents ({summary['mode']})")
    for col in ("language", "proposed", "admitted", "passed (1st try + repaired)", "kept", "rejected by reason",
                "mean total", "tokens", "time s"):
        table.add_column(col, justify="left" if col in ("language", "rejected by reason") else "right")
    for lang, row in summary["per_language"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in row["rejected"].items()) or "-"
        total = row["mean_scores"].get("total")
        passed = f"{row['passed']} ({row['passed_first_try']} + {row['passed_after_repair']})"
        table.add_row(lang, str(row["proposed"]), str(row["admitted"]), passed, str(row["kept"]),
                      reasons, f"{total:.2f}" if total is not None else "-", str(row["tokens"]), f"{row['seconds']:.0f}")
    return table
