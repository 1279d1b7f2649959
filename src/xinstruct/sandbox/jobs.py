"""What goes into a sandbox and what comes out: jobs, limits, verdicts, results.

Kept apart from the process layer so callers and the verdict rules can use them without bubblewrap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    OUTPUT_LIMIT = "output_limit"
    UNAVAILABLE = "unavailable"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True)
class Limits:
    """Per-job limits. ``cpu`` defaults to ``timeout``; compile steps get their own, larger budget."""

    timeout: float = 10.0
    cpu: float | None = None
    memory_mb: int = 512
    processes: int = 64
    file_size_mb: int = 16
    open_files: int = 256
    output_bytes: int = 1 << 20
    compile_timeout: float = 60.0
    compile_memory_mb: int = 2048


@dataclass
class Job:
    language: str
    code: str
    tests: str | None = None
    stdin: str = ""
    limits: Limits = field(default_factory=Limits)
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Result:
    verdict: Verdict
    language: str
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    message: str = ""
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    total_seconds: float = 0.0
    cached: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        return d


@dataclass
class RawOutcome:
    """What one sandboxed process did, before any language-specific judgement."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    cpu_seconds: float = 0.0
    killed: str = ""  # "timeout" | "memory" | "output" when we killed it
