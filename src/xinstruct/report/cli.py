"""``xinstruct report``: one HTML file that shows what a run made."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write (default: RUN_DIR/report.html)")
@click.option("--compare", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="a second eval run to show against RUN_DIR (per-task gained / lost)")
def report(run_dir: Path, out: Path | None, compare: Path | None) -> None:
    """Write a self-contained HTML report of RUN_DIR (any stage); prints its path.

    The page needs no network: styles and charts (SVG) are inlined and it holds no script.
    """
    from xinstruct.report.build import build_report

    click.echo(str(build_report(run_dir, out, compare)))
