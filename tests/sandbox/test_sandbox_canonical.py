"""A few canonical solutions per (language, dataset) pass and their stubs do not."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from xinstruct.eval.benchmarks import canonical_tasks
from xinstruct.sandbox import Job, Sandbox, Verdict

pytestmark = pytest.mark.toolchain
PER_GROUP = 2
# Task ids whose published canonical solution is itself wrong, or imports a module nobody installs so
# the type check rejects it (MBTSP/3 mathjs, MBTSP/4 heap-js); documented in docs/sandbox.md.
KNOWN_BAD = {"MBJSP/2", "MBTSP/2", "MBTSP/3", "MBTSP/4", "MBTSP/5"}


def test_canonical_sample(sandbox: Sandbox, data_dir: Path) -> None:
    tasks, seen = [], collections.Counter()
    for t in canonical_tasks(data_dir):
        if t.task_id in KNOWN_BAD or seen[(t.dataset, t.language)] >= PER_GROUP:
            continue
        seen[(t.dataset, t.language)] += 1
        tasks.append(t)
    assert len(seen) >= 15, seen
    jobs = [Job(t.language, t.solution, t.tests) for t in tasks] + [Job(t.language, t.wrong, t.tests) for t in tasks]
    results = dict(sandbox.run_many(jobs))
    n = len(tasks)
    bad = [(tasks[i].task_id, results[i].verdict.value, results[i].stderr[-300:])
           for i in range(n) if results[i].verdict is not Verdict.PASSED]
    assert not bad, bad
    stubs_passing = [tasks[i - n].task_id for i in range(n, 2 * n) if results[i].verdict is Verdict.PASSED]
    assert not stubs_passing
