"""``xinstruct experiment`` end to end on a tiny random Qwen2: the whole loop, then resumption.

The tiny model generates the data (Inverse-Instruct through the transformers backend), is trained
in two arms, exported, evaluated on two HumanEval+ tasks in the sandbox and scored for the NLL of
the canonical solutions. Its answers are wrong; the test is about the loop, not the numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from xinstruct.core.config import build_config, load_yaml
from xinstruct.core.errors import ConfigError, InputError
from xinstruct.experiment.config import ExperimentConfig
from xinstruct.experiment.stats import paired, sign_test

REPO = Path(__file__).resolve().parents[2]


def test_sign_test_exact_values() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(9, 33) == pytest.approx(2.7154e-4, rel=1e-4)  # the 52.4 -> 37.8 run in docs/results.md
    assert sign_test(5, 0) == pytest.approx(2 / 32)
    assert sign_test(3, 3) == 1.0
    p = paired({"a": 1, "b": 0, "c": 1}, {"a": 0, "b": 0, "c": 1, "d": 1})
    assert (p.tasks, p.gained, p.lost) == (3, 1, 0)
    nll = paired({"a": 0.5, "b": 2.0}, {"a": 1.0, "b": 1.0}, higher_is_better=False)
    assert (nll.gained, nll.lost) == (1, 1)


def test_shipped_config_validates() -> None:
    cfg = build_config(ExperimentConfig, load_yaml(REPO / "configs/experiments/e2e_inverse.yaml"))
    assert cfg.contrast_pairs() == [("sft", "base"), ("sft_stage1", "base"), ("sft", "sft_stage1")]
    assert cfg.train_config("sft").max_length == 512 and cfg.inverse_config("sft").with_original


@pytest.mark.parametrize(("change", "needle"), [
    ({"arms": {"A": {"train": {"learning_rat": 1}}}}, "unknown key(s) learning_rat"),
    ({"arms": {"A": {"weights_of": "B"}}}, "weights_of must name an arm that trains"),
    ({"arms": {"A": {"stage": "stage1"}}}, "needs `weights_of`"),
    ({"contrasts": ["A-Z"]}, "contrast 'A-Z'"),
    ({"benchmarks": ["humaneval++"]}, "unknown benchmark"),
    ({"eval": {"limit": 3}}, "set by the experiment"),
    ({"arms": {"A": {"train": {"base": "other.gguf"}}}}, "set by the experiment"),
    ({"benchmark_limits": {"humaneval+": "all"}}, "whole numbers"),
    ({"data": "x.jsonl"}, "not both"),
    ({"arms": {"base": {}}}, "not 'base'"),
])
def test_bad_configs_are_refused(change: dict, needle: str) -> None:
    values = {"corpus": "code.jsonl", "arms": {"A": {}}, **change}
    with pytest.raises(ConfigError) as err:
        build_config(ExperimentConfig, values)
    assert needle in str(err.value)


class Interrupted(Exception):
    pass


@pytest.mark.hf
def test_whole_loop_on_a_tiny_model_then_resume(tmp_path: Path, tiny_base: Path, benchmarks_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("trl")
    from xinstruct.cli import main
    from xinstruct.experiment.pipeline import run_experiment

    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    config = {
        "base": str(tiny_base), "corpus": str(REPO / "examples/inverse/demo.jsonl"), "seed": 3,
        "inverse": {"samples": 2, "max_tokens": 12, "limit": 3},
        "generator": {"batch_size": 8},
        "train": {"max_steps": 1, "batch_size": 2, "grad_accum": 1, "lora_r": 4, "lora_alpha": 8, "max_length": 384,
                  "warmup_ratio": 0.0, "threads": 1, "learning_rate": 1e-3},
        "arms": {"A3": {"data": "two-stage"}, "A2": {"weights_of": "A3", "stage": "stage1"}},
        "contrasts": ["A3-A2"],
        "export": "hf",
        "benchmarks": ["humaneval+"], "benchmark_limits": {"humaneval+": 2},
        "eval": {"max_tokens": 16, "exec_timeout": 20},
        "eval_backend": {"batch_size": 4},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    out = tmp_path / "exp"

    import xinstruct.train.sft as sft

    real_stage = sft._train_stage

    def killed_in_stage2(*args, **kwargs):  # (name, rows, epochs, model, tokenizer, cfg, ref, out, ...)
        if args[0] == "stage2":
            raise Interrupted
        return real_stage(*args, **kwargs)

    monkeypatch.setattr(sft, "_train_stage", killed_in_stage2)
    cfg = build_config(ExperimentConfig, load_yaml(path))
    with pytest.raises(Interrupted):
        run_experiment(cfg, out, log=lambda m: None)
    monkeypatch.setattr(sft, "_train_stage", real_stage)
    stage1 = out / "arms" / "A3" / "sft" / "stage1" / "final" / sft.STAGE_DONE
    stage1_before = (stage1.read_bytes(), stage1.stat().st_mtime_ns)

    main(["experiment", str(path), "--out", str(out)])  # the CLI, resuming
    report = json.loads((out / "report.json").read_text())
    status = {p["name"]: p["status"] for p in report["phases"]}
    assert status["data"] == "reused"
    # the killed training resumed: its finished stage 1 was kept, not trained again (the old code
    # passed --overwrite to its own run and retrained it)
    assert (stage1.read_bytes(), stage1.stat().st_mtime_ns) == stage1_before
    assert {k for k, v in status.items() if v == "ran"} == {
        "train-A3", *(f"export-{arm}" for arm in ("base", "A3", "A2")),
        *(f"{p}-{arm}-humanevalplus" for p in ("eval", "nll") for arm in ("base", "A3", "A2")),
    }
    bench = report["benchmarks"]["humaneval+"]
    assert bench["tasks"] == 2 and list(bench["arms"]) == ["base", "A3", "A2"]
    for row in bench["arms"].values():
        assert row["pass@1"] is not None and row["nll_tasks"] == 2 and math.isfinite(row["nll"])
    pairs = [(c["a"], c["b"]) for c in bench["contrasts"]]
    assert pairs == [("A3", "base"), ("A2", "base"), ("A3", "A2")]
    assert all(0 <= c["p_value"] <= 1 and c["tasks"] == 2 for c in bench["contrasts"])
    # training changed the weights: the canonical solutions' likelihood moved
    assert bench["arms"]["A3"]["nll"] != bench["arms"]["base"]["nll"]
    md = (out / "report.md").read_text()
    assert "| A3 − A2 |" in md and "| data | reused |" in md and "| eval-A2-humanevalplus | ran |" in md
    data = report["data"]
    a3 = data["A3"]
    assert a3["rows"] == a3["rows_before_decontamination"] == a3["stages"]["1"]["rows"] + a3["stages"]["2"]["rows"]
    assert (data["A2"]["rows"], list(data["A2"]["stages"])) == (a3["stages"]["1"]["rows"], ["1"])  # stage 1's rows
    assert data["A3"]["decontamination"]["against"] == ["humaneval+"] and "## Generated data" in md

    # a changed arm setting redoes what depends on it only: A2 now takes the weights stage 2 ended with;
    # a new decontamination benchmark that drops no row changes no arm's rows, so nothing retrains
    config["arms"]["A2"]["stage"] = "stage2"
    config["decontaminate_against"] = ["mbpp+"]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    report = run_experiment(build_config(ExperimentConfig, load_yaml(path)), out, log=lambda m: None)
    ran = {p["name"] for p in report["phases"] if p["status"] == "ran"}
    assert ran == {"export-A2", "eval-A2-humanevalplus", "nll-A2-humanevalplus"}
    # stage 2's final weights are A3's final weights: same likelihoods
    assert report["benchmarks"]["humaneval+"]["arms"]["A2"]["nll"] == report["benchmarks"]["humaneval+"]["arms"]["A3"]["nll"]


def test_arm_rows_come_from_the_stage_column(tmp_path: Path) -> None:
    from xinstruct.experiment.pipeline import select_rows

    rows = [{"messages": [], "stage": s, "i": i} for i, s in enumerate([1, 2, 1, 2, 2])]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [(n, r["i"]) for n, r in select_rows(path, "generated")] == [(1, 0), (3, 2)]
    assert [r["i"] for _, r in select_rows(path, "original")] == [1, 3, 4]
    assert len(select_rows(path, "two-stage")) == 5
    generated_only = tmp_path / "generated.jsonl"
    generated_only.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="no original rows"):
        select_rows(generated_only, "original")


def test_a_second_generation_run_starts_from_the_first_ones_call_cache(tmp_path: Path) -> None:
    from xinstruct.core.cache import CallCache
    from xinstruct.experiment.pipeline import seed_cache

    first = tmp_path / "data" / "data"
    cache = CallCache(first / "llm-cache.sqlite")
    cache.put("k", "generate", {"request": 1}, {"text": "cached answer"})
    cache.close()
    second = tmp_path / "data" / "data-A4"
    assert seed_cache(second, [first])
    assert seed_cache(second, [first]) is False  # never over a cache the run already has
    copy = CallCache(second / "llm-cache.sqlite")
    assert copy.get("k") == {"text": "cached answer"}
    copy.close()
    assert seed_cache(tmp_path / "data" / "other", []) is False
