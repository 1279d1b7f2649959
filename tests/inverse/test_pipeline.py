"""Pipeline logic with a scripted backend: selection, resumption, outputs, bad input."""

import json
from pathlib import Path

import pytest

from xinstruct.core.errors import ConfigError, InputError
from xinstruct.core.records import Record
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.inverse.steps import Select
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"


def scored(score_by_word):
    """Judge that scores a candidate by which word its instruction contains."""

    def judge(req):
        text = req.messages[-1]["content"]
        p = next((v for k, v in score_by_word.items() if k in text), 0.5)
        import math

        return {"Yes": math.log(p), "No": math.log(1 - p)}

    return judge


def test_select_methods():
    cands = [
        {"instruction": "a", "score": 0.2, "perplexity": 3.0},
        {"instruction": "b", "score": 0.9, "perplexity": 9.0},
        {"instruction": None, "score": 0.99, "perplexity": 1.0},
        {"instruction": "d", "score": 0.7, "perplexity": 2.0},
    ]
    rec = Record(id="r", data={"candidates": cands})
    assert Select("best", seed=0).choose(rec) == [1]
    assert Select("topk", seed=0, top_k=2).choose(rec) == [1, 3]
    assert Select("threshold", seed=0, threshold=0.95).choose(rec) == []
    assert Select("threshold", seed=0, threshold=0.8).choose(rec) == [1]
    assert Select("perplexity", seed=0).choose(rec) == [3]
    picks = {Select("random", seed=s).choose(rec)[0] for s in range(30)}
    assert picks == {0, 1, 3}  # never the empty candidate
    # the random pick is a function of (seed, record id): a fresh step, or the records in another
    # order, picks the same; another record id under the same seed may pick differently
    recs = [Record(id=f"r{k}", data={"candidates": cands}) for k in range(20)]
    first = Select("random", seed=5)
    forward = [first.choose(r) for r in recs]
    backward = [Select("random", seed=5).choose(r) for r in reversed(recs)][::-1]
    assert forward == backward
    assert len({tuple(p) for p in forward}) > 1
    assert forward != [Select("random", seed=6).choose(r) for r in recs]


def test_best_candidate_is_selected_end_to_end(tmp_path, scripted_backend):
    backend = scripted_backend(
        reply=lambda req, i: [" good thing", " bad thing"][req.params.seed % 2],
        judge=scored({"good": 0.9, "bad": 0.1}),
    )
    summary = run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=4), BackendConfig(), ReaderConfig(), backend=backend)
    rows = [json.loads(line) for line in (tmp_path / "run" / "data.jsonl").read_text().splitlines()]
    assert len(rows) == summary["dataset_rows"] == 20
    with_good = 0
    for row in rows:
        good = [i for i, c in enumerate(row["candidates"]) if "good" in (c["instruction"] or "")]
        with_good += bool(good)
        # the best judged candidate is kept (ties: the first), a "good" one whenever the snippet has one
        assert row["selected_index"] == (good[0] if good else 0)
        kept = row["candidates"][row["selected_index"]]["instruction"]
        assert row["instruction"] == row["messages"][0]["content"] == kept
        assert ("good" if good else "bad") in kept
        assert row["score"] == pytest.approx(0.9 if good else 0.1)
        assert row["messages"][1]["content"].startswith("```")
        assert len(row["candidates"]) == 4
        assert row["provenance"]["file"].endswith("demo.jsonl")
    assert 0 < with_good < len(rows)  # both cases were met: snippets with a good candidate and without
    assert summary["skipped_by_reason"] == {"extract.too_short": 1, "extract.unparseable_unfenced": 1}
    assert summary["records_read"] == 22
    skipped = [json.loads(line) for line in (tmp_path / "run" / "skipped.jsonl").read_text().splitlines()]
    assert {s["line"] for s in skipped} == {19, 21}


