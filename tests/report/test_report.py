"""``xinstruct report`` on scripted runs: the figures on the page are the run's, data is text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from xinstruct.cli import cli
from xinstruct.report.build import build_report
from xinstruct.report.inverse_view import scores
from xinstruct.report.rundata import open_run


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_inverse_report_shows_the_runs_figures_and_escapes_data(inverse_run: Path, tmp_path: Path):
    result = CliRunner().invoke(cli, ["report", str(inverse_run), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    summary = json.loads((inverse_run / "summary.json").read_text())
    text = _text(html)
    for anchor in ("overview", "scores", "skips", "languages", "run"):
        assert f'id="{anchor}"' in html
    assert f"{summary['dataset_rows']} dataset rows" in text
    assert "extract.too_short 1" in text and "extract.unparseable_unfenced 1" in text
    # the broken line appended to the shard is reported by file and line, not fatal
    assert re.search(r"results-00000\.jsonl \d+ not JSON", text)
    # offline and inert: no script, nothing fetched (XML namespaces are names, not fetches); the hostile
    # row's language is on the page (table and chart label) as text
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert html.count("&lt;script&gt;") >= 2
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:|<link|@import|url\((?!#)""", html, re.I)
    assert html.count("<svg") == 3  # scores, margin, languages
    assert 'id="yardstick"' not in html  # no yardstick.json in this run


def test_selection_margin_and_scores_match_the_shard(inverse_run: Path):
    run = open_run(inverse_run)
    results = [r for r in run.shard_rows("results") if r["id"] != "hostile"]
    sc = scores(results)
    assert len(sc["all"]) == 80 and len(sc["selected"]) == 20
    # a snippet whose candidates are all "good" or all "bad" has margin 0, a mixed one 0.9 - 0.2
    assert {round(m, 3) for m in sc["margin"]} <= {0.0, 0.7}
    assert any(abs(m - 0.7) < 1e-9 for m in sc["margin"])


def test_eval_report_and_two_runs_side_by_side(eval_runs: tuple[Path, Path], tmp_path: Path):
    a, b = eval_runs
    single = _text(build_report(b, tmp_path / "b.html").read_text(encoding="utf-8"))
    assert "humaneval python 4 4 50.0 0" in single  # tasks, scored, pass@1 %, not runnable
    assert "benchmark failed passed humaneval 2 2" in single  # verdict classes
    assert "benchmark timeout memory_exceeded output_limit max_tokens humaneval 0 0 0 0" in single
    html = build_report(a, tmp_path / "ab.html", compare=b).read_text(encoding="utf-8")
    text = _text(html)
    assert "Gained by B (2)" in text and "Lost by B (0)" in text
    assert "humaneval 0.000 50.0 50.0 2 0 2" in text  # A, B, B − A, gained, lost, unchanged
    assert "HumanEval/0" in text and "HumanEval/1" in text


def test_compare_refuses_a_non_eval_run(inverse_run: Path, eval_runs: tuple[Path, Path], tmp_path: Path):
    result = CliRunner().invoke(cli, ["report", str(eval_runs[0]), "--compare", str(inverse_run),
                                      "--out", str(tmp_path / "x.html")])
    assert result.exit_code != 0 and "--compare needs two eval runs" in str(result.exception)


