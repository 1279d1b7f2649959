"""Joining (or starting) the Ray cluster a run uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from xinstruct.core.errors import ConfigError
from xinstruct.scale.config import ScaleConfig


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # the executor needs Ray Data, not only core Ray
    except ImportError as exc:
        raise ConfigError("--executor ray needs the ray extra: pip install 'xinstruct[ray]'") from exc
    return ray


@contextmanager
def connected(cfg: ScaleConfig) -> Iterator[Any]:
    """Ray, joined to ``cfg.ray_address`` or to a local cluster started here (and stopped after).

    A cluster some caller started already (a test session, a notebook) is used as it is.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def actor_pool_args(cfg: ScaleConfig) -> dict[str, Any]:
    """``map_batches`` arguments of a model stage: a fixed pool, one backend per actor, and an
    actor whose engine died replaced (its batch retried) up to ``ray_max_restarts`` times."""
    return {
        "concurrency": cfg.ray_actors,
        "batch_size": cfg.ray_batch_size,
        "num_cpus": cfg.ray_cpus_per_actor,
        "num_gpus": cfg.ray_gpus_per_actor or None,
        "max_restarts": cfg.ray_max_restarts,
        "max_task_retries": cfg.ray_max_restarts,
    }