def test_two_stage_file_puts_generated_rows_first(tmp_path, scripted_backend):
    summary = run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=1, with_original=True, limit=5),
                          BackendConfig(), ReaderConfig(), backend=scripted_backend())
    rows = [json.loads(line) for line in (tmp_path / "run" / "train_two_stage.jsonl").read_text().splitlines()]
    stages = [r["stage"] for r in rows]
    assert stages == [1] * 5 + [2] * 5
    assert rows[5]["messages"][0]["content"].startswith("Write a function that checks whether a string is a palindrome")
    assert summary["files"]["two_stage"]["rows"] == 10


def test_crash_and_resume_gives_the_uninterrupted_rows_without_redoing_calls(tmp_path, scripted_backend):
    cfg = InverseConfig(samples=3, limit=8)
    reference = run_inverse(EXAMPLE, tmp_path / "ref", cfg, BackendConfig(), ReaderConfig(),
                            backend=scripted_backend(reply=lambda req, i: f" thing {req.params.seed}"))
    assert reference["dataset_rows"] == 8

    class Crash(RuntimeError):
        pass

    def crash_after(n):
        def hook(done):
            if done >= n:
                raise Crash

        return hook

    first = scripted_backend(reply=lambda req, i: f" thing {req.params.seed}")
    with pytest.raises(Crash):
        run_inverse(EXAMPLE, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=first, on_record=crash_after(3))
    calls_before = len(first.generate_calls)
    assert calls_before == 9  # 3 finished snippets x 3 samples

    second = scripted_backend(reply=lambda req, i: f" thing {req.params.seed}")
    summary = run_inverse(EXAMPLE, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=second)
    assert summary["resumed"] is True
    assert len(second.generate_calls) == 5 * 3  # only the 5 unfinished snippets
    got = (tmp_path / "run" / "data.jsonl").read_text()
    assert got == (tmp_path / "ref" / "data.jsonl").read_text()
    ids = [json.loads(line)["id"] for line in got.splitlines()]
    assert len(ids) == len(set(ids)) == 8

    third = scripted_backend()
    run_inverse(EXAMPLE, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=third)
    assert third.generate_calls == [] and third.score_calls == []


def test_torn_shard_line_is_repaired_on_resume(tmp_path, scripted_backend):
    cfg = InverseConfig(samples=1, limit=4)
    run_inverse(EXAMPLE, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=scripted_backend())
    shard = tmp_path / "run" / "shards" / "results-00000.jsonl"
    lines = shard.read_text().splitlines(keepends=True)
    shard.write_text("".join(lines[:3]) + lines[3][:25])  # a crash mid-write of the last line
    again = scripted_backend()
    summary = run_inverse(EXAMPLE, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=again)
    assert summary["dataset_rows"] == 4
    # the torn snippet is redone, but its calls come from the cache
    assert again.generate_calls == []


def test_changed_settings_refuse_to_mix_into_a_run(tmp_path, scripted_backend):
    run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=1, limit=2), BackendConfig(), ReaderConfig(),
                backend=scripted_backend())
    with pytest.raises(ConfigError, match="samples"):
        run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=2, limit=2), BackendConfig(), ReaderConfig(),
                    backend=scripted_backend())
    # --limit does not change outputs: growing it continues the run
    summary = run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=1, limit=3), BackendConfig(), ReaderConfig(),
                          backend=scripted_backend())
    assert summary["dataset_rows"] == 3


def test_empty_replies_are_kept_unjudged_and_never_selected(tmp_path, scripted_backend):
    backend = scripted_backend(reply=lambda req, i: "" if req.params.seed % 2 else " sorts numbers")
    summary = run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=4, limit=6), BackendConfig(), ReaderConfig(),
                          backend=backend)
    rows = [json.loads(line) for line in (tmp_path / "run" / "data.jsonl").read_text().splitlines()]
    assert summary["empty_candidates"] > 0
    assert summary["cleaning"]["rejected_by_reason"]["empty"] == summary["empty_candidates"]
    for row in rows:
        assert row["instruction"].endswith("sorts numbers")
        empties = [c for c in row["candidates"] if c["instruction"] is None]
        # kept in the row with the raw reply and the reason; not judged (it could never be selected)
        assert all(c["raw"] == "" and c["rejected"] == "empty" and c["score"] is None for c in empties)
    assert len(backend.score_calls) == 4 * 6 - summary["empty_candidates"]


