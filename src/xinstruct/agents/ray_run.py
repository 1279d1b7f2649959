"""``xinstruct agents --executor ray``: the units of each stage on a pool of Ray actors.

A stage's units (all seeds; the agents of one round; the DPO units) read the team's state as it
was when the stage began and never change it (``collaborate.py``). So the driver sends the
stage's unfinished units with a snapshot of that state (memories and recent faults) to a fixed
pool of actors, each with one backend and its own cache segment (``scale/worker.py``), and applies
the samples it gets back in the local run's fixed order with the local run's code (the ledger,
the memories, ``memory_history.jsonl``): a round's result equals the local executor's. The actors
live for the whole run, so a model is loaded once per actor, not once per round.

Sandbox runs (tests, repairs, DPO responses) go to Ray as CPU tasks when the cluster has a CPU
left beside the actors; otherwise (a cluster whose CPUs the actors hold) they run in the actor.
Finished units are appended to the events shard by the driver as each batch returns; a killed
actor's finished calls are in its segment, so a rerun (or the actor Ray starts instead) redoes
only the calls that were not finished.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

from xinstruct.agents.calls import Caller
from xinstruct.agents.collaborate import Agent, Team
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.dpo import dpo_unit
from xinstruct.agents.ledger import STAGE
from xinstruct.agents.memory import Memory
from xinstruct.agents.pipeline import AgentsRun
from xinstruct.agents.profiles import get_profile
from xinstruct.agents.schedule import Units
from xinstruct.core.errors import ConfigError
from xinstruct.core.pipeline import SkipLog
from xinstruct.core.records import Record
from xinstruct.core.runs import ShardWriter
from xinstruct.data.decontam import Decontaminator
from xinstruct.llm.factory import BackendPlan, GivenBackend
from xinstruct.sandbox import Job, Result, Sandbox
from xinstruct.scale.cluster import actor_pool_args, connected
from xinstruct.scale.config import ScaleConfig
from xinstruct.scale.segments import merge_segments
from xinstruct.scale.worker import BatchWorker, engine_guard

State = dict[str, tuple[dict[str, Any], list[str]]]
"""Each agent's memory (``Memory.to_dict``) and recent faults when a stage began."""


def team_state(agents: dict[str, Agent]) -> State:
    return {lang: (a.memory.to_dict(), list(a.faults)) for lang, a in agents.items()}


def _run_jobs(jobs: list[Job], concurrency: int | None) -> list[Result]:
    """The body of a sandbox CPU task: the jobs' results, in order."""
    with Sandbox(prestart=0) as sandbox:
        return [r for _, r in sorted(sandbox.run_many(jobs, concurrency), key=lambda x: x[0])]


class TaskSandbox:
    """The sandbox calls of the agents' steps (``run``, ``run_many``) as Ray tasks of one CPU."""

    def __init__(self, ray: Any) -> None:
        self.ray = ray
        self.remote = ray.remote(num_cpus=1, max_retries=3)(_run_jobs)

    def run(self, job: Job) -> Result:
        return self.ray.get(self.remote.remote([job], 1))[0]

    def run_many(self, jobs: Sequence[Job], concurrency: int | None = None) -> Iterator[tuple[int, Result]]:
        jobs = list(jobs)
        if not jobs:
            return iter(())
        return enumerate(self.ray.get(self.remote.remote(jobs, concurrency)))


class AgentsWorker(BatchWorker):
    """A model actor of an agents run: produces batches of units from a snapshot of the team."""

    stage = STAGE

    def __init__(self, run_path: str, plan: Any, threads: int, cfg: AgentsConfig, inputs: list[Record],
                 sandbox_tasks: bool) -> None:
        super().__init__(run_path, plan, threads)
        import ray

        self.cfg, self.inputs = cfg, inputs
        self.sandbox = TaskSandbox(ray) if sandbox_tasks else Sandbox()

    def ping(self) -> bool:
        return True

    def _team(self, state: State) -> Team:
        agents = {}
        for lang in self.cfg.languages:
            memory, faults = state.get(lang, (None, []))
            agent = Agent(get_profile(lang), Memory.from_dict(memory) if memory else
                          Memory(lang, self.cfg.memory_size, self.cfg.similarity),
                          snippets=[r for r in self.inputs if r.data["language"] == lang])
            agent.faults.extend(faults)
            agents[lang] = agent
        return Team(cfg=self.cfg, caller=Caller(self.llm, self.cfg.seed), sandbox=self.sandbox, agents=agents,
                    inputs=self.inputs)

    def _counted(self, work: Any) -> dict[str, Any]:
        stored, hits, retries = self.cache.stored, self.cache.hits, self.inner.retries_by_kind()
        with engine_guard():
            out = work()
        after = self.inner.retries_by_kind()
        return {"out": out, "new_calls": self.cache.stored - stored, "cached_calls": self.cache.hits - hits,
                "retries": {k: v - retries.get(k, 0) for k, v in after.items() if v - retries.get(k, 0)}}

    def units(self, state: State, jobs: list[tuple[str, str, Any]]) -> dict[str, Any]:
        """The samples of ``jobs`` (unit id, language, producer), in order, metered as a local run's."""
        team = self._team(state)
        units = Units(team, {}, _Discard(), seed=self.cfg.seed, concurrency=self.threads)  # type: ignore[arg-type]
        return self._counted(lambda: units.run([(unit, team.agents[lang], produce) for unit, lang, produce in jobs]))

    def dpo(self, state: State, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The DPO events of kept rows, in order."""
        team = self._team(state)

        def one(row: dict[str, Any]) -> dict[str, Any]:
            caller = Caller(self.llm, self.cfg.seed)
            event = dpo_unit(replace(team, caller=caller), row, f"dpo:{row['id']}")
            event["new_calls"] = caller.meter.calls - caller.meter.cached_calls
            return event

        def work() -> list[dict[str, Any]]:
            with ThreadPoolExecutor(max(1, min(self.threads, len(rows)))) as pool:
                return list(pool.map(one, rows))

        return self._counted(work)


class _Discard:
    """The actor's shard writer: the driver writes the samples it gets back."""

    def write(self, row: dict[str, Any]) -> None:
        pass


class ActorPool:
    """The run's actors, and the calls they made (what a local run's ``CachedBackend`` counts)."""

    def __init__(self, ray: Any, actors: list[Any], batch_size: int) -> None:
        self.ray, self.actors, self.batch_size = ray, actors, batch_size
        self.new_calls = self.cached_calls = 0
        self.retries: dict[str, int] = {}

    def retries_by_kind(self) -> dict[str, int]:
        return dict(self.retries)

    def scatter(self, method: str, state: State, items: list[Any]) -> Iterator[list[Any]]:
        """Results of ``items`` in batches spread over the actors, each batch as it finishes."""
        per = max(1, min(self.batch_size, math.ceil(len(items) / len(self.actors))))
        ref = self.ray.put(state)
        pending = [getattr(self.actors[k % len(self.actors)], method).remote(ref, items[i:i + per])
                   for k, i in enumerate(range(0, len(items), per))]
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=1)
            got = self.ray.get(ready[0])
            self.new_calls += got["new_calls"]
            self.cached_calls += got["cached_calls"]
            for kind, n in got["retries"].items():
                self.retries[kind] = self.retries.get(kind, 0) + n
            yield got["out"]


