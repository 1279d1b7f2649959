"""The ``xinstruct eval`` settings (backend settings come from ``llm.factory.BackendConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError
from xinstruct.eval.prompts import PROMPT_STYLES


@dataclass
class EvalConfig:
    benchmark: list[str] = option(
        [], "benchmark(s): humaneval, humaneval+, mbpp+, multipl-e:<lang>, multipl-e-mbpp:<lang>, mxeval:<lang>, "
        "mbxp:<lang>, humaneval-x:<lang> (repeat or comma-separate)", cli=False, affects_output=False,
    )
    data: Path | None = option(None, "benchmark file, or a directory laid out like XINSTRUCT_DATA", affects_output=False)
    prompt_style: str = option("auto", "auto: continue for MultiPL-E, instruct for the rest (what the measurements "
                               "support, docs/eval.md); instruct: evalplus's chat prompt for a self-contained script + fenced answer; "
                               "continue: the Qwen2.5-Coder report's MultiPL-E chat prompt (complete the given code, "
                               "return it in a code block); completion: chat reply prefilled with the code prompt; "
                               "base: the raw code prompt, no chat template (base models)",
                               choices=("auto", *PROMPT_STYLES))
    n: int = option(1, "samples per task (pass@k needs n >= k)")
    temperature: float = option(0.0, "sampling temperature (0 = greedy)")
    top_p: float = option(0.95, "nucleus sampling mass (ignored when greedy)")
    max_tokens: int | None = option(None, "reply token budget per sample (default: 1024 for the continue style, 512 "
                                    "for the others)")
    seed: int = option(0, "run seed; per-task seeds derive from it (sampling only)")
    limit: int | None = option(None, "evaluate only the first N tasks of each benchmark", affects_output=False)
    tasks: list[str] = option([], "only these task ids (comma-separated; the number after the last / is enough)",
                              affects_output=False)
    task_regex: str | None = option(None, "only task ids matching this regular expression", affects_output=False)
    exec_timeout: float = option(60.0, "sandbox wall-clock seconds per test program (HumanEval+/MBPP+ also limit each input)")
    exec_workers: int = option(2, "test programs run at once", affects_output=False)
    cache: Path | None = option(None, "LLM call cache file (default: RUN_DIR/llm-cache.sqlite); share it between runs",
                                affects_output=False)

    def validate(self) -> None:
        if self.n < 1 or (self.max_tokens is not None and self.max_tokens < 1) or self.exec_workers < 1:
            raise ConfigError("n, max_tokens and exec_workers must be >= 1")
        if self.n > 1 and self.temperature <= 0:
            raise ConfigError("--n > 1 needs --temperature > 0 (greedy samples would all be identical)")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ConfigError("temperature must be >= 0 and top_p in (0, 1]")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("--limit must be >= 1")

    def style_for(self, benchmark: str) -> str:
        """The prompt style a benchmark is asked in: MultiPL-E's measured best under ``auto``.

        Side by side at 1,024 tokens the continue and instruct prompts solve as many MultiPL-E tasks,
        but instruct answers run 1.3-3x longer and 512 tokens cut a fifth of them (results.md).
        """
        if self.prompt_style != "auto":
            return self.prompt_style
        return "continue" if benchmark.startswith("multipl-e:") else "instruct"

    def tokens_for(self, style: str) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        return 1024 if style == "continue" else 512
