"""How samples are made: seed samples from code (Ds1, Ds2) and collaboration-round samples.

Every function here reads the team's state (memories, reflections) and makes LLM calls, but never
changes the state: the run loop applies finished samples in a fixed order, which is what makes a
resumed run rebuild exactly the memories of an uninterrupted one.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from xinstruct.agents.agreement import CallsTask, cluster_solutions, decide, evidence, main_function
from xinstruct.agents.calls import Caller
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.memory import Memory
from xinstruct.agents.profiles import Profile, get_profile
from xinstruct.agents.scorer import merits_and_faults, score_sample
from xinstruct.agents.tasks import (
    CodeTask,
    CritiqueTask,
    InstructionTask,
    TestsTask,
    clip,
    load_prompts,
    profile_vars,
)
from xinstruct.agents.verify import run_tests, verify
from xinstruct.core.records import Record
from xinstruct.core.seeds import derive_seed
from xinstruct.llm.base import Completion
from xinstruct.sandbox import Limits, Sandbox
from xinstruct.sandbox.capture import Capture, checks_from_outputs, compiling_calls, run_capture, supported

MAX_FAULTS = 3
REPAIRABLE = {"failed", "runtime_error", "compile_error", "no_checks"}
"""Verdicts a test rewrite can fix (a wrong expected value, a test that does not compile); a
timeout or a missing toolchain is not the tests' fault."""


@dataclass
class Agent:
    """One language agent: profile, generation memory, recent faults (reflection) and seed snippets."""

    profile: Profile
    memory: Memory
    faults: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_FAULTS))
    snippets: list[Record] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.profile.language


@dataclass
class Team:
    cfg: AgentsConfig
    caller: Caller
    sandbox: Sandbox
    agents: dict[str, Agent]
    inputs: list[Record]

    @property
    def limits(self) -> Limits:
        return Limits(timeout=self.cfg.exec_timeout)

    def reflection(self, agent: Agent) -> str:
        """Merits of the best remembered sample and the latest faults, for the agent's next prompt."""
        if not self.cfg.reflection:
            return ""
        lines = []
        top = agent.memory.top(1)
        if top:
            merits, _ = merits_and_faults(top[0].get("scores"))
            if merits:
                lines.append(f"Reviewers liked: {', '.join(merits)}.")
        if agent.faults:
            lines.append("Avoid these problems of earlier samples: " + "; ".join(dict.fromkeys(agent.faults)) + ".")
        return "\n".join(lines)


def new_sample(unit: str, stage: str, agent: Agent, round_no: int) -> dict[str, Any]:
    return {
        "id": unit, "stage": stage, "round": round_no, "agent": agent.language, "language": agent.language,
        "instruction": None, "solution": None, "tests": None, "parents": [], "evolution": None,
        "critiques": [], "verdict": None, "verdict_message": "", "first_verdict": None, "repairs": 0,
        "scores": None, "score_raw": None,
        "error": None, "raw": {},
    }


# ----------------------------------------------------------------------------- shared steps
def write_solution(team: Team, agent: Agent, sample: dict[str, Any], prompt: str, values: dict[str, Any]) -> bool:
    task = CodeTask(prompt, agent.profile)
    reply = team.caller.completions(
        task.format_input(values), keys=(sample["id"], prompt), max_tokens=team.cfg.solution_tokens,
        temperature=team.cfg.temperature,
    )[0]
    out = task.format_output(reply.text, finish_reason=reply.finish_reason)
    sample["raw"][prompt] = reply.text
    sample["solution"] = out["solution"]
    if out["solution"] is None:
        sample["error"] = out["error"]
        return False
    return True


def write_instruction(team: Team, sample: dict[str, Any], prompt: str, values: dict[str, Any]) -> str | None:
    task = InstructionTask(prompt)
    text = team.caller.complete(
        task.format_input(values), keys=(sample["id"], prompt), max_tokens=team.cfg.instruction_tokens,
        temperature=team.cfg.temperature,
    )[0]
    sample["raw"][prompt] = text
    out = task.format_output(text)
    if out["instruction"] is None:
        sample["instruction_rejected"] = out.get("error")
    return out["instruction"]


def no_instruction(sample: dict[str, Any]) -> str:
    """The rejection reason of a sample without a task: ``no_instruction.<cleaning reason>``."""
    reason = sample.get("instruction_rejected")
    return f"no_instruction.{reason}" if reason else "no_instruction"


