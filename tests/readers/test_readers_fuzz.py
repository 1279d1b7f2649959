"""Readers under hostile input: random structure, broken encodings, huge or deep lines, special
files in code directories. The property everywhere: every record comes out or every bad item is
counted with its file (and line), and nothing but an InputError escapes."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xinstruct.core.errors import InputError
from xinstruct.core.pipeline import SkipLog
from xinstruct.readers import ReaderConfig, read_input
from xinstruct.readers import instructions as instructions_reader

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD = st.sampled_from(["instruction", "output", "response", "prompt", "messages", "code", "language", "x"])
rows = st.dictionaries(FIELD, json_values | st.text(max_size=40), max_size=4)
raw_lines = st.one_of(
    rows.map(lambda r: json.dumps(r).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),  # invalid UTF-8, NUL bytes
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.just(b'{"instruction": "a\\ud800", "output": "b"}'),  # a lone surrogate
    st.just(json.dumps({"instruction": "Write f.", "output": "def f():\n    return 1"}).encode()),
)


def _read(path: Path, skips: SkipLog) -> list:
    try:
        return list(read_input(path, ReaderConfig(), skips))
    except InputError as exc:
        assert str(path) in str(exc)  # the error names the file
        return []


@FUZZ
@given(lines=st.lists(raw_lines, min_size=1, max_size=12))
def test_jsonl_every_line_is_a_record_or_a_counted_skip(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    skips = SkipLog()
    records = _read(path, skips)
    nonblank = [i for i, line in enumerate(lines, 1) if line.strip()]
    if records:
        assert len(records) + sum(skips.counts.values()) == len(nonblank)
    for entry in skips.entries:
        assert entry["file"] == str(path) and entry["line"] in nonblank, entry
    for record in records:
        assert record.provenance["line"] in nonblank
        for value in record.data.values():
            if isinstance(value, str):
                value.encode("utf-8")  # every kept text can go into a prompt


@FUZZ
@given(items=st.lists(json_values | rows, max_size=8), wrap=st.booleans())
def test_json_document_of_any_shape(tmp_path: Path, items: list, wrap: bool) -> None:
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps({"data": items} if wrap else items))
    skips = SkipLog()
    records = _read(path, skips)
    if records:
        assert len(records) + sum(skips.counts.values()) == len(items)


@FUZZ
@given(table=st.lists(st.fixed_dictionaries({
    "instruction": st.none() | st.text(max_size=20),
    "output": st.none() | st.text(max_size=20),
    "n": st.integers(-5, 5),
}), min_size=1, max_size=6), corrupt=st.integers(0, 40))
def test_parquet_rows_and_corrupt_bytes(tmp_path: Path, table: list[dict], corrupt: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "fuzz.parquet"
    pq.write_table(pa.Table.from_pylist(table), path)
    skips = SkipLog()
    records = _read(path, skips)
    if records:
        assert len(records) + sum(skips.counts.values()) == len(table)
    if corrupt:  # cut the footer: an error that names the file, never a pyarrow traceback
        data = path.read_bytes()
        path.write_bytes(data[: max(1, len(data) - corrupt)])
        with pytest.raises(InputError, match=r"fuzz\.parquet"):
            list(read_input(path, ReaderConfig(), SkipLog()))


@FUZZ
@given(files=st.lists(st.tuples(st.sampled_from(["a.py", "b.js", "c.go", "d.rs", "e.txt"]), st.binary(max_size=200)),
                      min_size=1, max_size=5))
def test_code_directory_of_random_bytes(tmp_path: Path, files: list[tuple[str, bytes]]) -> None:
    root = tmp_path / f"corpus-{os.urandom(4).hex()}"
    root.mkdir()
    for i, (name, data) in enumerate(files):
        (root / f"{i}{name}").write_bytes(data)
    skips = SkipLog()
    records = _read(root, skips)
    named = {str(root / f"{i}{name}") for i, (name, _) in enumerate(files)}
    assert {e["file"] for e in skips.entries} <= named
    assert {r.provenance["file"] for r in records} <= named


def test_special_files_links_and_loops_are_skipped_by_name(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "ok.py").write_text("def f():\n    return 1\n")
    os.mkfifo(root / "pkg" / "pipe.py")  # reading it would block forever
    os.symlink("..", root / "pkg" / "up")  # a directory loop
    os.symlink("self.py", root / "pkg" / "self.py")  # a link to itself
    os.symlink("/etc/passwd", root / "pkg" / "outside.py")
    (root / "pkg" / "late_nul.py").write_text("x = 1\n" * 2000 + "\x00\n")  # NUL past the binary sniff
    skips = SkipLog()
    records = list(read_input(root, ReaderConfig(), skips))
    assert [r.id for r in records] == ["pkg/late_nul.py", "pkg/ok.py:1"]
    where = {(e["reason"], Path(e["file"]).name) for e in skips.entries}
    assert where == {("not_a_regular_file", "pipe.py"), ("symlink", "up"), ("symlink", "self.py"),
                     ("symlink", "outside.py")}


def test_files_that_vanish_or_change_while_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    for i in range(4):
        (root / f"m{i}.js").write_text(f"export const x{i} = {i};\n")
    skips = SkipLog()
    reading = read_input(root, ReaderConfig(), skips)
    first = next(reading)  # the directory is listed; now pull the rest from under the reader
    (root / "m1.js").unlink()
    (root / "m2.js").unlink()
    os.mkfifo(root / "m2.js")
    (root / "m3.js").write_text("x" * 300_000)
    rest = list(reading)
    assert first.id == "m0.js" and rest == []
    assert {(e["reason"], Path(e["file"]).name) for e in skips.entries} == {
        ("unreadable_file", "m1.js"), ("not_a_regular_file", "m2.js"), ("file_too_large", "m3.js")}


def test_long_lines_deep_nesting_and_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jsonl"
    ten_mb = json.dumps({"instruction": "summarize", "output": "y" * (10 << 20)})
    with open(path, "w") as fh:
        fh.write(ten_mb + "\n" + "[" * 100_000 + "]" * 100_000 + "\n\x00\x00\n" + '{"a": 1' + " " * (3 << 20) + "\n")
    skips = SkipLog()
    records = list(read_input(path, ReaderConfig(), skips))
    assert len(records) == 1 and len(records[0].data["response"]) == 10 << 20
    assert [(e["reason"], e["line"]) for e in skips.entries] == [
        ("too_deeply_nested", 2), ("malformed_json", 3), ("malformed_json", 4)]
    monkeypatch.setattr(instructions_reader, "MAX_LINE_BYTES", 1 << 20)
    del records
    skips = SkipLog()
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="line_too_long: 2"):
            list(read_input(path, ReaderConfig(), skips))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak >> 20} MiB while skipping 10 MiB lines"
    assert [(e["reason"], e["line"]) for e in skips.entries][:1] == [("line_too_long", 1)]


def test_deeply_nested_json_document_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match=r"deep\.json: JSON nested too deeply"):
        list(read_input(path, ReaderConfig(), SkipLog()))
