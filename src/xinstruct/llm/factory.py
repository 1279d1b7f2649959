"""Backend selection from a validated config (what every stage's CLI shares)."""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError
from xinstruct.llm.base import Backend
from xinstruct.models.registry import ModelRef, resolve_model

BACKENDS = ("llamacpp", "openai", "transformers")


@dataclass
class BackendConfig:
    model: str | None = option(
        None, "registered model name, GGUF file or Hugging Face directory (default: the embedded model)"
    )
    backend: str = option("llamacpp", "LLM transport", choices=BACKENDS)
    base_url: str | None = option(
        None,
        "OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1 (openai backend)",
        affects_output=False,
    )
    served_model: str | None = option(
        None, "model name the server expects (openai backend; default: first of /v1/models)"
    )
    api: str = option(
        "auto",
        "openai backend: 'completions' renders the chat template locally (needed for reply prefixes), 'chat' uses /chat/completions",
        choices=("auto", "completions", "chat"),
    )
    api_key: str | None = option(
        None, "API key for the server (or set it in the config file)", affects_output=False
    )
    concurrency: int = option(4, "requests in flight (openai backend)", affects_output=False)
    timeout: float = option(
        300.0, "seconds per request before retrying (openai backend)", affects_output=False
    )
    retries: int = option(
        4, "retries with exponential backoff on transport errors (openai backend)", affects_output=False
    )
    n_ctx: int = option(4096, "context window (llamacpp backend)", affects_output=False)
    threads: int | None = option(
        None, "CPU threads (llamacpp backend; default: all cores)", affects_output=False
    )
    parallel: int = option(
        4,
        "sequences decoded together in one forward pass (llamacpp backend; 1 = one at a time)",
        affects_output=False,
    )
    batch_size: int = option(8, "prompts per forward pass (transformers backend)", affects_output=False)

    def validate(self) -> None:
        if self.backend == "openai" and not self.base_url:
            raise ConfigError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        if self.parallel < 1:
            raise ConfigError(f"--parallel must be >= 1, got {self.parallel}")
        if self.concurrency < 1 or self.retries < 0 or self.timeout <= 0:
            raise ConfigError("concurrency must be >= 1, retries >= 0 and timeout > 0")


def resolve_backend_model(cfg: BackendConfig) -> ModelRef | None:
    """The local model, when there is one (the openai backend may name only a served model)."""
    if cfg.backend == "openai" and cfg.model is None:
        return None
    return resolve_model(cfg.model)


def make_backend(cfg: BackendConfig, model: ModelRef | None = None) -> Backend:
    """Build the configured backend; heavy imports happen only for the one chosen."""
    model = model if model is not None else resolve_backend_model(cfg)
    if cfg.backend == "llamacpp":
        from xinstruct.llm.llamacpp import LlamaCppBackend

        assert model is not None
        return LlamaCppBackend(model, n_ctx=cfg.n_ctx, n_threads=cfg.threads, parallel=cfg.parallel)
    if cfg.backend == "openai":
        from xinstruct.llm.openai import OpenAIBackend

        return OpenAIBackend(cfg, model)
    if cfg.backend == "transformers":
        from xinstruct.llm.transformers import TransformersBackend

        assert model is not None
        return TransformersBackend(model, batch_size=cfg.batch_size)
    raise ConfigError(f"unknown backend {cfg.backend!r}; choose one of {', '.join(BACKENDS)}")