def test_cleaned_text_is_judged_and_rejections_are_counted_by_reason(tmp_path, scripted_backend):
    """A trailer is cut before the judge sees the text; a candidate that talks about the snippet is
    rejected; a snippet whose candidates are all rejected is counted under the commonest reason."""
    replies = [
        " function that doubles a number.\n\nHere's how you can implement this:",
        " function like the one in the original code snippet.",
        " function that doubles a number. Let me know if you need more!",
        "\n1 - Double\nTask: 2 - Triple",
    ]

    def reply(req, i):
        if "sorted" in req.messages[-1]["content"] or "sort" in req.messages[-1]["content"]:
            return replies[1]  # every candidate of these snippets refers to the prompt
        return replies[req.params.seed % len(replies)]

    backend = scripted_backend(reply=reply)
    summary = run_inverse(EXAMPLE, tmp_path / "run", InverseConfig(samples=4), BackendConfig(), ReaderConfig(),
                          backend=backend)
    judged = [r.messages[-1]["content"] for r in backend.score_calls]
    assert judged and not any("Here's how" in t or "Let me know" in t or "original code" in t for t in judged)
    results = [json.loads(line) for line in (tmp_path / "run" / "shards" / "results-00000.jsonl").read_text().splitlines()]
    cands = [c for r in results for c in r["candidates"]]
    rejected = [c for c in cands if c["rejected"]]
    assert len(backend.score_calls) == len(cands) - len(rejected)
    counts = summary["cleaning"]["rejected_by_reason"]
    assert counts["refers_to_prompt"] == sum(c["rejected"] == "refers_to_prompt" for c in cands) > 0
    assert counts["task_list"] == sum(c["rejected"] == "task_list" for c in cands)
    assert summary["cleaning"]["cuts"]["answer_intro"] > 0 and summary["cleaning"]["cuts"]["closing_chatter"] > 0
    assert all(c["raw"] and c["instruction"] is None and c["score"] is None for c in rejected)
    all_rejected = [r for r in results if not r["selected"]]
    assert all_rejected and all(r["unselected_reason"] == "all_rejected.refers_to_prompt" for r in all_rejected)
    assert summary["skipped_by_reason"]["select.all_rejected.refers_to_prompt"] == len(all_rejected)
    rows = [json.loads(line) for line in (tmp_path / "run" / "data.jsonl").read_text().splitlines()]
    assert rows and all(row["instruction"].endswith("function that doubles a number.") for row in rows)