def test_not_a_run_directory_is_a_clear_error(tmp_path: Path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code != 0 and "no run.json or summary.json" in str(result.exception)


def test_agents_report_counts_rounds_memory_and_lineage(agents_run: Path, tmp_path: Path):
    html = build_report(agents_run, tmp_path / "agents.html").read_text(encoding="utf-8")
    text = _text(html)
    summary = json.loads((agents_run / "summary.json").read_text())
    events = [json.loads(x) for x in next((agents_run / "shards").glob("events-*.jsonl")).read_text().splitlines()]
    for anchor in ("overview", "rounds", "reflection", "memory", "lineage"):
        assert f'id="{anchor}"' in html
    assert f"{summary['totals']['kept']} kept" in text and f"{summary['totals']['proposed']} proposed" in text
    seed_round = sum(1 for e in events if e["round"] == 0)
    assert re.search(rf"python 0 {seed_round} {seed_round}\b", text)  # every seed sample passed and was kept
    memory = json.loads((agents_run / "memory" / "python.json").read_text())
    assert f"python: {len(memory['items'])}/{memory['size']} items" in text
    inspired = sum(1 for e in events for p in e["parents"] if p["kind"] != "snippet")
    assert inspired > 0 and re.search(rf"from \\ to python python {inspired}\b", text)


def test_train_report_draws_the_logged_loss(tmp_path: Path):
    """A training run's directory as sft writes it (progress.jsonl, summary.json): the loss curve per stage."""
    run = tmp_path / "sft"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"stage": "sft", "created": "2026-12-02T00:00:00Z", "command": ["x"]}))
    (run / "summary.json").write_text(json.dumps({"artifact": str(run / "adapter"), "stages": [
        {"name": "stage1", "rows": 8, "steps": 4, "first_loss": 2.5, "final_loss": 1.0}]}))
    (run / "progress.jsonl").write_text("".join(json.dumps({"event": "log", "stage": "stage1", "step": s, "loss": 3.0 / s})
                                                + "\n" for s in range(1, 5)))
    html = build_report(run, tmp_path / "t.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 1 and "stage1" in html and "4 logged steps" in _text(html)


def test_make_demo_ends_by_printing_the_report_path(inverse_run: Path):
    import shutil
    import subprocess
    import sys

    if shutil.which("make") is None:
        pytest.skip("make not installed")
    repo = Path(__file__).resolve().parents[2]
    import os

    # under `make test` the outer make's MAKEFLAGS/MAKELEVEL would make this one print "Entering directory"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    recipe = subprocess.run(["make", "--no-print-directory", "-n", "demo", f"DEMO_OUT={inverse_run}"], cwd=repo,
                            capture_output=True, text=True, check=True, timeout=60, env=env).stdout.strip().splitlines()
    assert recipe[-1] == f"printf 'report: ' && .venv/bin/xinstruct report {inverse_run}"
    shown = subprocess.run(["bash", "-c", recipe[-1].replace(".venv/bin/xinstruct", f"{sys.executable} -m xinstruct")],
                           capture_output=True, text=True, check=True, timeout=300)
    assert shown.stdout == f"report: {inverse_run / 'report.html'}\n"
    assert (inverse_run / "report.html").stat().st_size > 10_000


def test_experiment_report_shows_the_arms_comparison_and_losses(tmp_path: Path):
    """An experiment directory as the experiment writes it (report.json, arms/<arm>/sft/progress.jsonl)."""
    out = tmp_path / "exp"
    (out / "arms" / "inverse" / "sft").mkdir(parents=True)
    (out / "arms" / "inverse" / "sft" / "progress.jsonl").write_text(
        "".join(json.dumps({"event": "log", "stage": "stage1", "step": s, "loss": 2.0 / s}) + "\n" for s in (1, 2, 3)))
    report = {"seed": 0, "arms": ["base", "inverse"], "export": "gguf f16", "total_seconds": 12.5,
              "benchmarks": {"humaneval": {"tasks": 164, "arms": {
                  "base": {"pass@1": 30.5, "scored": 164, "not_runnable": 0, "nll": 0.41, "nll_tasks": 164},
                  "inverse": {"pass@1": 33.0, "scored": 164, "not_runnable": 0, "nll": 0.39, "nll_tasks": 164}},
                  "contrasts": [{"a": "inverse", "b": "base", "pass@1_delta": 2.5, "gained": 9, "lost": 5,
                                 "p_value": 0.42, "nll_delta": -0.02}]}},
              "phases": [{"name": "train-inverse", "status": "done", "seconds": 10.0}]}
    (out / "report.json").write_text(json.dumps(report))
    text = _text(build_report(out, tmp_path / "e.html").read_text(encoding="utf-8"))
    assert "humaneval (164 tasks)" in text
    assert "base 30.5 164 0.410" in text and "inverse 33.0 164 0.390" in text
    assert "inverse − base 2.500 9 5 0.420 -0.020" in text
    assert "Loss per arm" in text and "inverse stage1" in text and "train-inverse done 10.0" in text


