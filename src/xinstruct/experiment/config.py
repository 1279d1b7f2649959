"""The ``xinstruct experiment`` settings: one YAML file names the data, the arms, the benchmarks and the seed.

Top-level scalars are command-line options too (``--seed``, ``--base``, ``--benchmarks``…); the
nested sections (``inverse``, ``train``, ``eval``, ``arms``…) hold the keys of the existing stages'
configs and are checked by those configs, so a typo fails before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from xinstruct.core.config import build_config, load_yaml, option, resolve_configs
from xinstruct.core.errors import ConfigError
from xinstruct.eval.benchmarks import parse_benchmark
from xinstruct.eval.config import EvalConfig
from xinstruct.inverse.config import InverseConfig
from xinstruct.llm.factory import BackendConfig
from xinstruct.train.config import SftTrainConfig
from xinstruct.train.export import QUANT_TYPES

BASE_ARM = "base"
DATA_CHOICES = ("two-stage", "generated", "original")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
# set by the experiment itself: one benchmark per eval phase, one output directory per phase
_EVAL_OWN = {"benchmark", "limit", "tasks", "task_regex", "cache"}
_BACKEND_OWN = {"model", "backend"}
_TRAIN_OWN = {"base"}  # every arm and the evaluated base start from the experiment's `base`


@dataclass
class ArmConfig:
    """One trained model: its data, its training settings, or a stage of another arm's training."""

    data: str = option("two-stage", "training rows: two-stage (generated then original, the paper), generated "
                       "(stage-1 rows only), original (stage-2 rows only), or a file of `messages` rows")
    train: dict[str, Any] = option({}, "SFT settings for this arm (keys of `xinstruct train sft`), over the shared ones")
    inverse: dict[str, Any] = option({}, "Inverse-Instruct settings for this arm's data (e.g. select: random), over "
                                     "the shared ones; a different setting is a separate generation run")
    weights_of: str | None = option(None, "no training: export another arm's weights (with `stage`, those a "
                                    "curriculum stage ended with)")
    stage: str | None = option(None, "with weights_of: the stage whose final weights to use (stage1, stage2)")

    def validate(self) -> None:
        if self.weights_of is None and self.stage is not None:
            raise ConfigError("`stage` selects weights of another arm's run; it needs `weights_of`")
        if self.weights_of is not None and (self.train or self.inverse or self.data != "two-stage"):
            raise ConfigError("an arm with `weights_of` trains nothing: drop its data/train/inverse keys")


