"""Settings of ``xinstruct agents`` (defaults < --config YAML < command line)."""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.agents.agreement import VERIFY_MODES
from xinstruct.agents.profiles import DEFAULT_LANGUAGES
from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError
from xinstruct.core.languages import normalize_language

MODES = ("centralized", "parallel")


@dataclass
class AgentsConfig:
    languages: list[str] = option(list(DEFAULT_LANGUAGES), "comma-separated agent languages (any sandbox language)")
    rounds: int = option(3, "collaboration rounds after the seed stage")
    mode: str = option("centralized", "collaboration: one main agent + critics, or all propose in parallel", choices=MODES)
    memory_size: int = option(8, "samples kept in each agent's memory (T)")
    similarity: float = option(0.7, "MinHash Jaccard similarity at or above which a sample is not admitted to memory")
    critics: int = option(2, "teammates who critique the main agent's proposal (centralized mode)")
    dpo_samples: int = option(2, "responses sampled per kept query for preference pairs (0 = no DPO data)")
    min_score: float = option(2.0, "scorer total below which a passing sample is not kept (null scores are kept)")
    memory: bool = option(True, "use generation memory (off: agents evolve raw seed snippets)")
    reflection: bool = option(True, "score each sample and feed merits/faults into the next prompt")
    seed: int = option(0, "run seed; every call's seed derives from it and the call's identity")
    limit: int | None = option(None, "use only the first N input snippets")
    temperature: float = option(0.7, "sampling temperature for generation")
    instruction_tokens: int = option(160, "max tokens for a task statement")
    solution_tokens: int = option(384, "max tokens for a solution")
    tests_tokens: int = option(256, "max tokens for unit tests")
    critique_tokens: int = option(80, "max tokens for a critique")
    score_tokens: int = option(96, "max tokens for the scorer's JSON")
    scorer: str = option(
        "expected", "how a 1-5 rating is read: expected (probability-weighted over the digits at that token: "
        "continuous, ranks samples) or sampled (the digit the model wrote)", choices=("expected", "sampled"),
    )
    repair_rounds: int = option(
        1, "times failing tests are shown their sandbox output and rewritten before a sample is rejected (0: strict)"
    )
    verify: str = option(
        "tests", "how a sample is verified: tests (its solution passes the model's own tests), agreement "
        "(--solutions solutions agree on model-written calls; the tests are written from the agreed outputs) "
        "or both (agreement, and a solution of the agreeing cluster passes the model's tests)",
        choices=VERIFY_MODES,
    )
    solutions: int = option(5, "solutions sampled per task for --verify agreement/both (K)")
    calls: int = option(6, "calls of the task's function written per task for --verify agreement/both")
    min_votes: int = option(3, "solutions that must agree (same outputs on every call) for --verify agreement/both")
    concurrency: int = option(
        8, "samples worked on at once; their LLM calls decode together in one batch", affects_output=False
    )
    exec_timeout: float = option(10.0, "sandbox wall-clock seconds per test run", affects_output=False)

    def validate(self) -> None:
        langs = []
        for name in self.languages:
            canonical = normalize_language(name)
            if canonical is None:
                raise ConfigError(f"--languages: unknown language {name!r}")
            langs.append(canonical)
        if not langs:
            raise ConfigError("--languages: give at least one language")
        self.languages = list(dict.fromkeys(langs))
        if self.rounds < 0 or self.memory_size < 1 or self.critics < 0 or self.dpo_samples < 0 or self.repair_rounds < 0:
            raise ConfigError("rounds, critics, dpo-samples and repair-rounds must be >= 0 and memory-size >= 1")
        if self.solutions < 1 or self.calls < 1 or not 1 <= self.min_votes <= self.solutions:
            raise ConfigError("--solutions and --calls must be >= 1 and --min-votes in [1, --solutions]")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be >= 1")
        if not 0.0 < self.similarity <= 1.0:
            raise ConfigError("--similarity must be in (0, 1]")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("--limit must be >= 1")
