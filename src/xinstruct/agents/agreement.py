"""Verification by agreement: solutions that behave alike on the same calls are more often right
than one solution checked by tests whose expected values the same model guessed (CodeT, AlphaCode's
clustering, MBR-exec).

K solutions of a task run on the same model-written calls in the sandbox (:mod:`xinstruct.sandbox.capture`);
solutions with equal outputs on every stable call form a cluster. The largest cluster wins when the
evidence is strong enough, and the dataset's tests are written from its outputs, so they are right by
construction for the behaviour the solutions agree on. Everything the decision used is stored on the
row (``agreement``), so a user can audit why a sample was kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xinstruct.agents.calls import Rendered
from xinstruct.agents.profiles import Profile
from xinstruct.agents.tasks import render
from xinstruct.core.code_analysis import defined_names
from xinstruct.sandbox.capture import Capture, is_value, parse_calls

VERIFY_MODES = ("tests", "agreement", "both")
"""``tests``: the solution passes the model's own tests (the xCoder way); ``agreement``: the largest
behaviour cluster has enough votes; ``both``: agreement, and a solution of that cluster passes the
model's own tests (CodeT's dual agreement)."""


@dataclass
class Cluster:
    members: list[int]
    outputs: list[str | None]
    """The members' canonical output per call (None: the call is not stable, not used)."""
    tests_passed: int = 0
    """Members that pass the model's own tests."""

    @property
    def informative(self) -> list[int]:
        """Calls whose agreed output is a printable value (not an exception, not missing, not an
        opaque ``<...>`` object): what the written tests check."""
        return [i for i, o in enumerate(self.outputs) if is_value(o)]

    def to_dict(self) -> dict[str, Any]:
        return {"members": self.members, "outputs": self.outputs, "tests_passed": self.tests_passed}


@dataclass
class Decision:
    kept: bool
    reason: str
    """``agreed`` when kept; else why not (``no_runnable_solution``, ``too_few_votes`` ...)."""
    cluster: Cluster | None = None
    solution: int | None = None
    """Index of the kept solution (the lowest in the cluster, so solution 0 when it agrees)."""
    clusters: list[Cluster] = field(default_factory=list)


def stable_calls(captures: Sequence[Capture], n_calls: int) -> list[int]:
    """Calls whose output did not change between runs of any solution (nondeterminism excluded)."""
    unstable = {i for c in captures for i in (c.unstable or [])}
    return [i for i in range(n_calls) if i not in unstable]


def runnable(capture: Capture) -> bool:
    """A solution that printed at least one output: compile errors and dead programs have no vote."""
    return any(o is not None for o in capture.outputs)


def cluster_solutions(captures: Sequence[Capture], n_calls: int,
                      tests_pass: Sequence[bool] | None = None) -> list[Cluster]:
    """Runnable solutions grouped by their outputs on the stable calls, largest first (ties: more
    members passing the model's own tests, then the lowest member)."""
    calls = stable_calls(captures, n_calls)
    groups: dict[tuple[str | None, ...], list[int]] = {}
    for k, cap in enumerate(captures):
        if runnable(cap):
            groups.setdefault(tuple(cap.outputs[i] for i in calls), []).append(k)
    clusters = []
    for key, members in groups.items():
        outputs: list[str | None] = [None] * n_calls
        for i, value in zip(calls, key, strict=True):
            outputs[i] = value
        passed = sum(1 for m in members if tests_pass is not None and tests_pass[m])
        clusters.append(Cluster(members, outputs, passed))
    clusters.sort(key=lambda c: (-len(c.members), -c.tests_passed, c.members[0]))
    return clusters


def decide(clusters: list[Cluster], *, min_votes: int, min_checks: int = 2, dual: bool = False) -> Decision:
    """Keep the largest cluster when it has ``min_votes`` members, is larger than the runner-up, and
    its outputs give at least ``min_checks`` values to test; with ``dual``, a member must also pass
    the model's own tests."""
    if not clusters:
        return Decision(False, "no_runnable_solution", clusters=clusters)
    best = clusters[0]
    if len(best.members) < min_votes:
        return Decision(False, "too_few_votes", best, clusters=clusters)
    if len(clusters) > 1 and len(clusters[1].members) == len(best.members) and clusters[1].tests_passed == best.tests_passed:
        return Decision(False, "tied_clusters", best, clusters=clusters)
    if len(best.informative) < min_checks:
        return Decision(False, "too_few_checks", best, clusters=clusters)
    if dual and best.tests_passed == 0:
        return Decision(False, "tests_disagree", best, clusters=clusters)
    return Decision(True, "agreed", best, best.members[0], clusters)


def evidence(calls: Sequence[str], solutions: Sequence[str | None], captures: Sequence[Capture],
             tests_verdicts: Sequence[str | None], decision: Decision, min_votes: int, mode: str) -> dict[str, Any]:
    """What the decision rested on, stored on the row."""
    return {
        "mode": mode,
        "rule": f"largest cluster >= {min_votes} of {len(captures)} solutions"
                + (", a member passes the model's tests" if mode == "both" else ""),
        "calls": list(calls),
        "solutions": [{"code": code, **c.to_dict(), "tests_verdict": v}
                      for code, c, v in zip(solutions, captures, tests_verdicts, strict=True)],
        "clusters": [c.to_dict() for c in decision.clusters],
        "decision": decision.reason,
        "kept_solution": decision.solution,
    }


# ----------------------------------------------------------------------------- the calls to run
@dataclass(frozen=True)
class CallsTask:
    """Writes calls of the task's function without expected values: inputs, not answers, so no
    arithmetic of the model's is trusted; the reply is prefilled with the first call's start."""

    profile: Profile

    def call_prefix(self, name: str) -> str:
        return f"{name} " if self.profile.language == "bash" else f"{name}("

    def format_input(self, row: Mapping[str, Any]) -> Rendered:
        return render("calls", row, prefix=f"```{self.profile.language}\n{self.call_prefix(row['name'])}",
                      stop=("\n```",))

    def format_output(self, text: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """Up to ``count`` distinct calls that the harness can run; unusable lines are dropped."""
        body = self.call_prefix(row["name"]) + text.split("```", 1)[0]
        calls = parse_calls(body, self.profile.language, row["name"], int(row["count"]))
        return {"calls": calls or None, "raw": text, "error": None if calls else "no_calls"}


def main_function(solution: str, instruction: str, language: str) -> str | None:
    """The function the calls exercise: the first the instruction names, else the first defined."""
    names = defined_names(solution, language)
    return next((n for n in names if re.search(rf"\b{re.escape(n)}\b", instruction)), names[0] if names else None)
