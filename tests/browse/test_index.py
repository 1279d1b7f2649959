"""The browse index over real scripted runs of each stage: filters, search, paging, rows by offset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinstruct.browse.diff import word_diff
from xinstruct.browse.index import Index, Query
from xinstruct.report.rundata import open_run


def test_inverse_filters_search_and_rows(inverse_run: Path, tmp_path: Path):
    index = Index.build(open_run(inverse_run), tmp_path / "i.sqlite", page_size=8)
    assert index.count() == 21 and sum(index.unreadable.values()) == 1  # the broken line, counted
    first = index.search(Query())
    assert (first.total, first.pages, len(first.rows)) == (21, 3, 8)
    last = index.search(Query(page=99))  # past the end: the last page
    assert last.page == 3 and len(last.rows) == 5
    java = index.search(Query(language="java"))
    assert java.total == 2 and {r["language"] for r in java.rows} == {"java"}
    high = index.search(Query(min_score=0.5))
    low = index.search(Query(max_score=0.5))
    assert high.total + low.total == 21 and all(r["score"] >= 0.5 for r in high.rows)
    assert index.search(Query(selected="no")).total == 0
    # the user's words are matched as a phrase, never as FTS syntax
    for q in ('"', "NEAR(a b)", "code:*", "AND OR NOT", "'; DROP TABLE samples; --"):
        assert index.search(Query(q=q)).total >= 0
    assert index.count() == 21
    hit = index.search(Query(q="is_palindrome")).rows
    fields, row = index.row(hit[0]["rowid"])
    assert fields["sid"] == row["id"] == "demo.jsonl:0" and "def is_palindrome" in row["code"]
    assert index.row(10_000) is None


def test_eval_samples_are_tasks_with_their_verdicts(eval_runs: tuple[Path, Path], tmp_path: Path):
    index = Index.build(open_run(eval_runs[1]), tmp_path / "e.sqlite")
    assert index.count() == 4
    assert index.choices("verdict") == ["failed", "passed"]
    passed = index.search(Query(verdict="passed"))
    assert [r["sid"] for r in passed.rows] == ["humaneval/HumanEval/0", "humaneval/HumanEval/1"]
    assert index.search(Query(selected="yes")).total == 2  # "any pass"
    _, row = index.row(passed.rows[0]["rowid"])
    assert row["samples"][0]["verdict"] == "passed" and row["prompt"]


def test_agents_samples_have_rounds_and_kept(agents_run: Path, tmp_path: Path):
    index = Index.build(open_run(agents_run), tmp_path / "a.sqlite")
    events = [json.loads(x) for x in next((agents_run / "shards").glob("events-*.jsonl")).read_text().splitlines()]
    kept = {json.loads(x)["id"] for x in (agents_run / "sft.jsonl").read_text().splitlines()}
    assert index.count() == len(events)
    assert index.choices("round") == [str(r) for r in sorted({e["round"] for e in events})]
    assert index.search(Query(round=1)).total == sum(1 for e in events if e["round"] == 1)
    assert index.search(Query(selected="yes")).total == len(kept)


def test_train_runs_have_nothing_to_browse(tmp_path: Path):
    (tmp_path / "run.json").write_text(json.dumps({"stage": "sft"}))
    with pytest.raises(ValueError, match="no samples to browse"):
        Index.build(open_run(tmp_path), tmp_path / "x.sqlite")


def test_word_diff():
    assert word_diff("write a sum", "write the sum") == [("same", "write "), ("del", "a"), ("add", "the"),
                                                         ("same", " sum")]