@dataclass
class ExperimentConfig:
    """Generate data, train each arm, export, evaluate every arm and the base the same way, compare."""

    base: str | None = option(None, "model every arm starts from and that generates the data: registered name, "
                              "GGUF file or Hugging Face directory (default: the embedded model)")
    corpus: str | None = option(None, "input of Inverse-Instruct (any `xinstruct inverse` INPUT)")
    data: str | None = option(None, "a finished training file (rows with `messages` and `stage`) instead of "
                              "generating one from --corpus")
    seed: int = option(0, "seed of generation, training order and sampled evaluation (sections may set their own)")
    benchmarks: list[str] = option(["humaneval+"], "benchmarks every arm and the base are evaluated on")
    benchmark_limits: dict[str, int] = option({}, "first N tasks only, per benchmark (e.g. multipl-e:java: 20; "
                                              "benchmarks not evaluated are ignored)", cli=False)
    decontaminate: bool = option(True, "drop every arm's training rows that share a 13-word n-gram with any "
                                 "benchmark evaluated or named by decontaminate_against (counted in the report)")
    decontaminate_against: list[str] = option([], "benchmarks (or n-gram files from 'xinstruct eval "
                                              "decontam-export') to decontaminate against besides those evaluated, "
                                              "e.g. the reported benchmark in a sweep judged on another one")
    export: str = option("gguf", "how every model (the base too) is exported and evaluated: gguf (llama.cpp, "
                         "re-quantized to --quantize) or hf (merged Hugging Face directory, transformers backend)",
                         choices=("gguf", "hf"))
    quantize: str = option("q8_0", "GGUF type of the exported models (export: gguf)", choices=QUANT_TYPES)
    nll: bool = option(True, "also compute the mean negative log-likelihood of each benchmark's canonical "
                       "solutions under the eval prompt (paired, needs no generation; Python benchmarks)")
    contrasts: list[str] = option([], "extra paired comparisons besides each arm against the base, as A-B "
                                  "(e.g. A3-A1,A3-A4)")
    arms: dict[str, Any] = option({}, "arm name -> its settings (data, train, inverse, weights_of, stage)", cli=False)
    inverse: dict[str, Any] = option({}, "Inverse-Instruct settings shared by the arms (keys of `xinstruct inverse`)",
                                     cli=False)
    generator: dict[str, Any] = option({}, "backend that generates the data (keys of the backend options; "
                                       "default: the base model)", cli=False)
    train: dict[str, Any] = option({}, "SFT settings shared by the arms (keys of `xinstruct train sft`)", cli=False)
    eval: dict[str, Any] = option({}, "evaluation settings shared by every model (keys of `xinstruct eval`)",
                                  cli=False)
    eval_backend: dict[str, Any] = option({}, "transport settings of the evaluation (parallel, n_ctx, threads, "
                                          "batch_size); the model is each export", cli=False)

    def validate(self) -> None:
        if not self.arms:
            raise ConfigError("name at least one arm under `arms`")
        if self.corpus is not None and self.data is not None:
            raise ConfigError("give one of `corpus` (generate the data) and `data` (a finished file), not both")
        needs_rows = any(a.weights_of is None and a.data in DATA_CHOICES for a in self.arm_configs().values())
        if needs_rows and self.corpus is None and self.data is None:
            raise ConfigError("arms train on generated/original rows: give `corpus` (to generate them) or `data`")
        if not self.benchmarks:
            raise ConfigError("name at least one benchmark")
        for b in [*self.benchmarks, *self.benchmark_limits]:
            parse_benchmark(b)
        for spec in self.decontaminate_against:
            if not Path(spec).is_file():
                parse_benchmark(spec)
        if any(not isinstance(n, int) or n < 1 for n in self.benchmark_limits.values()):
            raise ConfigError("benchmark_limits must be whole numbers >= 1")
        for section, own in (("eval", _EVAL_OWN), ("eval_backend", _BACKEND_OWN), ("train", _TRAIN_OWN)):
            taken = sorted(own & set(getattr(self, section)))
            if taken:
                raise ConfigError(f"{section}: {', '.join(taken)} are set by the experiment (use base, "
                                  "benchmarks, benchmark_limits)")
        arms = self.arm_configs()
        for name, arm in arms.items():
            if arm.weights_of is not None and (arm.weights_of not in arms or arms[arm.weights_of].weights_of):
                raise ConfigError(f"arms.{name}: weights_of must name an arm that trains, got {arm.weights_of!r}")
            if _TRAIN_OWN & set(arm.train):
                raise ConfigError(f"arms.{name}.train: base is set by the experiment (every arm starts from `base`)")
            if self.data is not None and arm.inverse:
                raise ConfigError(f"arms.{name}: `inverse` settings need generated data (`corpus`), not `data`")
            self.train_config(name)
            if arm.weights_of is None:
                self.inverse_config(name)
        self.eval_config(self.benchmarks[0])
        self.backend_config(None)
        for c in self.contrasts:
            a, sep, b = c.partition("-")
            if not sep or a not in [*arms, BASE_ARM] or b not in [*arms, BASE_ARM] or a == b:
                raise ConfigError(f"contrast {c!r}: expected A-B with two different arms (or {BASE_ARM})")

    def arm_configs(self) -> dict[str, ArmConfig]:
        """Validated arms in file order (the base is implicit and always evaluated)."""
        out = {}
        for name, values in self.arms.items():
            if not _NAME.match(str(name)) or name == BASE_ARM:
                raise ConfigError(f"arm name {name!r}: letters, digits and _ only, and not {BASE_ARM!r}")
            if not isinstance(values, dict):
                raise ConfigError(f"arms.{name}: expected a mapping of settings, got {values!r}")
            out[str(name)] = build_config(ArmConfig, values, where=f"arms.{name}")
        return out

    def train_config(self, arm: str) -> SftTrainConfig:
        own = self.arm_configs()[arm].train
        values = {"seed": self.seed, "base": self.base, **self.train, **own}
        return build_config(SftTrainConfig, values, where=f"arms.{arm}.train")

    def inverse_config(self, arm: str) -> InverseConfig:
        own = self.arm_configs()[arm].inverse
        values = {"seed": self.seed, **self.inverse, **own, "with_original": True}
        return build_config(InverseConfig, values, where=f"arms.{arm}.inverse")

    def generator_config(self) -> BackendConfig:
        return build_config(BackendConfig, {"model": self.base, **self.generator}, where="generator")

    def eval_config(self, benchmark: str) -> EvalConfig:
        values = {"seed": self.seed, **self.eval, "benchmark": [benchmark],
                  "limit": self.benchmark_limits.get(benchmark)}
        return build_config(EvalConfig, values, where="eval")

    def backend_config(self, model: str | None) -> BackendConfig:
        backend = "llamacpp" if self.export == "gguf" else "transformers"
        return build_config(BackendConfig, {**self.eval_backend, "model": model, "backend": backend},
                            where="eval_backend")

    def decontamination_specs(self) -> list[str]:
        """What every arm's rows are checked against (empty with decontaminate: false)."""
        if not self.decontaminate:
            return []
        return list(dict.fromkeys([*self.benchmarks, *self.decontaminate_against]))

    def contrast_pairs(self) -> list[tuple[str, str]]:
        """Every arm against the base, then the named contrasts."""
        pairs = [(name, BASE_ARM) for name in self.arms]
        for c in self.contrasts:
            a, _, b = c.partition("-")
            if (a, b) not in pairs:
                pairs.append((a, b))
        return pairs


