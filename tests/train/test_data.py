"""Validation and assistant-only masking (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import chat, write_jsonl

from xinstruct.core.errors import InputError
from xinstruct.train.data import load_pairs, load_sft, split_stages

GOOD = chat("Write add.", "def add(a, b):\n    return a + b")


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"messages": [{"role": "user", "content": "q"}]}, "no assistant turn"),
        ({"messages": [{"role": "assistant", "content": "a"}]}, "no user turn"),
        (chat("q", "   "), "empty assistant answer"),
        ({"prompt": "q"}, "no 'messages' field"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0] must be"),
        (chat("q", "a", source="multipl-e/humaneval-rs"), "evaluation-only"),
        (chat("q", "a", benchmark="MultiPL-E"), "evaluation-only"),
        (chat("q", "a", license="evaluation-only (MultiPL-E)"), "evaluation-only"),
        (chat("q", "a", stage=3), "stage must be 1"),
    ],
)
def test_bad_rows_are_refused_with_file_and_row(tmp_path: Path, bad: dict, needle: str) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", [GOOD, bad])
    with pytest.raises(InputError) as info:
        load_sft([path])
    message = str(info.value)
    assert needle in message
    assert str(path) in message and "row 2" in message


def test_parquet_rows_and_stage_split(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [chat(f"q{i}", f"a{i}", stage=2 if i % 2 else 1) for i in range(4)]
    for r in rows:
        r["messages"] = json.loads(json.dumps(r["messages"]))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    convs = load_sft([tmp_path / "d.parquet"])
    stages = split_stages(convs, "two-stage")
    assert [name for name, _ in stages] == ["stage1", "stage2"]
    assert [c.messages[0]["content"] for c in stages[0][1]] == ["q0", "q2"]
    assert [c.messages[0]["content"] for c in stages[1][1]] == ["q1", "q3"]
    assert [name for name, _ in split_stages(convs, "mixed")] == ["mixed"]


def test_two_stage_refuses_unstaged_rows_among_staged(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("q", "a", stage=1), chat("q2", "a2")])
    with pytest.raises(InputError, match="row 2: has no stage"):
        split_stages(load_sft([path]), "two-stage")


def test_dpo_pairs_validated(tmp_path: Path) -> None:
    ok = {"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "good"}],
          "rejected": [{"role": "assistant", "content": "bad"}], "source": "agents"}
    path = write_jsonl(tmp_path / "p.jsonl", [ok, {**ok, "source": "multipl-e-lua"}])
    with pytest.raises(InputError, match=r"row 2: evaluation-only"):
        load_pairs([path])
    same = write_jsonl(tmp_path / "s.jsonl", [{**ok, "rejected": ok["chosen"]}])
    with pytest.raises(InputError, match="identical"):
        load_pairs([same])
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "b"}])
    (pair,) = load_pairs([plain])
    assert pair.prompt == [{"role": "user", "content": "q"}] and pair.chosen[0]["role"] == "assistant"


@pytest.mark.hf
def test_assistant_only_masking_on_qwen_template(qwen_tokenizer) -> None:
    from xinstruct.train.data import encode_conversation

    messages = [
        {"role": "system", "content": "SYSTEM-TEXT"},
        {"role": "user", "content": "USER-ONE"},
        {"role": "assistant", "content": "ANSWER-ONE"},
        {"role": "user", "content": "USER-TWO"},
        {"role": "assistant", "content": "def f():\n    return 2"},
    ]
    ids, labels = encode_conversation(qwen_tokenizer, messages)
    assert len(ids) == len(labels)
    trained = qwen_tokenizer.decode([t for t, lab in zip(ids, labels, strict=True) if lab != -100])
    masked = qwen_tokenizer.decode([t for t, lab in zip(ids, labels, strict=True) if lab == -100])
    assert trained == "ANSWER-ONE<|im_end|>def f():\n    return 2<|im_end|>"
    for text in ("SYSTEM-TEXT", "USER-ONE", "USER-TWO", "<|im_start|>assistant\n"):
        assert text in masked
    # every label that is kept equals its input id (no shift here: the model shifts)
    assert all(lab in (-100, t) for t, lab in zip(ids, labels, strict=True))


@pytest.mark.hf
def test_overlong_rows_dropped_or_truncated(tmp_path: Path, qwen_tokenizer) -> None:
    from xinstruct.train.data import encode_rows

    long_answer = "x = 1\n" * 200
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, chat("long one", long_answer)])
    rows = load_sft([path])
    kept, stats = encode_rows(qwen_tokenizer, rows, 64, "drop")
    assert len(kept) == 1 and stats.dropped_overlong == 1 and "row 2" in stats.dropped_rows[0]
    kept, stats = encode_rows(qwen_tokenizer, rows, 64, "truncate")
    assert len(kept) == 2 and stats.truncated == 1 and len(kept[1]["input_ids"]) == 64
    assert any(lab != -100 for lab in kept[1]["labels"])


def test_rows_overlapping_a_benchmark_are_dropped_and_counted(tmp_path: Path, benchmarks_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark
    from xinstruct.train.data import drop_contaminated

    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    task = load_tasks(parse_benchmark("humaneval+"))[2]
    path = write_jsonl(tmp_path / "d.jsonl", [
        chat("Add two numbers.", "def add(a, b):\n    return a + b"),
        chat("Solve this:\n" + task.prompt, "```python\n" + task.prompt + task.canonical + "```"),
    ])
    rows = load_sft([path])
    logged: list[str] = []
    kept, report = drop_contaminated(rows, ["humaneval+"], logged.append, str(path))
    assert [r.row for r in kept] == [1]
    assert report == {"against": ["humaneval+"], "dropped": 1, "dropped_rows": [f"{path}:row 2"]}
    assert "dropped 1 row(s)" in logged[0] and f"{path}:row 2" in logged[0]
    assert drop_contaminated(rows, [], logged.append, str(path)) == (rows, None)
    with pytest.raises(InputError, match="every row overlaps"):
        drop_contaminated(rows[1:], ["humaneval+"], logged.append, str(path))
    # preference pairs: the prompt, chosen and rejected answers all count
    pairs_path = write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": "Add two numbers.", "chosen": "def add(a, b):\n    return a + b", "rejected": "def add(a, b): pass"},
        {"prompt": "Fix it.", "chosen": task.prompt + task.canonical, "rejected": "pass"},
    ])
    kept_pairs, report = drop_contaminated(load_pairs([pairs_path]), ["humaneval+"], logged.append, str(pairs_path))
    assert [p.row for p in kept_pairs] == [1] and report["dropped"] == 1