def test_inverse_report_shows_the_yardstick(yardstick_run: Path, tmp_path: Path, hostile: str):
    html = build_report(yardstick_run, tmp_path / "y.html").read_text(encoding="utf-8")
    text = _text(html)
    assert 'id="yardstick"' in html and html.count("<svg") == 4  # the pass-rate bars added
    assert "slice tune" in text and "humaneval 3, mbpp 3" in text
    assert "original 4 6 66.7 selected 4 6 66.7 random 1 6 16.7" in text  # passed, total, pass rate %
    assert "selected pass rate % (4/6)" in text
    # A, B, both, only A, only B, neither, sign-test p
    assert "selected random 1 3 0 2 0.250" in text and "selected original 3 1 1 1 1.000" in text
    assert "selected vs random only selected 3 HumanEval/0, HumanEval/2, MBPP/603" in text
    assert "selected vs original only original 1 MBPP/601" in text and "selected vs original only selected 1 HumanEval/2" in text
    assert "humaneval 3 66.7 100.0 33.3" in text and "mbpp 3 66.7 33.3 0.000" in text  # per source
    from markupsafe import escape

    assert "<script" not in html.lower() and hostile not in html  # the task id and the command, as text
    assert html.count(str(escape(hostile))) >= 2


def _fake_run(root: Path, stage: str, yardstick: str | None) -> Path:
    root.mkdir(parents=True)
    (root / "run.json").write_text(json.dumps({"stage": stage, "command": ["x"]}))
    if yardstick is not None:
        (root / "yardstick.json").write_text(yardstick)
    return root


@pytest.mark.parametrize(("content", "note"), [
    ("{not json", "not JSON (Expecting property name"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({"benchmark": "data_quality", "rules": []}), "from benchmark data_quality, not inverse_roundtrip"),
    (json.dumps({"benchmark": "inverse_roundtrip", "conditions": {"selected": {"passed": 2, "total": 4}, "x": 5},
                 "contrasts": "none", "per_task": [1, {"task_id": "T/1", "selected": True}]}), "2 entries of yardstick.json"),
])
def test_a_corrupt_yardstick_gives_a_note_not_a_crash(tmp_path: Path, content: str, note: str):
    run = _fake_run(tmp_path / "run", "inverse", content)
    text = _text(build_report(run, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "Yardstick" in text and note in text


def test_agents_report_shows_the_data_quality_yardstick(tmp_path: Path, monkeypatch):
    """The summary benchmarks/data_quality.py writes (its own function, on synthetic seed rows) in an agents report."""
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    data_quality = importlib.import_module("data_quality")
    from rich.console import Console

    rows = [{"id": f"python:MBPP/{n}", "language": "python", "task_id": f"MBPP/{n}", "agreement": None,
             "tests_verdict": verdict, "hidden": [hidden], "meter_tests": {"tokens": 10, "calls": 2}}
            for n, verdict, hidden in ((610, "passed", "passed"), (611, "passed", "failed"), (612, "failed", "passed"))]
    run = _fake_run(tmp_path / "agents", "agents", None)
    out = tmp_path / "dq"
    out.mkdir()
    with open(tmp_path / "console.txt", "w") as fh:
        data_quality.write_report(out, rows, Console(file=fh), run)
    assert (out / "yardstick.json").read_text() == (run / "yardstick.json").read_text()
    summary = json.loads((run / "yardstick.json").read_text())
    assert summary["slice"] == "measure" and summary["seeds"] == {"python": 3}
    text = _text(build_report(run, tmp_path / "a.html").read_text(encoding="utf-8"))
    # language, rule, proposed, kept, right, wrong, yield, precision, recall
    assert "python tests 3 2 1 1 0.667 0.500 0.500" in text and "all tests 3 2 1 1 0.667 0.500 0.500" in text
    assert "python agreement m=3 3 0 0 0 0.000" in text
    assert "All languages: precision and recall per rule" in text
    with pytest.raises(SystemExit, match="not an agents run directory"):
        data_quality.attach_to(tmp_path / "dq")


def test_agents_report_shows_the_memory_over_rounds(agents_run: Path, tmp_path: Path):
    html = build_report(agents_run, tmp_path / "agents.html").read_text(encoding="utf-8")
    text = _text(html)
    history = [json.loads(x) for x in (agents_run / "memory_history.jsonl").read_text().splitlines()]
    assert [r["round"] for r in history] == [0, 1, 2]
    assert 'id="memory-rounds"' in html and "Memory over rounds" in text
    for r in history:
        ids = ", ".join(f"{i['id']} ({i['total']:g})" for i in r["items"])
        assert (f"python {r['round']} {len(r['items'])}/{r['size']} {len(r['entered'])} {len(r['evicted'])} "
                f"{len(r['too_similar'])} {len(r['below_floor'])}") in text and ids in text
    assert html.count("<svg") == 4  # kept per round, reflection per round, memory over rounds, lineage