def test_and_score(team: Team, agent: Agent, sample: dict[str, Any]) -> dict[str, Any]:
    """Tests, sandbox verdict (with up to ``repair_rounds`` rewrites of failing tests), agreement
    when ``--verify`` asks for it, and the reflection score, for a sample with instruction and solution."""
    if _model_tests(team, agent, sample) is None and team.cfg.verify == "tests":
        return sample
    if team.cfg.verify != "tests":
        sample["error"] = None  # tests the model could not write are evidence missing, not a rejection
        verify_by_agreement(team, agent, sample)
    if team.cfg.reflection:
        scored = score_sample(team.caller, agent.profile, sample, sample["id"], team.cfg.score_tokens,
                              expected=team.cfg.scorer == "expected")
        sample["scores"], sample["score_raw"] = scored["scores"], scored["raw"]
    return sample


def _model_tests(team: Team, agent: Agent, sample: dict[str, Any]) -> str | None:
    """The model's own tests and their verdict on the solution (None when it wrote none)."""
    values = {**profile_vars(agent.profile), "instruction": sample["instruction"], "solution": sample["solution"]}
    if not _write_tests(team, agent, sample, TestsTask(agent.profile), values, "tests"):
        return None
    result = verify(team.sandbox, agent.language, sample["solution"], sample["tests"], team.limits)
    sample["first_verdict"] = result["verdict"]
    for attempt in range(1, team.cfg.repair_rounds + 1):
        if result["verdict"] not in REPAIRABLE:
            break
        repair = {**values, "tests": sample["tests"], "verdict": result["verdict"].replace("_", " "),
                  "output": result["output"] or result["message"]}
        if not _write_tests(team, agent, sample, TestsTask(agent.profile, "repair_tests"), repair, f"repair{attempt}"):
            sample["error"] = None  # the first tests still stand and carry the verdict
            break
        sample["repairs"] = attempt
        result = verify(team.sandbox, agent.language, sample["solution"], sample["tests"], team.limits)
    sample["verdict"], sample["verdict_message"] = result["verdict"], result["message"]
    return str(sample["tests"])


def verify_by_agreement(team: Team, agent: Agent, sample: dict[str, Any]) -> None:
    """Replace the verdict of the model's own tests by the agreement of ``cfg.solutions`` solutions
    on model-written calls; a kept sample gets the kept solution and tests written from the agreed
    outputs. The model's tests stay on the row (``model_tests``) and vote in ``both`` mode."""
    cfg, lang = team.cfg, agent.language
    sample["tests_verdict"], sample["model_tests"] = sample["verdict"], sample["tests"]
    if not supported(lang):  # no capture harness: the model's own tests decide, as with --verify tests
        sample["agreement"] = {"mode": cfg.verify, "decision": "no_harness_for_language"}
        return
    values = {**profile_vars(agent.profile), "instruction": sample["instruction"]}
    task, calls_task = CodeTask("solution", agent.profile), CallsTask(agent.profile)
    name = main_function(str(sample["solution"]), str(sample["instruction"]), lang)
    row = {**values, "solution": sample["solution"], "name": name, "count": cfg.calls}

    def more_solutions() -> list[Completion]:
        if cfg.solutions == 1:
            return []
        return team.caller.completions(task.format_input(values), keys=(sample["id"], "solutions"),
                                       max_tokens=cfg.solution_tokens, temperature=cfg.temperature,
                                       n=cfg.solutions - 1)

    def write_calls() -> str | None:
        if not name:
            return None
        return team.caller.complete(calls_task.format_input(row), keys=(sample["id"], "calls"),
                                    max_tokens=cfg.tests_tokens, temperature=cfg.temperature)[0]

    # independent requests: sent from two threads they decode in the same batch
    with ThreadPoolExecutor(2) as pool:
        replies_future, calls_future = pool.submit(more_solutions), pool.submit(write_calls)
        replies, calls_text = replies_future.result(), calls_future.result()
    sample["raw"]["solutions"] = [r.text for r in replies]
    solutions: list[str | None] = [sample["solution"]]
    solutions += [task.format_output(r.text, finish_reason=r.finish_reason)["solution"] for r in replies]
    sample["raw"]["calls"] = calls_text
    calls: list[str] = (calls_task.format_output(calls_text, row)["calls"] or []) if calls_text is not None else []
    present = [k for k, s in enumerate(solutions) if s]
    valid: list[str] = []
    for k in present[:2]:  # the calls that compile with the first solution that compiles at all
        valid = compiling_calls(team.sandbox, lang, str(solutions[k]), calls, team.limits)
        if valid:
            break
    sample["raw"]["dropped_calls"] = [c for c in calls if c not in valid]
    calls = valid
    captures = [Capture([None] * len(calls), "no_solution") for _ in solutions]
    tests_verdicts: list[str | None] = [None] * len(solutions)
    if calls:
        for k, cap in zip(present, run_capture(team.sandbox, lang, [solutions[k] for k in present], calls,
                                               team.limits), strict=True):
            captures[k] = cap
    if sample["tests"]:
        pairs = [(str(solutions[k]), str(sample["tests"])) for k in present]
        for k, res in zip(present, run_tests(team.sandbox, lang, pairs, team.limits), strict=True):
            tests_verdicts[k] = res["verdict"]
    clusters = cluster_solutions(captures, len(calls), [v == "passed" for v in tests_verdicts])
    decision = decide(clusters, min_votes=cfg.min_votes, dual=cfg.verify == "both")
    sample["agreement"] = evidence(calls, solutions, captures, tests_verdicts, decision, cfg.min_votes, cfg.verify)
    if not decision.kept or decision.cluster is None or decision.solution is None:
        sizes = ",".join(str(len(c.members)) for c in clusters) or "none"
        sample["verdict"] = "no_agreement"
        sample["verdict_message"] = f"{decision.reason} (clusters {sizes} of {len(solutions)}; {len(calls)} calls)"
        return
    checked = decision.cluster.informative
    tests = checks_from_outputs(lang, [calls[i] for i in checked], [str(decision.cluster.outputs[i]) for i in checked])
    solution = str(solutions[decision.solution])
    final = verify(team.sandbox, lang, solution, tests, team.limits)
    sample["solution"], sample["tests"] = solution, tests
    if final["verdict"] != "passed":  # the harness, not the solution: agreed outputs must reproduce
        sample["verdict"], sample["verdict_message"] = "no_agreement", f"agreed tests did not pass: {final['message']}"
        return
    sample["verdict"], sample["verdict_message"] = "passed", decision.reason


