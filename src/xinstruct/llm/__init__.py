"""One thin backend protocol; backends differ only in transport.

- ``llamacpp``: in-process llama.cpp (the embedded default), KV-cache prefix reuse.
- ``openai``: any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, TGI, Ollama).
- ``transformers``: a Hugging Face directory or a GGUF loaded through transformers; batched.
"""

from xinstruct.llm.base import (
    Backend,
    Completion,
    GenerateRequest,
    GenerateResult,
    SamplingParams,
    ScoreRequest,
    ScoreResult,
)

__all__ = [
    "Backend",
    "Completion",
    "GenerateRequest",
    "GenerateResult",
    "SamplingParams",
    "ScoreRequest",
    "ScoreResult",
]
