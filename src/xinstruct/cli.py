"""The ``xinstruct`` command. Subcommands are imported on use, so ``--help`` and light commands
don't pay for torch or llama.cpp, and one stage's optional dependency never breaks another."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
from rich.console import Console

from xinstruct import __version__
from xinstruct.core.errors import XInstructError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "models": ("xinstruct.models.cli:models", "list and pull registered models"),
    "inverse": ("xinstruct.inverse.cli:inverse", "Inverse-Instruct: code -> instructions -> self-evaluation -> dataset"),
    "cache": ("xinstruct.scale.cli:cache", "the LLM call cache of a run: merge a cluster run's segments"),
    "exec": ("xinstruct.sandbox.cli:exec_command", "run untrusted code in the sandbox"),
    "agents": ("xinstruct.agents.cli:agents", "multi-agent multilingual instruction generation (xCoder)"),
    "eval": ("xinstruct.eval.cli:eval_command", "pass@k on HumanEval(+), MBPP+, MultiPL-E, mxeval, HumanEval-X"),
    "train": ("xinstruct.train.cli:train", "SFT (two-stage curriculum) and DPO fine-tuning"),
    "experiment": ("xinstruct.experiment.cli:experiment", "data -> train arms -> export -> eval -> comparison table"),
    "report": ("xinstruct.report.cli:report", "one self-contained HTML report of a run (any stage)"),
    "browse": ("xinstruct.browse.cli:browse", "browse and search a run's samples in a local, read-only web app"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        target, _ = SUBCOMMANDS[cmd_name]
        module, attr = target.split(":")
        cmd = getattr(importlib.import_module(module), attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{target} is not a click command")
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, desc) for name, (_, desc) in SUBCOMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="xinstruct")
def cli() -> None:
    """Turn code corpora into execution-verified, multilingual instruction data with the model itself,
    fine-tune on it, and measure the result. Runs on the embedded Qwen2.5-Coder-0.5B-Instruct by default."""


def _error(message: str) -> None:
    """One line on stderr however long, so scripts and logs see the whole message on one line."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {' '.join(message.split())}", highlight=False)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        Console(stderr=True).print("[yellow]interrupted: finished work is saved; run the same command again to resume")
        sys.exit(130)
    except click.UsageError as exc:  # one line, not click's usage block: the help is one flag away
        where = exc.ctx.command_path if exc.ctx is not None else "xinstruct"
        _error(f"{exc.format_message()} (see '{where} --help')")
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except XInstructError as exc:
        _error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted: finished work is saved; run the same command again to resume")
        sys.exit(130)
