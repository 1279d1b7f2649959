"""``browse`` in a real browser (Debian's Chromium, headless) against a scripted Inverse-Instruct run."""

from __future__ import annotations

from pathlib import Path


def test_list_filters_and_search_change_the_rows(inverse_app: str, page, tmp_path: Path):
    p = page.page
    p.goto(inverse_app + "/")
    assert p.locator("#samples tbody tr").count() == 21  # 20 snippets + the hostile row
    p.screenshot(path=str(tmp_path / "browse-list.png"))
    p.select_option("select[name=language]", "java")
    p.click("#apply")
    p.wait_for_url("**language=java**")
    assert p.locator("#samples tbody tr").count() == 2
    assert set(p.locator("#samples tbody tr td:nth-child(2)").all_inner_texts()) == {"java"}
    p.goto(inverse_app + "/")
    p.fill("input[name=min_score]", "0.5")
    p.click("#apply")
    p.wait_for_url("**min_score=0.5**")
    scores = [float(s) for s in p.locator("#samples tbody tr td:nth-child(4)").all_inner_texts()]
    assert scores and min(scores) >= 0.5 and len(scores) < 21
    p.goto(inverse_app + "/")
    p.fill("input[name=q]", "is_palindrome")
    p.click("#apply")
    p.wait_for_url("**q=is_palindrome**")
    assert p.locator("#samples tbody tr").count() == 1
    assert page.errors == [] and page.dialogs == []


def test_sample_page_shows_candidates_chosen_and_diff(inverse_app: str, page, tmp_path: Path):
    p = page.page
    p.goto(inverse_app + "/?q=is_palindrome")
    p.click("#samples tbody tr a")
    assert p.locator("#candidates tbody tr").count() == 4
    chosen = p.locator("#candidates tr.chosen")
    assert chosen.count() == 1
    assert p.locator("#verdict").inner_text() == "selected"
    assert "def is_palindrome" in p.locator("#code").inner_text()
    assert p.locator("#diff del").count() > 0 and p.locator("#diff ins").count() > 0
    p.screenshot(path=str(tmp_path / "browse-sample.png"), full_page=True)
    assert page.errors == [] and page.dialogs == []


def test_hostile_data_is_shown_as_text(inverse_app: str, page, hostile: str):
    p = page.page
    p.goto(inverse_app + "/?q=onerror")
    links = p.locator("#samples tbody tr a", has_text="hostile")
    assert links.count() == 1
    links.click()
    code = p.locator("#code").inner_text()
    assert hostile in code  # the markup is on screen as characters
    assert "\ufffd" in code  # invalid UTF-8 replaced, not fatal
    assert "more characters not shown" in code  # the 300K line is cut
    assert p.locator("img").count() == 0 and p.locator("script").count() == 0
    assert page.errors == [] and page.dialogs == []


def test_eval_task_page_shows_the_sandbox_verdict_and_output(eval_app: str, page, hostile: str, tmp_path: Path):
    p = page.page
    p.goto(eval_app + "/")
    p.select_option("select[name=verdict]", "failed")
    p.click("#apply")
    p.wait_for_url("**verdict=failed**")
    assert p.locator("#samples tbody tr").count() == 2
    p.click("#samples tbody tr a >> nth=0")
    assert p.locator("h2 .pill").first.inner_text() == "failed"
    assert hostile in p.locator("#code").inner_text()  # the answer returns the markup as a string: shown as text
    assert "AssertionError" in p.locator("pre").last.inner_text()  # the test's stderr from the sandbox
    p.screenshot(path=str(tmp_path / "browse-eval-task.png"), full_page=True)
    assert page.errors == [] and page.dialogs == []
