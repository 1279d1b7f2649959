"""The stage streams: its memory does not grow with the input, and its outputs come from the
result shards in input order, the first row of an id winning over any later copy."""

import json
import math
import os
import tracemalloc
from pathlib import Path

import xinstruct.inverse.output as output
import xinstruct.inverse.pipeline as pipeline
from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.factory import BackendConfig
from xinstruct.readers import ReaderConfig

OUTPUTS = ("data.jsonl", "data.parquet", "skipped.jsonl", "train_two_stage.jsonl", "dataset/data/train-00000-of-00001.parquet")


def write_corpus(path: Path, n: int) -> Path:
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"code": f"def add_{i}(x):\n    return x + {i}\n", "language": "python"}) + "\n")
    return path


def judge(req):
    p = 0.1 + (len(req.messages[-1]["content"]) % 9) / 10
    return {"Yes": math.log(p), "No": math.log(1 - p)}


def test_the_llm_steps_pull_snippets_from_the_input_as_they_go(tmp_path, scripted_backend, monkeypatch):
    """Two passes read the input: one counts (before the model is built), one feeds the model, and
    that one is only a record or two ahead of the snippet being summarized."""
    passes: list[int] = []
    read_input = pipeline.read_input

    def counting(*args, **kwargs):
        passes.append(0)
        for record in read_input(*args, **kwargs):
            passes[-1] += 1
            yield record

    monkeypatch.setattr(pipeline, "read_input", counting)
    ahead = []

    def reply(req, i):
        ahead.append(passes[-1] - int(req.messages[-1]["content"].split("add_")[1].split("(")[0]))
        return f" Write thing {req.params.seed % 7}"

    corpus = write_corpus(tmp_path / "in.jsonl", 200)
    summary = run_inverse(corpus, tmp_path / "run", InverseConfig(samples=1, min_chars=10), BackendConfig(), ReaderConfig(),
                          backend=scripted_backend(reply=reply, judge=judge))
    assert summary["snippets_finished"] == 200
    assert passes == [200, 200]
    assert len(ahead) == 200 and max(ahead) <= 2  # when snippet k is summarized, at most k + 2 records were read


def _peak(tmp_path: Path, n: int, scripted_backend) -> int:
    corpus = write_corpus(tmp_path / f"in-{n}.jsonl", n)
    tracemalloc.start()
    try:
        run_inverse(corpus, tmp_path / f"run-{n}", InverseConfig(samples=2, min_chars=10, with_original=True),
                    BackendConfig(), ReaderConfig(), backend=scripted_backend(reply=lambda req, i: f" Write thing {i}",
                                                                              judge=judge))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_flat_in_the_number_of_records(tmp_path, scripted_backend, monkeypatch):
    # measured (traced Python memory): ~0.2 KB a record more (ids, sort keys); the stage before it
    # streamed held every record and row: ~9.7 KB a record more (~22 KB of RSS, docs/results.md)
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # the run protocol's fsyncs only cost time here
    monkeypatch.setattr(output, "PARQUET_BATCH", 100)  # a batch, not the input size, bounds the Parquet writer
    _peak(tmp_path, 20, Quiet(scripted_backend))  # imports, prompts, first-use caches: not per record
    small, large = _peak(tmp_path, 400, Quiet(scripted_backend)), _peak(tmp_path, 2000, Quiet(scripted_backend))
    print(f"peak {small:,} B at 400 records, {large:,} B at 2,000: {(large - small) / 1600:,.0f} B a record more")
    assert (large - small) / 1600 < 1500, (small, large)


class Quiet:
    """A scripted backend that keeps no record of its calls (they would grow with the input)."""

    def __init__(self, cls) -> None:
        self.cls = cls

    def __call__(self, **kwargs):
        backend = self.cls(**kwargs)
        backend.generate_calls = _Sink()
        backend.score_calls = _Sink()
        return backend


class _Sink(list):
    def append(self, item) -> None:
        pass


def test_a_copy_of_a_finished_row_is_counted_and_never_reaches_the_outputs(tmp_path, scripted_backend):
    """Two rows of one id (a cluster block retried, or finished by a killed run's surviving actor
    after the rerun read the finished ids): the first in input order is used, the other counted."""
    corpus = write_corpus(tmp_path / "in.jsonl", 30)
    cfg = InverseConfig(samples=2, min_chars=10, with_original=True)
    backend = scripted_backend(reply=lambda req, i: f" Write thing {req.params.seed % 5}", judge=judge)
    first = run_inverse(corpus, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=backend)
    before = {name: (tmp_path / "run" / name).read_bytes() for name in OUTPUTS if (tmp_path / "run" / name).exists()}
    shards = tmp_path / "run" / "shards"
    rows = [json.loads(line) for line in (shards / "results-00000.jsonl").read_text().splitlines()]
    stale = [{**rows[3], "selected": [], "unselected_reason": "stale copy"}, {**rows[7], "status": "prompt_too_long"}]
    (shards / "results-ray-copies.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stale))
    again = run_inverse(corpus, tmp_path / "run", cfg, BackendConfig(), ReaderConfig(), backend=backend)
    assert again["duplicate_results"] == 2 and first["duplicate_results"] == 0
    assert {name: (tmp_path / "run" / name).read_bytes() for name in before} == before
    for key in ("snippets_finished", "dataset_rows", "skipped_by_reason", "cleaning", "score_median"):
        assert again[key] == first[key], key
    ids = [json.loads(line)["id"] for line in (tmp_path / "run" / "data.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 30
