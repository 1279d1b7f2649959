"""The agents run loop: seed stage, collaboration rounds, DPO sampling, export and summary.

The parts live beside it: input selection (``inputs.py``), output rows (``rows.py``), the ledger
that applies finished samples to the team's state (``ledger.py``) and the scheduling of units
(``schedule.py``). The run follows the run protocol (``core/runs.py``): the directory is checked
against the settings and the model's identity before the model is built.

Work is split into units with stable ids (``seed:<record>``, ``r<round>:<lang>``, ``dpo:<sample>``).
A finished unit is one fsynced line in a shard; its LLM calls are in the call cache. State that
later units read (memories, reflections) is rebuilt by re-applying finished units in their fixed
order, so a resumed run ends with exactly the rows of an uninterrupted one and redoes no call.
Each ended round appends the memories' rows to ``memory_history.jsonl`` (``history.py``).

The units of one stage (all seeds; all agents of one round) read the team's state as it was when
the stage began, so they run concurrently (``--concurrency``): each in its own thread, their LLM
calls decoding together through a ``CoalescingBackend``. Their samples are applied afterwards in
agent order, which keeps the result independent of which unit finished first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from xinstruct.agents.calls import Caller
from xinstruct.agents.collaborate import Agent, Team, centralized_unit, parallel_unit, seed_unit
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.dpo import dpo_unit
from xinstruct.agents.history import MemoryHistory
from xinstruct.agents.inputs import code_inputs
from xinstruct.agents.ledger import STAGE, Ledger
from xinstruct.agents.memory import Memory
from xinstruct.agents.profiles import get_profile
from xinstruct.agents.schedule import Units
from xinstruct.agents.tasks import prompt_hashes
from xinstruct.core.cache import CallCache
from xinstruct.core.config import config_to_dict, output_fingerprint
from xinstruct.core.errors import InputError
from xinstruct.core.pipeline import SkipLog, reasons
from xinstruct.core.progress import make_progress
from xinstruct.core.records import Record
from xinstruct.core.runs import RunDir, ShardWriter, input_identity
from xinstruct.data.dataset_folder import write_dataset_folder
from xinstruct.data.decontam import Decontaminator
from xinstruct.llm.base import Backend
from xinstruct.llm.cached import CachedBackend
from xinstruct.llm.coalesce import CoalescingBackend
from xinstruct.llm.factory import BackendConfig, BackendPlan, GivenBackend, plan_or_given
from xinstruct.readers import ReaderConfig
from xinstruct.sandbox import Sandbox


class AgentsRun:
    """One ``xinstruct agents`` run in a run directory (created or resumed).

    ``backend`` is a built model the caller owns (tests, benchmarks); without it the model is
    built from ``backend_cfg`` after the run directory accepted its identity, and closed at the end.
    """

    def __init__(
        self,
        cfg: AgentsConfig,
        input_path: str | Path,
        out: str | Path,
        backend: Backend | None = None,
        *,
        backend_cfg: BackendConfig | None = None,
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
        self.backend_cfg = backend_cfg
        self.sandbox = sandbox or Sandbox()
        self.console = console or Console(stderr=True)
        self.overwrite = overwrite

    def _open(self) -> BackendPlan | GivenBackend:
        """Open or resume the run directory; the model it checked is built by the executor."""
        cfg = self.cfg
        plan = plan_or_given(self.backend_cfg or BackendConfig(), self.inner_backend)
        model = plan.identity()
        backend_fp = {f"backend.{k}": v for k, v in output_fingerprint(self.backend_cfg).items()} if self.backend_cfg else {}
        config = {"agents": config_to_dict(cfg), "reader": config_to_dict(self.reader_cfg), "input": str(self.input_path)}
        if self.backend_cfg is not None:
            config["backend"] = config_to_dict(self.backend_cfg)
        inputs = input_identity(self.input_path)
        resumed = self.run.open(
            config=config,
            fingerprint={**output_fingerprint(cfg, self.reader_cfg), **backend_fp, "input_sha256": inputs[0]["sha256"]},
            model=model, input=inputs, prompts=prompt_hashes(), seed=cfg.seed,
            overwrite=self.overwrite,
        )
        if resumed:
            self.console.print(f"[cyan]resuming {self.run.path}")
        return plan

    def execute(self) -> dict[str, Any]:
        cfg = self.cfg
        skips = SkipLog()
        decontaminator = Decontaminator.from_specs(self.reader_cfg.decontaminate)
        inputs = code_inputs(self.input_path, cfg.languages, cfg.limit, skips, self.reader_cfg, decontaminator)
        if not inputs:  # before the run directory or the model: nothing to seed any agent with
            raise InputError(
                f"no code in {', '.join(cfg.languages)} to seed the agents ({reasons(skips)}); give code records, a "
                "code directory, or responses with code (fenced or unfenced) in one of these languages, or pick "
                "the corpus's languages with --languages", str(self.input_path))
        for lang in cfg.languages:
            if not any(r.data["language"] == lang for r in inputs):
                skips.add("agents", "agent_without_snippets", detail=lang)
                self.console.print(f"[yellow]{lang}: no {lang} snippets in the input; this agent seeds from the "
                                   "other languages' snippets")
        return self._execute(self._open(), inputs, skips, decontaminator)

    def _execute(self, plan: BackendPlan | GivenBackend, inputs: list[Record], skips: SkipLog,
                 decontaminator: Decontaminator | None) -> dict[str, Any]:
        """The local executor: one backend in this process, a stage's units in threads."""
        inner = plan.build()
        cache = CallCache(self.run.cache_path)
        try:
            backend = CachedBackend(inner, cache)
            shared = CoalescingBackend(backend) if self.cfg.concurrency > 1 else backend
            return self._generate(inputs, skips, decontaminator, backend, Caller(shared, self.cfg.seed))
        finally:
            cache.close()
            if self.inner_backend is None:
                inner.close()

    def _units(self, team: Team, done: dict[str, dict[str, Any]], writer: ShardWriter) -> Units:
        """What produces a stage's unfinished units (the Ray executor sends them to its actors)."""
        return Units(team, done, writer, seed=self.cfg.seed, concurrency=self.cfg.concurrency)

    def _dpo_events(self, team: Team, rows: list[dict[str, Any]], done: dict[str, dict[str, Any]],
                    writer: ShardWriter, backend: Any) -> Iterator[dict[str, Any]]:
        """The DPO unit of each kept row, in order: from the shard, or made now and appended."""
        for row in rows:
            unit = f"dpo:{row['id']}"
            event = done.get(unit)
            if event is None:
                before = backend.new_calls
                event = dpo_unit(team, row, unit)
                event["new_calls"] = backend.new_calls - before
                writer.write(event)
            yield event

    def _generate(self, inputs: list[Record], skips: SkipLog, decontaminator: Decontaminator | None,
                  backend: Any, caller: Caller) -> dict[str, Any]:
        """Seeds, rounds, DPO and the outputs. ``backend`` counts the calls (``new_calls``,
        ``cached_calls``, ``retries_by_kind``); ``caller`` is the team's (the units' calls)."""
        cfg = self.cfg
        agents = {
            lang: Agent(get_profile(lang), Memory(lang, cfg.memory_size, cfg.similarity),
                        snippets=[r for r in inputs if r.data["language"] == lang])
            for lang in cfg.languages
        }
        team = Team(cfg=cfg, caller=caller, sandbox=self.sandbox, agents=agents, inputs=inputs)
        ledger = Ledger(cfg, decontaminator, self.run.path / "memory")
        done = {row["id"]: row for row in self.run.rows("events")}
        done_dpo = {row["id"]: row for row in self.run.rows("dpo")}
        started = time.perf_counter()
        dpo_rows: list[dict[str, Any]] = []
        writer = self.run.writer("events")
        history = MemoryHistory(self.run.path) if cfg.memory else None
        units = self._units(team, done, writer)
        try:
            with make_progress(self.console) as progress, self.run.writer("dpo") as dpo_writer:
                bars = {
                    lang: progress.add_task(f"{lang:<10}", total=len(agents[lang].snippets) + cfg.rounds)
                    for lang in cfg.languages
                }

                def tick(lang: str) -> None:
                    progress.update(bars[lang], advance=1, tokens=ledger.stats[lang]["new_tokens"],
                                    cached=backend.cached_calls)

                # the producers read the team only through their argument: the Ray executor ships them to actors
                seeds = units.run([
                    (f"seed:{r.id}", agents[r.data["language"]],
                     lambda t, r=r: seed_unit(t, t.agents[r.data["language"]], r, f"seed:{r.id}"))
                    for r in inputs
                ])
                for record, sample in zip(inputs, seeds, strict=True):
                    ledger.apply(sample, agents[record.data["language"]], None)
                    tick(record.data["language"])
                if history is not None:
                    history.record(0, agents)
                unit_of = centralized_unit if cfg.mode == "centralized" else parallel_unit
                for round_no in range(1, cfg.rounds + 1):
                    produced = units.run([
                        (f"r{round_no}:{lang}", agents[lang],
                         lambda t, la=lang, n=round_no: unit_of(t, la, n, f"r{n}:{la}"))
                        for lang in cfg.languages
                    ])
                    # parallel proposals are merged: a near-duplicate of an earlier one this round is dropped
                    round_hashes: list[Any] | None = [] if cfg.mode == "parallel" else None
                    for lang, sample in zip(cfg.languages, produced, strict=True):
                        ledger.apply(sample, agents[lang], round_hashes)
                        tick(lang)
                    if history is not None:
                        history.record(round_no, agents)
                if cfg.dpo_samples > 0:
                    dpo_bar = progress.add_task("dpo       ", total=len(ledger.kept))
                    events = self._dpo_events(team, ledger.kept, done_dpo, dpo_writer, backend)
                    for row, event in zip(ledger.kept, events, strict=True):
                        dpo_rows.extend(event["pairs"])
                        ledger.stats[row["language"]]["dpo_pairs"] += len(event["pairs"])
                        progress.update(dpo_bar, advance=1)
        finally:
            writer.close()
            if history is not None:
                history.close()
        for agent in agents.values():
            agent.memory.save(self.run.path / "memory")
        self.run.write_rows("sft", ledger.kept)
        self.run.write_rows("rejected", ledger.rejected)
        self.run.write_rows("dpo", dpo_rows)
        self.run.write_skips(skips.entries)
        summary = ledger.summary(team, inputs, skips, dpo_rows, time.perf_counter() - started, backend)
        dropped = Counter({f"input.{k}": v for k, v in (summary.get("skipped_inputs") or {}).items()})
        for row in summary["per_language"].values():
            dropped.update({f"rejected.{k}": v for k, v in row["rejected"].items()})
        headline = {"proposed": summary["totals"]["proposed"], "kept": summary["totals"]["kept"],
                    "pass_rate": summary["pass_rate"], "first_try_pass_rate": summary["first_try_pass_rate"],
                    "dpo_rows": summary["dpo_rows"]}
        folder = write_dataset_folder(self.run.path, stage=STAGE, rows=ledger.kept, manifest=self.run.manifest(),
                                      dropped=dict(sorted(dropped.items())), headline=headline)
        summary["hub_folder"] = str(folder)
        self.run.write_summary(summary)
        return summary
