"""The experiment's data side: config errors by file and line, each arm's rows decontaminated and
described, the shipped configs, the recipe rule and the fair corpus (real sandbox). Resumption of a
killed training run is checked in test_experiment.py's loop on the tiny model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from xinstruct.core.config import build_config
from xinstruct.core.errors import ConfigError
from xinstruct.data.decontam import Decontaminator
from xinstruct.experiment.config import ExperimentConfig, load_experiment
from xinstruct.experiment.report import _data_lines
from xinstruct.experiment.rows import data_card, decontaminate_rows, select_rows

REPO = Path(__file__).resolve().parents[2]
BENCH_TEXT = ("def has_close_elements(numbers, threshold): check if in given list of numbers are any two numbers "
              "closer to each other than given threshold")


def chat(user: str, answer: str, **extra) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}], **extra}


@pytest.mark.parametrize(("text", "where"), [
    ("corpus: c.jsonl\narms:\n  A1:\n    data: original\n    train:\n      learning_rat: 1.0e-4\n",
     ":6: arms.A1.train: unknown key 'learning_rat' for SftTrainConfig (did you mean learning_rate?)"),
    ("corpus: c.jsonl\nbenchmark_limit: {mbpp+: 3}\narms: {A1: {}}\n",
     ":2: top level: unknown key 'benchmark_limit' for ExperimentConfig (did you mean benchmark_limits?)"),
    ("corpus: c.jsonl\neval:\n  max_token: 8\narms: {A1: {}}\n", ":3: eval: unknown key 'max_token'"),
    ("corpus: c.jsonl\narms:\n  A1: {}\n  A2:\n    inverse: {sample: 2}\n", ":5: arms.A2.inverse: unknown key 'sample'"),
    ("corpus: c.jsonl\nseed: x\narms: {A1: {}}\n", ":2: 'seed' expects int, got 'x'"),
    ("corpus: c.jsonl\narms:\n  A1: {}\n  A2:\n    weights_of: B\n", ":4: arms.A2: weights_of must name an arm that trains"),
    ("corpus: c.jsonl\ndecontaminate_against: [humaneval++]\narms: {A1: {}}\n", ": unknown benchmark 'humaneval++'"),
])
def test_config_errors_name_the_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert str(err.value).startswith(str(path))
    assert where in str(err.value)


def test_arm_rows_are_decontaminated_counted_and_described(tmp_path: Path) -> None:
    rows = [chat("Add two numbers.", "```python\ndef add(a, b):\n    return a + b\n```", stage=1, language="python"),
            chat(BENCH_TEXT, "```python\npass\n```", stage=2, id="leak"),
            chat("Reverse a string.", "```js\nconst r = s => [...s].reverse().join('')\n```", stage=2)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dec = Decontaminator.from_texts([BENCH_TEXT])
    numbered = select_rows(path, "two-stage")
    kept, step = decontaminate_rows(numbered, dec, path)
    assert [r["messages"][0]["content"] for r in kept] == ["Add two numbers.", "Reverse a string."]
    assert step is not None and step.skips.entries[0]["line"] == 2 and step.skips.entries[0]["id"] == "leak"
    card = data_card(kept, source="test rows", file=path, select="two-stage", rows_in=len(numbered), step=step,
                     against=["humaneval+"])
    assert card["decontamination"]["dropped"] == 1 and card["rows_before_decontamination"] == 3
    assert card["rows"] == 2 and card["languages"] == {"python": 1, "javascript": 1}
    assert card["stages"]["1"]["rows"] == card["stages"]["2"]["rows"] == 1
    assert card["mean_instruction_chars"] == (len("Add two numbers.") + len("Reverse a string.")) / 2
    table = "\n".join(_data_lines({"A3": card}))
    assert "## Generated data" in table and "| A3 | test rows | 2 | 1 / 1 |" in table and "| 1 of 3 |" in table
    assert decontaminate_rows(numbered, None, path)[0] == rows  # decontaminate: false keeps everything


@pytest.mark.parametrize("name", ["fair_mbpp", "mbpp_recipe_sweep"])
def test_shipped_mbpp_configs_validate(name: str) -> None:
    cfg = load_experiment(REPO / f"configs/experiments/{name}.yaml")
    arms = cfg.arm_configs()
    assert cfg.decontaminate and set(cfg.decontamination_specs()) >= {"humaneval+", "mbpp+"}
    if name == "fair_mbpp":
        # the reported benchmark only; MBPP+ chose the recipe, so it is decontaminated against, not reported
        assert cfg.benchmarks == ["humaneval+"]
        assert (arms["original_only"].data, arms["inverse_then_original"].data) == ("original", "two-stage")
        assert (arms["inverse_only"].weights_of, arms["inverse_only"].stage) == ("inverse_then_original", "stage1")
        # A4: the paper's arm with a random candidate, so the judge's worth is a paired contrast
        assert arms["random_then_original"].inverse == {"select": "random"}
        assert "inverse_then_original-random_then_original" in cfg.contrasts
        # one recipe for every arm: no arm overrides the shared training settings
        assert not any(a.train for a in arms.values())
    else:
        assert "humaneval+" not in cfg.benchmarks  # the recipe is never judged on the reported benchmark
        assert all(a.data == "original" for a in arms.values()) and len(arms) >= 4


def test_config_keeps_the_decontamination_list() -> None:
    values = {"corpus": "c.jsonl", "arms": {"A": {}}, "benchmarks": ["mbpp+"], "decontaminate_against": ["humaneval+"]}
    assert build_config(ExperimentConfig, values).decontamination_specs() == ["mbpp+", "humaneval+"]
    assert build_config(ExperimentConfig, {**values, "decontaminate": False}).decontamination_specs() == []


def test_choose_recipe_rule_and_apply(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from choose_recipe import apply, choose

    def row(arm: str, p: float, nll: float | None, steps: int, lr: float = 5e-5) -> dict:
        return {"arm": arm, "pass@1": p, "nll": nll, "max_steps": steps, "learning_rate": lr, "train": {"max_steps": steps}}

    rows = [row("hurts", 60.0, 0.1, 64, 2e-4), row("a", 52.0, 0.30, 64), row("b", 52.0, 0.25, 127), row("c", 51.0, 0.1, 32)]
    assert choose(rows, base_pass=51.0, harm=2.0) == (rows[0], True)  # best pass@1 wins, whatever its lr
    assert choose(rows[1:], base_pass=51.0, harm=2.0) == (rows[2], True)  # tie on pass@1: the lower NLL
    assert choose([row("x", 40.0, 0.2, 64), row("y", 45.0, 0.3, 64)], 51.0, 2.0) == (row("y", 45.0, 0.3, 64), False)
    config = tmp_path / "fair.yaml"
    config.write_text((REPO / "configs/experiments/fair_mbpp.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    apply(config, {"learning_rate": 1e-5, "max_steps": 32, "lora_r": 4, "lora_alpha": 8}, "chosen: arm c")
    cfg = load_experiment(config)
    train = cfg.train_config("original_only")
    assert (train.learning_rate, train.max_steps, train.lora_r) == (1e-5, 32, 4)
    assert "# chosen: arm c" in config.read_text(encoding="utf-8") and len(cfg.arm_configs()) == 4


def test_free_mbpp_corpus_on_a_few_ids_with_the_real_sandbox(benchmarks_dir: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _free_mbpp import free_ids
    from free_mbpp_corpus import build_corpus

    from xinstruct.eval.benchmarks import read_jsonl_gz
    from xinstruct.eval.data import locate

    free = free_ids(benchmarks_dir)
    plus = {int(str(r["task_id"]).split("/")[1]) for r in read_jsonl_gz(locate("mbppplus/MbppPlus-v0.2.0.jsonl.gz",
                                                                                   benchmarks_dir))}
    assert len(free) == 553 and not free & plus  # MBPP+ tasks never enter the corpus
    # 13, 15, 49 are kept; 38 overlaps a benchmark, 154 repeats 49's code, 341's reference fails its
    # own tests (set order), 966's does not parse; 2 is an MBPP+ task and is not even considered
    corpus = build_corpus(benchmarks_dir, [2, 13, 15, 38, 49, 154, 341, 966])
    assert corpus.free == 7
    assert [r["id"] for r in corpus.rows] == ["MBPP/13", "MBPP/15", "MBPP/49"]
    assert dict(corpus.dropped) == {"benchmark_overlap": 1, "duplicate": 1, "reference_fails": 1, "unparsable": 1}
    assert corpus.examples["duplicate"] == ["MBPP/154"] and corpus.examples["reference_fails"] == ["MBPP/341"]
    row = corpus.rows[0]
    assert row["instruction"] == "Write a function to count the most common words in a dictionary."
    assert row["response"].startswith("```python\ndef count_common(words):") and '"""' not in row["response"]
    assert row["messages"][1]["content"] == row["response"] and row["stage"] == 2