class RayUnits(Units):
    """:class:`Units` whose unfinished units run on the actors; the driver appends their samples."""

    def __init__(self, team: Team, done: dict[str, dict[str, Any]], writer: ShardWriter, pool: ActorPool) -> None:
        super().__init__(team, done, writer, seed=team.cfg.seed, concurrency=1)
        self.pool = pool

    def run(self, jobs: Sequence[Any]) -> list[dict[str, Any]]:
        todo = [(unit, agent.language, produce) for unit, agent, produce in jobs if unit not in self.done]
        if todo:
            for samples in self.pool.scatter("units", team_state(self.team.agents), todo):
                for sample in samples:
                    self.writer.write(sample)
                    self.done[sample["id"]] = sample
        return [self.done[unit] for unit, _, _ in jobs]


class AgentsRayRun(AgentsRun):
    """An agents run whose units run on Ray; the driver never builds the model.

    ``backend`` (tests, benchmarks) is a built backend every actor receives a copy of.
    """

    def __init__(self, cfg: AgentsConfig, input_path: Any, out: Any, backend: Any = None, *,
                 scale: ScaleConfig, **kwargs: Any) -> None:
        super().__init__(cfg, input_path, out, backend, **kwargs)
        self.scale = scale
        self.pool: ActorPool | None = None

    def _execute(self, plan: BackendPlan | GivenBackend, inputs: list[Record], skips: SkipLog,
                 decontaminator: Decontaminator | None) -> dict[str, Any]:
        scale = self.scale
        args = actor_pool_args(scale)
        with connected(scale) as ray:
            free = ray.cluster_resources().get("CPU", 0) - args["concurrency"] * args["num_cpus"]
            sandbox_tasks = free >= 1
            actor = ray.remote(AgentsWorker).options(
                num_cpus=args["num_cpus"], num_gpus=args["num_gpus"], max_restarts=args["max_restarts"],
                max_task_retries=args["max_task_retries"])
            actors = [actor.remote(str(self.run.path), plan, scale.ray_batch_size, self.cfg, inputs, sandbox_tasks)
                      for _ in range(args["concurrency"])]
            self.pool = ActorPool(ray, actors, scale.ray_batch_size)
            try:
                summary = self._generate(inputs, skips, decontaminator, self.pool, Caller(_NoModel(), self.cfg.seed))
            finally:
                stop(ray, actors)
        merged = merge_segments(self.run.path)
        summary["executor"] = {"executor": "ray", "actors": scale.ray_actors, "batch_size": scale.ray_batch_size,
                               "sandbox": "tasks" if sandbox_tasks else "actor", "cache_merge": asdict(merged)}
        self.run.write_summary(summary)
        return summary

    def _units(self, team: Team, done: dict[str, dict[str, Any]], writer: ShardWriter) -> Units:
        assert self.pool is not None
        return RayUnits(team, done, writer, self.pool)

    def _dpo_events(self, team: Team, rows: list[dict[str, Any]], done: dict[str, dict[str, Any]],
                    writer: ShardWriter, backend: Any) -> Iterator[dict[str, Any]]:
        assert self.pool is not None
        todo = [row for row in rows if f"dpo:{row['id']}" not in done]
        if todo:
            for events in self.pool.scatter("dpo", {}, todo):
                for event in events:
                    writer.write(event)
                    done[event["id"]] = event
        for row in rows:
            yield done[f"dpo:{row['id']}"]


def stop(ray: Any, actors: list[Any]) -> None:
    """Kill the actors and wait until they are gone: their CPUs go back to the cluster (a shared one
    outlives the run), and after a failed run no actor still writes a segment when the driver returns."""
    for a in actors:
        ray.kill(a)
    for a in actors:
        with contextlib.suppress(ray.exceptions.RayActorError):  # dead, as asked
            ray.get(a.ping.remote(), timeout=60)


class _NoModel:
    """The driver's team has no model: every call is made by an actor."""

    kind = "none"

    def generate(self, requests: Any) -> Any:
        raise ConfigError("an agents run on Ray makes its model calls in the actors, not in the driver")