KeyPath = tuple[str, ...]
_SECTIONS: dict[str, type] = {"train": SftTrainConfig, "inverse": InverseConfig, "generator": BackendConfig,
                              "eval": EvalConfig, "eval_backend": BackendConfig}
_ARM_SECTIONS = ("train", "inverse")


def _key_lines(path: Path) -> dict[KeyPath, int]:
    """The 1-based line of every mapping key of the YAML file, by its path of keys."""
    lines: dict[KeyPath, int] = {}

    def walk(node: yaml.Node | None, prefix: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value).replace("-", "_") if not prefix else str(key.value)
                lines[(*prefix, name)] = key.start_mark.line + 1
                walk(value, (*prefix, name))

    walk(yaml.compose(path.read_text(encoding="utf-8")), ())
    return lines


def _sections(values: dict[str, Any]) -> Iterator[tuple[KeyPath, type, dict[str, Any]]]:
    """Every mapping of the file with the config class its keys belong to."""
    yield (), ExperimentConfig, values
    for name, cls in _SECTIONS.items():
        if isinstance(values.get(name), dict):
            yield (name,), cls, values[name]
    arms = values.get("arms")
    for arm, settings in (arms.items() if isinstance(arms, dict) else ()):
        if isinstance(settings, dict):
            yield ("arms", str(arm)), ArmConfig, settings
            for name in _ARM_SECTIONS:
                if isinstance(settings.get(name), dict):
                    yield ("arms", str(arm), name), _SECTIONS[name], settings[name]


def _check_keys(path: Path, values: dict[str, Any], lines: dict[KeyPath, int]) -> None:
    for where, cls, section in _sections(values):
        known = [f.name for f in dataclasses.fields(cls)]
        for key in section:
            if key not in known:
                near = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {near[0]}?)" if near else f"; known: {', '.join(sorted(known))}"
                section_name = ".".join(where) or "top level"
                raise ConfigError(f"{path}:{lines.get((*where, str(key)), '?')}: {section_name}: unknown key "
                                  f"{key!r} for {cls.__name__}{hint}")


def _locate(message: str, path: Path, lines: dict[KeyPath, int]) -> str:
    """Prefix a validation error with the file and the line of the key (or section) it names."""
    text = message.removeprefix(f"{path}: ")
    m = re.match(r"([A-Za-z0-9_.]+): ", text)
    where: KeyPath = tuple(m.group(1).split(".")) if m and tuple(m.group(1).split(".")) in lines else ()
    quoted = re.search(r"'(\w+)'", text)
    line = (lines.get((*where, quoted.group(1))) if quoted else None) or lines.get(where)
    return f"{path}:{line}: {text}" if line else f"{path}: {text}"


def load_experiment(config_file: str | Path, cli_values: dict[str, Any] | None = None) -> ExperimentConfig:
    """The experiment CONFIG with command-line overrides; a misspelt key anywhere (``arms.A1.train.learnig_rate``)
    or an invalid value fails before anything runs, naming the file and line."""
    path = Path(config_file)
    values = load_yaml(path)
    lines = _key_lines(path)
    _check_keys(path, values, lines)
    try:
        (cfg,) = resolve_configs([ExperimentConfig], str(path), cli_values or {})
    except ConfigError as exc:
        raise ConfigError(_locate(str(exc), path, lines)) from exc
    return cfg
