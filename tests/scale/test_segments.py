"""The segmented call cache: a local cache seeds a cluster run's actors, merged segments seed a
local run, and a segment is written without WAL."""

from __future__ import annotations

from click.testing import CliRunner

from xinstruct.cli import cli
from xinstruct.core.cache import CallCache
from xinstruct.scale.segments import MAIN, SegmentCache, merge_segments, segment_paths


def test_segments_read_the_runs_earlier_calls_and_merge_into_the_main_cache(tmp_path):
    local = CallCache(tmp_path / MAIN)  # a local run's cache (WAL mode)
    local.put("k-local", "generate", {"q": 1}, {"a": "local"})
    local.close()

    first = SegmentCache(tmp_path)
    assert first.get("k-local") == {"a": "local"}  # the local run seeds the actor
    first.put("k-first", "generate", {"q": 2}, {"a": "first"})
    assert first.stored == 1 and first.hits == 1
    journal = first._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "truncate"  # no WAL: shared file systems give no shared memory
    # an actor started after ``first`` (Ray's replacement of a dead one) finds its calls
    second = SegmentCache(tmp_path)
    assert second.get("k-first") == {"a": "first"}
    assert second.get("k-none") is None and second.misses == 1
    second.put("k-second", "generate", {"q": 3}, {"a": "second"})
    second.put("k-first", "generate", {"q": 2}, {"a": "first"})  # the same call stored twice
    first.close()
    second.close()
    assert len(segment_paths(tmp_path)) == 2

    report = merge_segments(tmp_path)
    assert (report.segments, report.rows, report.added) == (2, 3, 2)
    assert not segment_paths(tmp_path)
    merged = CallCache(tmp_path / MAIN)  # what a local run (or the next cluster run) reads
    assert [merged.get(k) for k in ("k-local", "k-first", "k-second")] == [{"a": "local"}, {"a": "first"}, {"a": "second"}]
    merged.close()


def test_cache_merge_command(tmp_path):
    seg = SegmentCache(tmp_path)
    seg.put("k", "generate", {}, {"a": 1})
    seg.close()
    result = CliRunner().invoke(cli, ["cache", "merge", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 segments, 1 calls, 1 new" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["cache", "merge", str(empty)])
    assert result.exit_code != 0 and "no LLM call cache" in str(result.exception or result.output)


def test_an_unreadable_segment_is_set_aside_and_named(tmp_path):
    good = SegmentCache(tmp_path)
    good.put("k", "generate", {}, {"a": 1})
    good.close()
    (tmp_path / "cache" / "segment-broken.sqlite").write_bytes(b"not a database" * 100)
    report = merge_segments(tmp_path)
    assert (report.rows, report.added) == (1, 1)
    assert len(report.unreadable) == 1 and report.unreadable[0].startswith("segment-broken.sqlite:")
    assert (tmp_path / "cache" / "segment-broken.sqlite.unreadable").exists()
    assert not segment_paths(tmp_path)
