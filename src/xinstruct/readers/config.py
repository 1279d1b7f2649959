"""Reader options shared by every stage that reads corpora."""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError


@dataclass
class ReaderConfig:
    instruction_field: str = option("instruction", "field holding the instruction (also tried: prompt, question, query)")
    output_field: str = option("output", "field holding the response (also tried: response, completion, answer)")
    messages_field: str = option("messages", "field holding chat messages (user/assistant turns)")
    code_field: str = option("code", "field holding code in code-record JSONL (also tried: content, source)")
    language_field: str = option("language", "field naming a code record's language (also tried: lang)")
    max_file_bytes: int = option(200_000, "skip source files larger than this in code directories")
    split_python: bool = option(True, "split Python source files into top-level functions and classes")
    decontaminate: list[str] = option(
        [], "drop inputs sharing a 13-word n-gram with these benchmarks: names (humaneval+,mbpp+,multipl-e:java) "
        "or n-gram files from 'xinstruct eval decontam-export'"
    )

    def validate(self) -> None:
        if self.max_file_bytes <= 0:
            raise ConfigError("max_file_bytes must be positive")
