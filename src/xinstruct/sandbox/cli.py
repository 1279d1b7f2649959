"""`xinstruct exec`: run one file in the sandbox and print the Result as JSON."""

from __future__ import annotations

import json
import sys

import click

from xinstruct.core.languages import language_from_path
from xinstruct.sandbox.jobs import Job, Limits
from xinstruct.sandbox.languages import LANGUAGES, get_language
from xinstruct.sandbox.runner import Sandbox, language_info


@click.command("exec")
@click.option("--lang", "language", help="Language or alias (py, js, ts, c++, cs, sh, rb…); default: from FILE.")
@click.argument("file", type=click.File("r"), required=False)
@click.option("--tests", "tests_file", type=click.File("r"), help="Test code appended to FILE (per language).")
@click.option("--stdin", "stdin_file", type=click.File("r"), help="File fed to the program's standard input.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Wall-clock seconds for the run.")
@click.option("--memory", type=int, default=512, show_default=True, help="Memory limit in MB.")
@click.option("--no-cache", is_flag=True, help="Do not use the compile cache.")
@click.option("--list-languages", is_flag=True, help="Show each language with its toolchain version.")
def exec_command(
    language: str | None,
    file: click.utils.LazyFile | None,
    tests_file: click.utils.LazyFile | None,
    stdin_file: click.utils.LazyFile | None,
    timeout: float,
    memory: int,
    no_cache: bool,
    list_languages: bool,
) -> None:
    """Run FILE in the sandbox; without --tests it passes when it exits 0."""
    if list_languages:
        for row in language_info():
            click.echo(f"{row['language']:<11} {row['version']:<60} (debian: {row['packages']})")
        return
    if file is None:
        raise click.UsageError("FILE is required unless --list-languages is given")
    language = language or language_from_path(file.name)
    if not language:
        raise click.UsageError("cannot tell the language from the file name; pass --lang")
    if get_language(language) is None:
        known = ", ".join(sorted(x.name for x in LANGUAGES))
        raise click.BadParameter(f"unknown language {language!r}; known: {known}", param_hint="'--lang'")
    job = Job(
        language=language,
        code=file.read(),
        tests=tests_file.read() if tests_file else None,
        stdin=stdin_file.read() if stdin_file else "",
        limits=Limits(timeout=timeout, memory_mb=memory),
    )
    result = Sandbox(use_cache=not no_cache).run(job)
    json.dump(result.to_dict(), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
