"""From (task, extracted code) to sandbox jobs, one assembly rule per task kind."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from xinstruct.core.code_analysis import sanitize_python
from xinstruct.eval.benchmarks import Task
from xinstruct.eval.extract import cut_at_stops, pick_code, prompt_imports, splice
from xinstruct.sandbox import Job, Limits

MIN_TIME_LIMIT = 1.0
"""Per-input time limit floor for HumanEval+/MBPP+ (evalplus: max(1 s, 4 x canonical time))."""
TIME_FACTOR = 4.0


@functools.cache
def _runner_source() -> str:
    return (resources.files("xinstruct.eval") / "evalplus_runner.py").read_text(encoding="utf-8")


@dataclass
class Candidate:
    code: str
    """What is tested: the sanitized script (Python benchmarks) or the assembled program (others)."""
    job: Job


def extract_code(task: Task, answer: str, style: str, completion: str) -> str:
    """The answer's code for this task: chat answers via fences, completion style via stop sequences."""
    if style in ("completion", "base"):
        body = cut_at_stops(completion, task.stop)
        if task.kind == "splice" and task.benchmark.startswith("multipl-e"):
            return body  # MultiPL-E semantics: prompt + completion + tests, verbatim
        return task.prompt + body
    code = pick_code(answer, task.language, task.entry_point)
    if task.language == "python":
        code = sanitize_python(code, task.entry_point)
    return code


def build_candidate(task: Task, code: str, style: str, limits: Limits) -> Candidate:
    """Assemble the sandbox job for one extracted answer."""
    if task.kind == "evalplus":
        solution = prompt_imports(task.prompt) + code
        spec = {
            "task_id": task.task_id, "entry_point": task.entry_point, "dataset": task.extra["dataset"],
            "atol": task.extra["atol"], "base": task.extra["base_input"], "plus": task.extra["plus_input"],
            "reference": task.prompt + (task.canonical or ""), "min_time_limit": MIN_TIME_LIMIT,
            "time_factor": TIME_FACTOR,
        }
        files = {"solution.py": solution, "_evalplus.json": json.dumps(spec)}
        return Candidate(solution, Job("python", _runner_source(), tests="", limits=limits, files=files))
    if task.kind == "check":
        program = prompt_imports(task.prompt) + code
        return Candidate(program, Job("python", program, tests=task.tests, limits=limits))
    if style in ("completion", "base") and task.benchmark.startswith("multipl-e"):
        program = task.setup + task.prompt + code + "\n" + task.tests
    else:
        program = splice(task.prompt, task.tests, code, task.entry_point, task.language, task.setup).program
    return Candidate(program, Job(task.language, program, tests="", limits=limits))
