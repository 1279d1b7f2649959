"""The disk fills during a run (issue 21): on a tiny tmpfs, mounted in a user and mount namespace
(``unshare -rm``, no privileges needed), an inverse run stops with one clear line naming the file,
leaves a readable run directory with nothing half-written in it, and once there is space again the
same command resumes and gives the undisturbed run's dataset.

The tmpfs sizes put the failure at different writes: the call cache (SQLite), the result shard
(with none or some rows finished), and the exports. Where exactly each size fails depends on page
accounting, so the test checks the invariants for every size and that the failures span the
cache and the shard, not a fixed size-to-file map.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from xinstruct.core.runs import read_jsonl

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"
CASES = [(16, False), (80, True), (90, True), (100, True)]
"""(tmpfs KiB, start from the reference run's call cache): a bare start fails at the cache; with the
cache given the run's own writes are the shard and the exports."""


def namespaces_usable() -> str | None:
    if shutil.which("unshare") is None:
        return "util-linux 'unshare' is not installed"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"a user+mount namespace with a tmpfs is not permitted here (unshare -rm: {probe.stderr.strip()})"
    return None


def inverse_args(url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "xinstruct", "inverse", str(EXAMPLE), "--out", str(out), "--samples", "2",
            "--limit", "8", "--backend", "openai", "--base-url", url, "--served-model", "scripted-coder",
            "--api", "chat"]


def fill_and_resume(url: str, reference: Path, work: Path, kib: int, prefill: bool) -> str:
    """One case: the run stops on a full disk, is checked, then resumes with space; returns the file
    the error named."""
    mnt, keep = work / "mnt", work / "keep"
    mnt.mkdir(parents=True)
    keep.mkdir()
    run = mnt / "run"
    command = shlex.join(inverse_args(url, run))
    fill = (f"mkdir {run} && cp {reference / 'run.json'} {reference / 'llm-cache.sqlite'} {run}/ && "
            if prefill else "")
    script = (
        f"mount -t tmpfs -o size={kib}k tmpfs {mnt} && {fill}"
        f"{{ {command} 2> {keep}/first.err; echo $? > {keep}/first.rc; }}; "
        f"cp -a {run} {keep}/stopped; "
        f"mount -o remount,size=16m {mnt} && "
        f"{{ {command} 2> {keep}/second.err; echo $? > {keep}/second.rc; }}; "
        f"cp -a {run} {keep}/final"
    )
    subprocess.run(["unshare", "-rm", "sh", "-c", script], check=True, timeout=120)

    first_rc = int((keep / "first.rc").read_text())
    errors = [line for line in (keep / "first.err").read_text().splitlines() if line.startswith("error:")]
    assert first_rc == 2 and len(errors) == 1, (kib, (keep / "first.err").read_text())
    assert str(run) in errors[0] and "cannot write" in errors[0] and "run the same command again" in errors[0]

    stopped = keep / "stopped"
    json.loads((stopped / "run.json").read_text())  # the manifest is whole
    assert not list(stopped.rglob("*.tmp-*")), "a temp file was left behind"
    assert not (stopped / "summary.json").exists()  # the run does not look finished
    for shard in (stopped / "shards").glob("*.jsonl"):
        data = shard.read_bytes()
        assert not data or data.endswith(b"\n"), f"half a row left in {shard}"
        assert len(list(read_jsonl(shard))) == data.count(b"\n")
    if (stopped / "data.jsonl").exists():  # an export written before the disk filled is a whole one
        assert (stopped / "data.jsonl").read_text() == (reference / "data.jsonl").read_text()
    if (stopped / "llm-cache.sqlite").exists():
        with sqlite3.connect(stopped / "llm-cache.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    assert int((keep / "second.rc").read_text()) == 0, (keep / "second.err").read_text()
    for name in ("data.jsonl", "skipped.jsonl"):
        assert (keep / "final" / name).read_text() == (reference / name).read_text()
    assert json.loads((keep / "final" / "summary.json").read_text())["resumed"] is True
    return Path(errors[0].split()[1].rstrip(":")).name


def test_disk_full_stops_cleanly_and_resumes(server_process, tmp_path):
    reason = namespaces_usable()
    if reason:
        pytest.skip(reason)
    server = server_process().start()
    reference = tmp_path / "reference"
    subprocess.run(inverse_args(server.url, reference), check=True, capture_output=True)
    failed_at = {(kib, prefill): fill_and_resume(server.url, reference, tmp_path / f"{kib}-{prefill}", kib, prefill)
                 for kib, prefill in CASES}
    # together the sizes reached both kinds of write the run makes while it works
    assert {"llm-cache.sqlite", "results-00000.jsonl"} <= set(failed_at.values()), failed_at
