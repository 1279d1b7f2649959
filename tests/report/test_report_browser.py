"""The report in a real browser (Debian's Chromium, headless): loads offline with no console
error, runs no script from the data, and a screenshot of it is written."""

from __future__ import annotations

from pathlib import Path

from xinstruct.report.build import build_report


def test_inverse_report_in_chromium(inverse_run: Path, page, tmp_path: Path):
    report = build_report(inverse_run, tmp_path / "inverse.html")
    page.page.goto(report.as_uri())
    assert page.page.title() == f"xinstruct inverse run: {inverse_run.name}"
    assert page.page.locator("section h2").all_inner_texts() == ["Overview", "Scores", "Skipped and rejected",
                                                                 "Languages", "Run"]
    assert page.page.locator(".chart svg").count() == 3
    page.page.screenshot(path=str(tmp_path / "report-inverse.png"))
    assert page.errors == [] and page.dialogs == []


def test_eval_comparison_in_chromium(eval_runs: tuple[Path, Path], page, tmp_path: Path):
    report = build_report(eval_runs[0], tmp_path / "compare.html", compare=eval_runs[1])
    page.page.goto(report.as_uri())
    gained = page.page.locator("caption", has_text="Gained by B").locator("xpath=..")
    assert gained.locator("tbody tr").count() == 2
    page.page.emulate_media(media="print")  # the print layout hides the navigation
    assert not page.page.locator("nav").is_visible()
    page.page.emulate_media(media="screen")
    page.page.screenshot(path=str(tmp_path / "report-eval-compare.png"), full_page=True)
    assert page.errors == [] and page.dialogs == []


def test_yardstick_section_in_chromium(yardstick_run: Path, page, tmp_path: Path, hostile: str):
    report = build_report(yardstick_run, tmp_path / "yardstick.html")
    page.page.goto(report.as_uri() + "#yardstick")
    assert page.page.locator("section h2").all_inner_texts()[-2:] == ["Yardstick", "Run"]
    section = page.page.locator("#yardstick")
    assert section.is_visible() and section.locator(".chart svg").count() == 1
    assert "selected pass rate % (4/6)" in section.inner_text()
    gained = section.locator("caption", has_text="Per task: gained and lost").locator("xpath=..")
    assert gained.locator("tbody tr").count() == 6  # two directions of three contrasts
    assert f"MBPP/603{hostile}" in gained.inner_text()  # the hostile task id is shown as text
    page.page.screenshot(path=str(tmp_path / "report-yardstick.png"))
    assert page.errors == [] and page.dialogs == []


def test_agents_memory_over_rounds_in_chromium(agents_run: Path, page, tmp_path: Path):
    report = build_report(agents_run, tmp_path / "agents.html")
    page.page.goto(report.as_uri() + "#memory-rounds")
    section = page.page.locator("#memory-rounds")
    assert section.is_visible() and section.locator(".chart svg").count() == 1
    rounds = len((agents_run / "memory_history.jsonl").read_text().splitlines())
    assert section.locator("tbody tr").count() == rounds == 3
    assert "held from before" in section.locator(".chart").inner_text()
    page.page.screenshot(path=str(tmp_path / "report-agents-memory.png"))
    assert page.errors == [] and page.dialogs == []
