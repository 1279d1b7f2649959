"""Validated per-stage config dataclasses, loadable from YAML and overridable on the CLI.

Each stage declares a dataclass whose fields carry their help text (``option``). The CLI options
are generated from those fields, so one declaration gives defaults, ``--help``, YAML keys and
validation. Precedence: field default < ``--config FILE.yaml`` < explicit command-line option.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from xinstruct.core.errors import ConfigError

T = TypeVar("T")


def option(
    default: Any,
    help: str,
    *,
    choices: Sequence[str] | None = None,
    cli: bool = True,
    affects_output: bool = True,
) -> Any:
    """A config field with help text.

    ``affects_output=False`` marks knobs (limits, concurrency, paths) that a resumed run may change
    without invalidating what it already wrote; everything else is part of the run fingerprint.
    """
    metadata = {
        "help": help,
        "choices": tuple(choices) if choices else None,
        "cli": cli,
        "affects_output": affects_output,
    }
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(cls: type, name: str, tp: Any, value: Any, where: str) -> Any:
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: '{name}' of {cls.__name__} may not be null")
    origin = typing.get_origin(inner)
    try:
        if origin in (list, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            item_tp = (typing.get_args(inner) or (str,))[0]
            out = [item_tp(x.strip() if isinstance(x, str) else x) for x in items if str(x).strip()]
            return out if origin is list else tuple(out)
        if inner is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if inner in (int, float, str):
            if inner is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return inner(value)
        if inner is Path:
            return Path(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: '{name}' expects {getattr(inner, '__name__', inner)}, got {value!r}") from exc
    return value


def build_config(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Instantiate ``cls`` from a mapping, checking names, types and choices."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for {cls.__name__}; known: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in values.items():
        coerced = _coerce(cls, name, hints[name], value, where)
        choices = fields[name].metadata.get("choices")
        if choices and coerced is not None and coerced not in choices:
            raise ConfigError(f"{where}: '{name}' must be one of {', '.join(choices)}, got {coerced!r}")
        kwargs[name] = coerced
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a flat YAML mapping of config keys (``-`` or ``_`` in names both accepted)."""
    p = Path(path)
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: config file not found") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{p}: is a directory; --config takes a YAML file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a text file (invalid UTF-8 at byte {exc.start}); --config takes a YAML file") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{line}: invalid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: expected a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in loaded.items()}


def split_for(classes: Sequence[type], values: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Distribute a flat mapping over several config classes; unknown keys are an error."""
    names = [{f.name for f in dataclasses.fields(c)} for c in classes]
    known = set().union(*names)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [{k: v for k, v in values.items() if k in n} for n in names]


def config_options(*classes: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add a click option per config field (default None, so explicit values can be told apart)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        seen: set[str] = set()
        for cls in reversed(classes):
            hints = typing.get_type_hints(cls)
            for f in reversed(dataclasses.fields(cls)):
                if not f.metadata.get("cli", True) or f.name in seen:
                    continue
                seen.add(f.name)
                inner, _ = _unwrap_optional(hints[f.name])
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
                shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else default
                help_text = f"{f.metadata.get('help', '')} [default: {shown}]"
                flag = "--" + f.name.replace("_", "-")
                choices = f.metadata.get("choices")
                if inner is bool:
                    func = click.option(f"{flag}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=help_text)(func)
                else:
                    ptype: Any = click.Choice(choices) if choices else None
                    # values stay strings until build_config coerces them (one error path for CLI and YAML)
                    metavar = None if choices else {str: "TEXT"}.get(inner) or getattr(typing.get_origin(inner) or inner, "__name__", "TEXT").upper()
                    func = click.option(flag, f.name, default=None, type=ptype, metavar=metavar, help=help_text)(func)
        return func

    return decorate


def resolve_configs(classes: Sequence[type], config_file: str | None, cli_values: dict[str, Any]) -> list[Any]:
    """Merge defaults, YAML and explicit CLI values into one instance per class."""
    file_values = load_yaml(config_file) if config_file else {}
    explicit = {k: v for k, v in cli_values.items() if v is not None}
    file_parts = split_for(classes, file_values, str(config_file)) if file_values else [{} for _ in classes]
    out = []
    for cls, from_file in zip(classes, file_parts, strict=True):
        names = {f.name for f in dataclasses.fields(cls)}
        merged = {**from_file, **{k: v for k, v in explicit.items() if k in names}}
        out.append(build_config(cls, merged, where=str(config_file) if from_file else "command line"))
    return out


def config_to_dict(obj: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (paths as strings)."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = str(value) if isinstance(value, Path) else value
    return out


def output_fingerprint(*configs: Any) -> dict[str, Any]:
    """The settings that change a run's output (compared when resuming into a run directory)."""
    out: dict[str, Any] = {}
    for obj in configs:
        for f in dataclasses.fields(obj):
            if f.metadata.get("affects_output", True):
                value = getattr(obj, f.name)
                out[f.name] = str(value) if isinstance(value, Path) else value
    return out