def _write_tests(team: Team, agent: Agent, sample: dict[str, Any], task: TestsTask, values: dict[str, Any],
                 key: str) -> bool:
    text = team.caller.complete(
        task.format_input(values), keys=(sample["id"], key), max_tokens=team.cfg.tests_tokens,
        temperature=team.cfg.temperature,
    )[0]
    sample["raw"][key] = text
    out = task.format_output(text, values)
    if out["tests"] is None:
        sample["error"] = out["error"]
        return False
    sample["tests"] = out["tests"]
    return True


# ----------------------------------------------------------------------------- seed stage
def seed_method(run_seed: int, record_id: str) -> str:
    """Ds1 (instruction first) or Ds2 (response first), split evenly by record identity."""
    return ("ds1", "ds2")[derive_seed(run_seed, "method", record_id) % 2]


def seed_unit(team: Team, agent: Agent, record: Record, unit: str) -> dict[str, Any]:
    method = seed_method(team.cfg.seed, record.id)
    sample = new_sample(unit, f"seed-{method}", agent, 0)
    sample["parents"] = [{"id": record.id, "agent": agent.language, "language": agent.language, "kind": "snippet"}]
    values = {**profile_vars(agent.profile), "code": clip(str(record.data["code"]), 1500)}
    if method == "ds1":
        sample["instruction"] = write_instruction(team, sample, "instruction_from_code", values)
        if sample["instruction"] is None:
            sample["error"] = no_instruction(sample)
            return sample
        if not write_solution(team, agent, sample, "solution", {**values, "instruction": sample["instruction"]}):
            return sample
    else:
        if not write_solution(team, agent, sample, "response_from_code", values):
            return sample
        sample["instruction"] = write_instruction(
            team, sample, "instruction_from_response", {**values, "solution": sample["solution"]}
        )
        if sample["instruction"] is None:
            sample["error"] = no_instruction(sample)
            return sample
    return test_and_score(team, agent, sample)


# ----------------------------------------------------------------------------- rounds
def example(team: Team, agent: Agent, round_no: int, role: str) -> dict[str, Any]:
    """A sample from the agent's memory (top 3, chosen by seed), or a seed snippet without memory."""
    seed = derive_seed(team.cfg.seed, "pick", round_no, agent.language, role)
    items = agent.memory.top(3) if team.cfg.memory else []
    if items:
        item = items[seed % len(items)]
        return {"id": item["id"], "agent": agent.language, "language": item["language"], "kind": "memory",
                "text": clip(str(item["instruction"]), 500)}
    pool = agent.snippets or team.inputs
    rec = pool[seed % len(pool)]
    lang = str(rec.data.get("language") or agent.language)
    return {"id": rec.id, "agent": agent.language, "language": lang, "kind": "snippet",
            "text": "A task solved by this code:\n```" + lang + "\n" + clip(str(rec.data["code"]).strip(), 600) + "\n```"}


