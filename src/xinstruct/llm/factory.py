"""The composition root of backends: every stage builds its model from a ``BackendConfig`` here.

Building is split in two so a run can check its directory first: :func:`plan_backend` names the
model (path and sha256, or served model, base URL and API) without loading weights or pulling a
registered model; :meth:`BackendPlan.build` then does the expensive part. The backends themselves
take explicit arguments and know nothing of this config or of command-line flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError
from xinstruct.llm.base import Backend
from xinstruct.models.catalog import DEFAULT_MODEL, installed_path, known_models
from xinstruct.models.registry import ModelRef, resolve_model

if TYPE_CHECKING:
    from xinstruct.llm.openai import OpenAIBackend

BACKENDS = ("llamacpp", "openai", "transformers", "vllm")


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
    retry_wait: float = option(
        120.0,
        "seconds a request keeps retrying after its first failure, at least --retries times, so a "
        "restarting server costs nothing (openai backend)",
        affects_output=False,
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
        if self.concurrency < 1 or self.retries < 0 or self.timeout <= 0 or self.retry_wait < 0:
            raise ConfigError("concurrency must be >= 1, retries >= 0, retry-wait >= 0 and timeout > 0")


def locate_model(spec: str | None) -> ModelRef:
    """The model ``spec`` names, without pulling it: a registered model's identity is its catalog
    entry, so a run can be checked before a pull; paths are hashed (memoised) as they are."""
    entry = known_models().get(spec or DEFAULT_MODEL)
    if entry is not None:
        return ModelRef(name=entry.name, path=installed_path(entry), format="gguf", sha256=entry.sha256)
    return resolve_model(spec, pull=False)


def _openai(cfg: BackendConfig, model: ModelRef | None) -> OpenAIBackend:
    from xinstruct.llm.openai import OpenAIBackend

    if cfg.api == "completions" and model is None:
        raise ConfigError(
            "--api completions renders the chat template locally: name the served model's GGUF file "
            "or Hugging Face directory with --model (or use --api chat)"
        )
    return OpenAIBackend(
        cfg.base_url or "", model, served_model=cfg.served_model, api=cfg.api, api_key=cfg.api_key,
        concurrency=cfg.concurrency, timeout=cfg.timeout, retries=cfg.retries,
        retry_wait=cfg.retry_wait,
    )


@dataclass
class BackendPlan:
    """A backend chosen but not yet built; :meth:`identity` is what a run manifest records."""

    cfg: BackendConfig
    model: ModelRef | None
    """The local model (None: the openai backend naming only a served model); maybe not pulled yet."""
    _client: OpenAIBackend | None = field(default=None, repr=False)

    def _served(self) -> OpenAIBackend:
        # an HTTP client is cheap: built early, it describes the served model itself
        if self._client is None:
            if self.model is not None and not self.model.path.exists():
                self.model = resolve_model(self.cfg.model)  # the template is rendered from the files
            self._client = _openai(self.cfg, self.model)
        return self._client

    def identity(self) -> dict[str, Any]:
        """The backend's own description of its model: path and sha256 of local weights, or served
        model, base URL and API (and the local weights, when named) for the openai backend."""
        if self.cfg.backend == "openai":
            return self._served().describe()
        assert self.model is not None
        return {"backend": self.cfg.backend, **self.model.identity()}

    def build(self) -> Backend:
        """Load the model (pulling a registered one first when it is not installed)."""
        if self.cfg.backend == "openai":
            return self._served()
        return make_backend(self.cfg, self.model)


def plan_backend(cfg: BackendConfig) -> BackendPlan:
    """Name the configured model without loading or pulling it."""
    if cfg.backend not in BACKENDS:
        raise ConfigError(f"unknown backend {cfg.backend!r}; choose one of {', '.join(BACKENDS)}")
    model = None if cfg.backend == "openai" and cfg.model is None else locate_model(cfg.model)
    return BackendPlan(cfg, model)


class GivenBackend:
    """The plan for a backend the caller built already (tests, benchmarks): nothing left to load."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def identity(self) -> dict[str, Any]:
        return self.backend.identity()

    def build(self) -> Backend:
        return self.backend


def plan_or_given(cfg: BackendConfig, backend: Backend | None) -> BackendPlan | GivenBackend:
    """What a stage checks against its run directory (``identity``) before it loads the model (``build``)."""
    return GivenBackend(backend) if backend is not None else plan_backend(cfg)


def make_backend(cfg: BackendConfig, model: ModelRef | None = None) -> Backend:
    """Build the configured backend; heavy imports happen only for the one chosen."""
    if model is None and not (cfg.backend == "openai" and cfg.model is None):
        model = resolve_model(cfg.model)
    elif model is not None and not model.path.exists():
        model = resolve_model(cfg.model)  # a located registered model: pull it now
    if cfg.backend == "llamacpp":
        from xinstruct.llm.llamacpp import LlamaCppBackend

        assert model is not None
        return LlamaCppBackend(model, n_ctx=cfg.n_ctx, n_threads=cfg.threads, parallel=cfg.parallel)
    if cfg.backend == "openai":
        return _openai(cfg, model)
    if cfg.backend == "transformers":
        from xinstruct.llm.transformers import TransformersBackend

        assert model is not None
        return TransformersBackend(model, batch_size=cfg.batch_size)
    if cfg.backend == "vllm":  # GPU actors; its engine has not run (no GPU here, docs/scale.md)
        from xinstruct.llm.vllm import VLLMBackend

        assert model is not None
        return VLLMBackend(model, max_model_len=cfg.n_ctx)
    raise ConfigError(f"unknown backend {cfg.backend!r}; choose one of {', '.join(BACKENDS)}")
