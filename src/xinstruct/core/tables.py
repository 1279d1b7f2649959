"""Where the CLIs print tables: stdout, and in a pipe without wrapping cell values.

Rich wraps a table to 80 columns when stdout is not a terminal, which splits a model name or a
path over two lines and breaks ``grep``; in a pipe the table is as wide as its widest row.
"""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 10_000
"""Width a table may take when stdout is not a terminal (a row is never wider in practice)."""


def table_console(*, stderr: bool = False) -> Console:
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True, highlight=False)
