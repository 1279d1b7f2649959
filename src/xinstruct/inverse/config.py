"""Inverse-Instruct settings (defaults follow the paper; the demo shrinks only what it must)."""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError
from xinstruct.core.languages import normalize_language

SELECTIONS = ("best", "random", "topk", "threshold", "perplexity", "roundtrip")
JUDGE_LAYOUTS = ("paper", "code-first")
JUDGE_PROMPTS = {"paper": "judge", "code-first": "judge_code_first"}
"""The packaged judge prompt of each layout (``inverse/prompts/<name>.yaml``)."""


@dataclass
class InverseConfig:
    samples: int = option(10, "candidate instructions per snippet (paper: 10)")
    temperature: float = option(0.8, "sampling temperature of the summarizer (paper: 0.8)")
    top_p: float = option(0.95, "nucleus sampling of the summarizer")
    repetition_penalty: float = option(1.1, "repetition penalty of the summarizer")
    max_tokens: int = option(256, "longest candidate instruction, in tokens")
    select: str = option(
        "best", "how to pick candidates: best score, random, top-k, score threshold, lowest perplexity, or "
        "roundtrip (code regenerated from each candidate agrees with the original on model-written calls in "
        "the sandbox; ties and languages without a harness fall back to the score)", choices=SELECTIONS,
    )
    roundtrip_calls: int = option(6, "calls per snippet that original and regenerated code run on (--select roundtrip)")
    roundtrip_window: int = option(
        4, "snippets whose round-trip requests decode together (--select roundtrip; throughput only: a crash "
        "redoes at most these, their finished calls from the cache)", affects_output=False,
    )
    top_k: int = option(2, "candidates kept per snippet with --select topk")
    threshold: float = option(0.5, "minimum score with --select threshold (the best candidate at or above it is kept)")
    seed: int = option(0, "run seed; each call's seed derives from it and the record's identity")
    limit: int | None = option(None, "process at most this many snippets (after extraction)", affects_output=False)
    min_chars: int = option(20, "drop snippets shorter than this")
    max_chars: int = option(6000, "drop snippets longer than this")
    max_lines: int = option(200, "drop snippets with more lines than this")
    languages: list[str] = option([], "keep only these languages (comma-separated canonical names; empty: all)")
    with_original: bool = option(False, "also write the two-stage training file: generated rows (stage 1), then original rows (stage 2)")
    summarize_prompt: str | None = option(None, "YAML file replacing the packaged summarize prompt")
    judge_prompt: str | None = option(None, "YAML file replacing the packaged judge prompt (of either layout)")
    judge_layout: str = option(
        "paper", "judge prompt layout: paper (the instruction, then the code, as in the paper) or code-first (the "
        "code, then the instruction: a snippet's N judge prompts share the code as a prefix, whose KV cells the "
        "llamacpp backend computes once)", choices=JUDGE_LAYOUTS,
    )
    rank: int = option(0, "this worker's shard index (with --world-size)", affects_output=False)
    world_size: int = option(1, "number of workers sharing the input by record id", affects_output=False)
    overwrite: bool = option(False, "start the run directory afresh if it was made with other settings", affects_output=False)

    def validate(self) -> None:
        if self.samples < 1:
            raise ConfigError("samples must be >= 1")
        if not 0 <= self.temperature <= 5:
            raise ConfigError("temperature must be in [0, 5]")
        if not 0 < self.top_p <= 1:
            raise ConfigError("top_p must be in (0, 1]")
        if self.select == "topk" and not 1 <= self.top_k <= self.samples:
            raise ConfigError("top_k must be between 1 and samples")
        if self.select == "threshold" and not 0 <= self.threshold <= 1:
            raise ConfigError("threshold must be in [0, 1]")
        if self.roundtrip_calls < 2:
            raise ConfigError("roundtrip_calls must be >= 2")
        if self.roundtrip_window < 1:
            raise ConfigError("roundtrip_window must be >= 1")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("limit must be >= 1")
        if not 0 <= self.rank < self.world_size:
            raise ConfigError("rank must be in [0, world_size)")
        for name in self.languages:
            if normalize_language(name) != name:
                hint = normalize_language(name)
                fix = f"write {hint!r}" if hint else "use canonical names such as python, java, cpp, javascript"
                raise ConfigError(f"--languages: unknown language {name!r}; {fix}")
        if self.min_chars > self.max_chars:
            raise ConfigError("min_chars must not exceed max_chars")
