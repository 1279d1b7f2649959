"""Where a stage's units run: in this process, or on a Ray cluster (``--executor ray``)."""

from __future__ import annotations

from dataclasses import dataclass

from xinstruct.core.config import option
from xinstruct.core.errors import ConfigError

EXECUTORS = ("local", "ray")


@dataclass
class ScaleConfig:
    executor: str = option("local", "where the model stage runs: this process, or a Ray cluster", choices=EXECUTORS,
                           affects_output=False)
    ray_address: str | None = option(
        None, "Ray cluster to join (e.g. ray://head:10001 or auto; default: start a local one)", affects_output=False
    )
    ray_actors: int = option(2, "model actors (one backend each) with --executor ray", affects_output=False)
    ray_batch_size: int = option(
        16, "records (snippets, tasks) per actor batch: their requests reach the engine together (--executor ray)", affects_output=False
    )
    ray_cpus_per_actor: float = option(1.0, "CPUs reserved per model actor (--executor ray)", affects_output=False)
    ray_gpus_per_actor: float = option(0.0, "GPUs reserved per model actor (--executor ray; 1 on GPU nodes)",
                                       affects_output=False)
    ray_max_restarts: int = option(
        4, "times Ray may replace an actor whose engine died before the run fails (--executor ray)", affects_output=False
    )

    def validate(self) -> None:
        if self.ray_actors < 1 or self.ray_batch_size < 1:
            raise ConfigError("ray_actors and ray_batch_size must be >= 1")
        if self.ray_cpus_per_actor < 0 or self.ray_gpus_per_actor < 0 or self.ray_max_restarts < 0:
            raise ConfigError("ray_cpus_per_actor, ray_gpus_per_actor and ray_max_restarts must be >= 0")
