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
