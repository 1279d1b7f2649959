"""``xinstruct browse``: serve a run's samples on loopback until interrupted."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click


@click.command("browse")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to bind; the default keeps the app on this machine")
def browse(run_dir: Path, port: int, host: str) -> None:
    """Browse and search the samples of RUN_DIR (an inverse, agents or eval run) in a local web app.

    Read only: the run's files are only read; a search index is built in a temporary directory
    and removed on exit. Nothing from the data is ever run, in the app or in the page.
    """
    from xinstruct.browse.index import Index
    from xinstruct.report.rundata import open_run

    try:
        import uvicorn
    except ImportError as exc:
        raise click.ClickException("browse needs uvicorn and starlette: pip install 'xinstruct[report]'") from exc
    from xinstruct.browse.app import create_app

    run = open_run(run_dir)
    with tempfile.TemporaryDirectory(prefix="xinstruct-browse-") as tmp:
        started = time.perf_counter()
        try:
            index = Index.build(run, Path(tmp) / "index.sqlite")
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"indexed {index.count():,} samples in {time.perf_counter() - started:.1f} s"
                   + (f" ({sum(index.unreadable.values())} unreadable lines)" if index.unreadable else ""), err=True)
        click.echo(f"browse {run.path} at http://{host}:{port}/ (Ctrl-C to stop)", err=True)
        uvicorn.run(create_app(index), host=host, port=port, log_level="warning")
