"""A browse app served on loopback by uvicorn in a thread, for the tests that drive it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def serve(run_dir: Path, tmp: Path) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn", reason="needs the report extra (uvicorn, starlette)")
    from xinstruct.browse.app import create_app
    from xinstruct.browse.index import Index
    from xinstruct.report.rundata import open_run

    index = Index.build(open_run(run_dir), tmp / "index.sqlite")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(index), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("browse app did not start within 10 s")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def inverse_app(inverse_run: Path, tmp_path_factory) -> Iterator[str]:
    yield from serve(inverse_run, tmp_path_factory.mktemp("browse-inverse"))


@pytest.fixture(scope="session")
def eval_app(eval_runs: tuple[Path, Path], tmp_path_factory) -> Iterator[str]:
    yield from serve(eval_runs[1], tmp_path_factory.mktemp("browse-eval"))