def test_bad_input_names_file_and_line(tmp_path, scripted_backend):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"instruction": "a", "output": "```python\\ndef f(x):\\n    return x * 2\\n```"}\n'
        b'{"instruction": "b", "output": \n'  # malformed
        b'{"prompt_text": "c", "answer_text": "d"}\n'  # wrong field names
        b'\xff\xfe not utf8\n'
        b'[1, 2]\n'
    )
    summary = run_inverse(bad, tmp_path / "run", InverseConfig(samples=1), BackendConfig(), ReaderConfig(),
                          backend=scripted_backend())
    assert summary["skipped_by_reason"] == {
        "read.invalid_utf8": 1, "read.malformed_json": 1, "read.missing_field": 1, "read.not_an_object": 1,
    }
    assert summary["dataset_rows"] == 1
    entries = [json.loads(line) for line in (tmp_path / "run" / "skipped.jsonl").read_text().splitlines()]
    assert {(e["reason"], e["line"]) for e in entries} == {
        ("malformed_json", 2), ("missing_field", 3), ("invalid_utf8", 4), ("not_an_object", 5),
    }
    assert "prompt_text" in next(e for e in entries if e["reason"] == "missing_field")["detail"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file is empty"), (b'{"x": 1}\n', "no usable records"), (b"[1, 2", "invalid JSON")],
)
def test_unusable_inputs_are_errors_not_empty_datasets(tmp_path, scripted_backend, content, message):
    path = tmp_path / ("in.json" if content.startswith(b"[") else "in.jsonl")
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        run_inverse(path, tmp_path / "run", InverseConfig(samples=1), BackendConfig(), ReaderConfig(),
                    backend=scripted_backend())
    assert str(path) in str(info.value)


def test_decontaminate_drops_benchmark_snippets_and_counts_them(tmp_path, scripted_backend, benchmarks_dir):
    """A corpus row holding a HumanEval+ solution never reaches the model; the summary counts it."""
    from xinstruct.data.decontam import export_ngrams
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark

    task = load_tasks(parse_benchmark("humaneval+"), benchmarks_dir)[3]
    rows = [json.loads(line) for line in EXAMPLE.read_text().splitlines()[:3]]
    rows.append({"instruction": "Complete this function.", "output": f"```python\n{task.prompt}{task.canonical}```"})
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ngrams = tmp_path / "ngrams.json"
    export_ngrams(["humaneval+"], ngrams, data=benchmarks_dir)
    backend = scripted_backend(reply=lambda req, i: " Write a function.", judge=scored({}))
    summary = run_inverse(data, tmp_path / "run", InverseConfig(samples=1), BackendConfig(),
                          ReaderConfig(decontaminate=[str(ngrams)]), backend=backend)
    assert summary["skipped_by_reason"]["decontaminate.benchmark_overlap"] == 1
    assert summary["snippets_extracted"] == summary["dataset_rows"] == 3
    assert all(task.entry_point not in json.dumps(req.messages) for req in backend.generate_calls)
    skipped = [json.loads(x) for x in (tmp_path / "run" / "skipped.jsonl").read_text().splitlines()]
    assert [s["line"] for s in skipped if s["reason"] == "benchmark_overlap"] == [4]


def test_code_first_layout_puts_the_code_before_the_instruction_and_is_part_of_the_run(tmp_path, scripted_backend):
    """--judge-layout code-first: the judge prompt starts with the code (shared by a snippet's N
    prompts), the question is the paper's; it is a setting of the run (a paper run refuses it)
    and its prompts are other cache keys, so the judge calls are new while summarize is cached."""
    cfg = InverseConfig(samples=3, limit=2)
    paper = scripted_backend(reply=lambda req, i: f" sorts numbers {req.params.seed}")
    run_inverse(EXAMPLE, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=paper)
    first = paper.score_calls[0].messages[-1]["content"]
    assert first.index("Here is a programming problem") < first.index("```")

    code_first = InverseConfig(samples=3, limit=2, judge_layout="code-first")
    with pytest.raises(ConfigError, match="judge_layout"):
        run_inverse(EXAMPLE, tmp_path / "run", code_first, BackendConfig(), ReaderConfig(), backend=scripted_backend())
    again = scripted_backend(reply=lambda req, i: f" sorts numbers {req.params.seed}")
    code_first.overwrite = True  # clears the results, keeps the call cache
    run_inverse(EXAMPLE, tmp_path / "run", code_first, BackendConfig(), ReaderConfig(), backend=again)
    assert again.generate_calls == [] and len(again.score_calls) == len(paper.score_calls) == 6
    prompts = [c.messages[-1]["content"] for c in again.score_calls]
    for prompt in prompts:
        assert prompt.index("```") < prompt.index("Here is the programming problem:") < prompt.index("sorts numbers")
    # one snippet's prompts are the same text up to the instruction
    head = prompts[0].split("Here is the programming problem:")[0]
    assert len(head) > 40 and all(p.startswith(head) for p in prompts[:3])
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["fingerprint"]["judge_layout"] == "code-first"
    from xinstruct.core.config import resolve_configs

    yaml_file = tmp_path / "inverse.yaml"
    yaml_file.write_text("judge-layout: code-first\n")
    assert resolve_configs([InverseConfig], str(yaml_file), {})[0].judge_layout == "code-first"
    yaml_file.write_text("judge_layout: sideways\n")
    with pytest.raises(ConfigError, match="'judge_layout' must be one of paper, code-first"):
        resolve_configs([InverseConfig], str(yaml_file), {})