def teammates(team: Team, lang: str, round_no: int) -> list[str]:
    """Other agents in an order fixed by the seed (critics, peers)."""
    others = [x for x in team.agents if x != lang]
    return sorted(others, key=lambda x: derive_seed(team.cfg.seed, "mate", round_no, lang, x))


def _parent(ex: dict[str, Any]) -> dict[str, Any]:
    return {k: ex[k] for k in ("id", "agent", "language", "kind")}


def _propose(team: Team, agent: Agent, sample: dict[str, Any], round_no: int, peer: dict[str, Any] | None) -> str | None:
    own = example(team, agent, round_no, "own")
    ops = list(load_prompts()["evolutions"])
    op = ops[derive_seed(team.cfg.seed, "evolve", round_no, agent.language) % len(ops)]
    if op == "port" and peer is None:
        op = "difficulty"
    disp = agent.profile.display
    lines = [f"1. ({disp}) {own['text']}"]
    if peer is not None:
        lines.append(f"2. ({get_profile(peer['language']).display}) {peer['text']}")
    peer_display = get_profile(peer["language"]).display if peer else disp
    evolution = load_prompts()["evolutions"][op].format(display=disp, peer_display=peer_display)
    sample["evolution"] = op
    sample["parents"] = [_parent(own)] + ([_parent(peer)] if peer else [])
    values = {**profile_vars(agent.profile), "examples": "\n".join(lines), "reflection": team.reflection(agent),
              "evolution": evolution}
    return write_instruction(team, sample, "propose", values)


def centralized_unit(team: Team, lang: str, round_no: int, unit: str) -> dict[str, Any]:
    """Main agent ``lang`` proposes, teammates critique from their own memories, the main agent finalizes."""
    agent = team.agents[lang]
    sample = new_sample(unit, "centralized", agent, round_no)
    critics = teammates(team, lang, round_no)[: team.cfg.critics]
    peers = [example(team, team.agents[c], round_no, "peer") for c in critics]
    draft = _propose(team, agent, sample, round_no, peers[0] if peers else None)
    if draft is None:
        sample["error"] = no_instruction(sample)
        return sample
    sample["parents"] = [sample["parents"][0], *(_parent(p) for p in peers)]
    critiques = []
    for critic, peer in zip(critics, peers, strict=True):
        task = CritiqueTask()
        values = {**profile_vars(agent.profile), "critic_display": get_profile(critic).display,
                  "instruction": draft, "critic_example": clip(peer["text"], 300)}
        text = team.caller.complete(
            task.format_input(values), keys=(unit, "critique", critic), max_tokens=team.cfg.critique_tokens,
            temperature=team.cfg.temperature,
        )[0]
        parsed = task.format_output(text)
        if parsed["critique"]:
            critiques.append({"agent": critic, "text": parsed["critique"]})
    sample["critiques"] = critiques
    sample["draft"] = draft
    final = None
    if critiques:
        values = {**profile_vars(agent.profile), "instruction": draft,
                  "critiques": "\n".join(f"- ({get_profile(c['agent']).display} agent) {c['text']}" for c in critiques)}
        final = write_instruction(team, sample, "finalize", values)
    sample["instruction"] = final or draft
    if not write_solution(team, agent, sample, "solution", {**profile_vars(agent.profile), "instruction": sample["instruction"]}):
        return sample
    return test_and_score(team, agent, sample)


def parallel_unit(team: Team, lang: str, round_no: int, unit: str) -> dict[str, Any]:
    """Agent ``lang`` proposes on its own from its memory and one teammate's sample (merged by the loop)."""
    agent = team.agents[lang]
    sample = new_sample(unit, "parallel", agent, round_no)
    mates = teammates(team, lang, round_no)
    peer = example(team, team.agents[mates[0]], round_no, "peer") if mates else None
    sample["instruction"] = _propose(team, agent, sample, round_no, peer)
    if sample["instruction"] is None:
        sample["error"] = no_instruction(sample)
        return sample
    if not write_solution(team, agent, sample, "solution", {**profile_vars(agent.profile), "instruction": sample["instruction"]}):
        return sample
    return test_and_score(team, agent, sample)
