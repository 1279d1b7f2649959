import math

from xinstruct.inverse.tasks import JudgeTask, SummarizeTask
from xinstruct.inverse.templates import load_prompt


def test_summarize_prompt_and_prefix_follow_the_paper():
    task = SummarizeTask(load_prompt("summarize"))
    messages = task.format_input("def f():\n    pass", "python")
    assert messages[-1]["role"] == "user"
    assert messages[-1]["content"].startswith(
        "This is a response code snippet to a programming problem, please give the problem description:"
    )
    assert "```python\ndef f():\n    pass\n```" in messages[-1]["content"]
    prefixes = {task.prefix("cpp", 0, "rec", i) for i in range(40)}
    verbs = {"Write a", "Create a", "Implement a", "Develop a", "Design a", "Build a", "I want a"}
    assert prefixes == {f"{v} C++" for v in verbs}
    # the draw depends on the record identity, the candidate index and the seed only: another task
    # object draws the same, another seed or record draws another sequence
    draws = [task.prefix("cpp", 0, "rec", i) for i in range(40)]
    assert draws == [SummarizeTask(load_prompt("summarize")).prefix("cpp", 0, "rec", i) for i in range(40)]
    assert draws != [task.prefix("cpp", 1, "rec", i) for i in range(40)]
    assert draws != [task.prefix("cpp", 0, "other", i) for i in range(40)]


def test_summarize_output_cut_at_fence_and_empty_is_null():
    task = SummarizeTask(load_prompt("summarize"))
    out = task.format_output("Write a Python", " function that adds.\n```python\nx")
    assert out["instruction"] == "Write a Python function that adds."
    empty = task.format_output("Write a Python", "   ")
    assert empty["instruction"] is None and empty["raw"] == "   "


def test_judge_score_sums_variants_and_missing_is_minus_100():
    task = JudgeTask(load_prompt("judge"))
    msg = task.format_input("Write a function", "def f(): pass", "python")[-1]["content"]
    assert msg.startswith("Here is a programming problem:\nWrite a function\nHere is the answer code to the problem:")
    assert msg.endswith("Is the answer correct? Your reply should begin with Yes or No.")
    out = task.format_output({"Yes": math.log(0.3), " Yes": math.log(0.1), "No": math.log(0.2)})
    assert math.isclose(out["score"], 0.4 / 0.6, rel_tol=1e-9)
    # nothing returned at all: every variant counts as -100, the score is still defined
    assert math.isclose(task.format_output({})["score"], 0.5)
