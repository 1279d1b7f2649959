"""Fixtures for the sandbox tests: one Sandbox with a private compile cache, and the data dir."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from xinstruct.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("bwrap") is None:
        skip = pytest.mark.skip(reason="bubblewrap not installed (scripts/setup-system.sh)")
        for item in items:
            if "toolchain" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(cache_dir=tmp_path_factory.mktemp("compile-cache")) as sb:
        yield sb


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("XINSTRUCT_DATA", REPO.parent / "shared" / "benchmarks"))
    if not path.is_dir():
        pytest.skip(f"benchmark data not found at {path} (set XINSTRUCT_DATA)")
    return path
