"""Cleaning of generated instructions (``core/instructions.py``), on replies the embedded model wrote
in ``make demo`` and agents runs, and on good instructions that must pass through unchanged."""

from __future__ import annotations

import pytest

from xinstruct.core.instructions import REJECT_REASONS, clean_instruction, rules


def test_text_restated_after_a_heading_keeps_the_first_copy() -> None:
    text = (
        "Write a Python function that checks whether a given string is a palindrome, ignoring case. "
        "**Created Question**: Implement a Python function `is_palindrome` that checks whether a given "
        "string is a palindrome, ignoring case."
    )
    out = clean_instruction(text)
    assert out.text == "Write a Python function that checks whether a given string is a palindrome, ignoring case."
    assert out.reason is None and "restatement" in out.edits
    on_its_own_line = text.replace(" **Created Question**: ", "\n\n**Created Question**:\n")
    assert clean_instruction(on_its_own_line).text == out.text


def test_a_description_heading_after_the_task_starts_a_restatement() -> None:
    # tune slice of the free MBPP tasks (MBPP/41): the selected candidate went on to describe the code
    task = (
        "Develop a Python function that filters out even numbers from a given list of integers and returns a new "
        "list containing only the odd numbers."
    )
    out = clean_instruction(
        f"{task}\n\n**Description**:\nThe function `filter_evennumbers` takes a list of integers as input. It uses "
        "Python's built-in `filter` function along with a lambda function to identify even numbers."
    )
    assert out.text == task and out.edits == ("label", "restatement")
    described = "Description: write a function `count_vowels(s)` that returns the number of vowels in `s`."
    assert clean_instruction(described).text == "write a function `count_vowels(s)` that returns the number of vowels in `s`."
    assert clean_instruction("Write a function that returns the description of a product.").edits == ()


def test_a_label_after_an_announcement_is_part_of_the_task() -> None:
    out = clean_instruction(
        "Write a Python program to solve the following problem:\n\n**Problem:** Given an array of integers, "
        "return the indices of the two numbers that add up to a target."
    )
    assert out.text == (
        "Write a Python program to solve the following problem:\n\nGiven an array of integers, return the "
        "indices of the two numbers that add up to a target."
    )
    assert out.edits == ("label",)


def test_a_leading_label_is_dropped() -> None:
    assert clean_instruction("### Instruction\nWrite a Go program that prints the first n primes.").text == (
        "Write a Go program that prints the first n primes."
    )
    assert clean_instruction("**Problem:** Write a function `fib(n)` returning the n-th Fibonacci number.").text == (
        "Write a function `fib(n)` returning the n-th Fibonacci number."
    )
    assert clean_instruction("Task: Write `add(a, b)` returning the sum.\n```python\nx\n```").text == (
        "Write `add(a, b)` returning the sum."
    )


def test_talk_about_the_original_snippet_is_rejected() -> None:
    text = (
        "Write a Python function `flatten_list` that takes a nested list and returns a flat list, similar to "
        "the `flatten` function described in the original code snippet.\n\nHere's how you can implement this:"
    )
    out = clean_instruction(text)
    assert out.text is None and out.reason == "refers_to_prompt"
    assert "answer_intro" in out.edits  # the trailer was cut first; the reference is in the task itself


@pytest.mark.parametrize(
    "text",
    [
        "Write a C++ function that does the same as the code above.",
        "Rewrite the given snippet in Java so that it uses streams.",
        "Create a Python class like the provided code, but thread-safe.",
        "Write a Python function that behaves as shown above for negative inputs.",
        "Implement a Python function with the behaviour described in the original function.",
        "Explain this code and write a Python version that uses recursion instead.",
        "Write a Python program that improves the existing implementation of the bubble sort.",
    ],
)
def test_references_to_the_prompt_are_rejected(text: str) -> None:
    assert clean_instruction(text).reason == "refers_to_prompt"


def test_a_numbered_list_of_tasks_is_rejected() -> None:
    text = (
        "1 - Reverse an Integer\nTask: 2 - Implement a function to handle negative numbers\n"
        "Task: 3 - Add a check for overflow\nTask: 4 - Write unit tests for the function\n"
        "Task: 5 - Improve the C++ task by making it more concise and adhere to PEP 8 standards"
    )
    out = clean_instruction(text)
    assert out.text is None and out.reason == "task_list" and out.rule == "list_from_the_start"
    examples = "1. (Python) Write `f(x)` returning x squared.\n2. (Java) Write `g(s)` reversing a string."
    assert clean_instruction(examples).reason == "task_list"
    second = "Write a function `area(r)` returning the area of a circle.\n\nTask 2: Write `perimeter(r)` too."
    assert clean_instruction(second).rule == "numbered_task"


def test_the_solution_trailer_is_cut() -> None:
    out = clean_instruction("Write a function that returns the maximum of three numbers.\n\nSolution: Write the solution in Python.")
    assert out.text == "Write a function that returns the maximum of three numbers."
    assert out.edits == ("answer_heading",)


@pytest.mark.parametrize(
    ("tail", "rule"),
    [
        ("\n\nHere is the code:", "answer_intro"),
        (" Here's a Python implementation of the function:", "answer_intro"),
        ("\nAnswer:", "answer_heading"),
        (" Let me know if you need anything else!", "closing_chatter"),
        ("\n\nI hope this helps.", "closing_chatter"),
        (" Write the solution in Python.", "restated_language"),
        ("\n\nHere's an example of how you can implement this:", "answer_intro"),
        ("\n\nTo implement this function, you can follow these steps:\n\n1. Convert all characters to lowercase.\n"
         "2. Compare the string with its reverse.", "answer_intro"),
        ("\n\n**Created Answer**:", "answer_heading"),
        ("\n\nFor example, given the input array:", "dangling_intro"),
    ],
)
def test_trailers_and_chatter_are_cut(tail: str, rule: str) -> None:
    task = "Write a Python function `mean(xs)` that returns the average of a list of numbers."
    out = clean_instruction(task + tail)
    assert out.text == task and out.edits == (rule,)


@pytest.mark.parametrize(
    "tail",
    [  # the embedded model on the tune slice of the free MBPP tasks (MBPP/1, min_cost), shortened
        "\n\nTo solve this problem, we can use dynamic programming with memoization. The idea is to build up a "
        "solution for all possible subproblems.",
        " To achieve this, we iterate over the list and keep a running total.",
        "\n\nHere's a step-by-step breakdown of how the code calculates this:\n\n1. **Initialization**: We create "
        "a 3x3 matrix `tc`.",
        "\n\nThis function calculates the minimum cost of buying stickers in a grid with the constraints given.",
        " The solution involves using dynamic programming to solve the problem efficiently. The idea is to keep "
        "track of two variables.",  # MBPP/2, count_ways
        " This approach ensures that we efficiently compute the result without recalculating it multiple times.",
    ],
)
def test_a_walkthrough_of_the_solution_is_cut(tail: str) -> None:
    task = "Write a Python function `mean(xs)` that returns the average of a list of numbers."
    out = clean_instruction(task + tail)
    assert out.text == task and out.edits == ("solution_walkthrough",)


@pytest.mark.parametrize(
    "text",
    [  # the same words where they state the task
        "To solve this puzzle, write a Python function that returns the number of moves.",
        "Write a Python function that returns the n-th Fibonacci number. To do this, use an iterative loop, "
        "not recursion.",
        "This function calculates the median of a list: write it in Python so that it runs in O(n log n).",
        "Write a Python function `explain(tree)` that returns a breakdown of a tree's node counts by depth.",
        "Write a Python function that returns a list.\n\nThe function should use a loop; it iterates over the "
        "input once.",
        "Write a Python function that returns the shortest path. The solution should use breadth-first search.",
        "Write a Python function that checks whether the idea is new: return True when the word is not in the list.",
    ],
)
def test_walkthrough_words_inside_a_task_are_kept(text: str) -> None:
    out = clean_instruction(text)
    assert out.text == text and out.edits == ()


def test_the_problem_described_in_the_prompt_is_rejected_but_a_described_task_is_kept() -> None:
    out = clean_instruction("Create a Python function to solve the problem described. The function should take two "
                            "arguments, `cost` and `m`.")  # tune slice, MBPP/1
    assert out.text is None and out.reason == "refers_to_prompt" and out.rule == "problem_described"
    kept = "Write a Python function for the problem described below: given a list, return its sum."
    assert clean_instruction(kept).text == kept


def test_a_repeated_paragraph_is_kept_once() -> None:
    para = "Write a Rust function that counts the vowels in a string and returns the count."
    out = clean_instruction(f"{para}\n\n{para}")
    assert out.text == para and out.edits == ("repeat",)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("   \n", "empty"), ("```python\nx = 1\n```", "empty"), ("ok", "too_short"),
     ("Reverse an Integer", "too_short"), ("Write a Python function.", "too_short"), ("Task:", "empty")],
)
def test_empty_and_too_short(text: str, reason: str) -> None:
    out = clean_instruction(text)
    assert out.text is None and out.reason == reason and reason in REJECT_REASONS


@pytest.mark.parametrize(
    "text",
    [
        "Write a Python function that, given a list of integers, returns the given list sorted in place.",
        "Write a Python function `top_k(xs, k)` that returns the k largest elements. The code should handle "
        "an empty list and k larger than the list.",
        "Create a JavaScript function that:\n1. validates the input array\n2. returns the sum of its elements\n\n"
        "Example: sum([1, 2]) returns 3.",
        "Implement a Java class `Stack` with push, pop and peek.\n\nInput: a sequence of operations.\n"
        "Output: the values popped, in order.\nNote: pop on an empty stack throws.",
        "Write a Bash script that prints the given file's lines in reverse order.",
        "Design a C++ program that reads the given numbers from stdin and prints their median.",
        "Write a Python snippet that prints the current date in ISO format.",
        "Write `f(x)` that returns x.",
        "Write a Go function that parses a problem description string of the form `name: value` and returns "
        "a map.",
    ],
)
def test_good_instructions_pass_unchanged(text: str) -> None:
    out = clean_instruction(text)
    assert out.text == text and out.reason is None and out.edits == ()


def test_a_list_number_in_front_of_one_task_is_dropped() -> None:
    assert clean_instruction("3. (Python) Write `f(x)` that returns x.").text == "Write `f(x)` that returns x."


def test_every_rule_says_why() -> None:
    names = [r.name for r in rules()]
    assert len(names) == len(set(names))
    assert all(len(r.why) > 40 for r in rules())


@pytest.mark.parametrize(
    ("text", "kept"),
    [  # the embedded model on the tune slice of the free MBPP tasks (MBPP/31, 38), shortened
        ("Write a Python function that returns the k most frequent elements of a list of integers.\n\n"
         "Here's the problem description:\n\nCalculate the k most frequent elements in a list of integers.",
         "Write a Python function that returns the k most frequent elements of a list of integers."),
        ("Design a Python function that returns the average of the first even and the first odd number.\n\n"
         "The problem description is as follows:\n- You need to implement a function `div_even_odd`.",
         "Design a Python function that returns the average of the first even and the first odd number."),
        ("Write a Python function that returns the missing number of a sorted list. The problem description is: "
         "Given a sorted list `ar` and its length `N`, return the missing number.",
         "Write a Python function that returns the missing number of a sorted list."),
    ],
)
def test_an_announced_problem_description_starts_a_restatement(text: str, kept: str) -> None:
    out = clean_instruction(text)
    assert out.text == kept and out.edits == ("label", "restatement")


@pytest.mark.parametrize(
    ("tail", "rule"),
    [  # tune slice: MBPP/10, 32, 29, 15, 40, 42
        (" You can test the function by calling it with different lists and values of `n`.", "closing_chatter"),
        (" Additionally, I'm interested in understanding how this function works.", "closing_chatter"),
        (" The function iterates over each element in the array and counts how many times it appears.",
         "solution_walkthrough"),
        (" This function uses regular expressions to identify sequences of lowercase letters.", "solution_walkthrough"),
        (" It then converts the counter into a dictionary.", "solution_walkthrough"),
        ("\n\nThe function uses a list comprehension to iterate over each element.", "solution_walkthrough"),
    ],
)
def test_chatter_and_walkthroughs_from_the_tune_slice_are_cut(tail: str, rule: str) -> None:
    task = "Write a Python function `mean(xs)` that returns the average of a list of numbers."
    out = clean_instruction(task + tail)
    assert out.text == task and out.edits == (rule,)


@pytest.mark.parametrize(
    "text",
    [  # the same words where they are the task
        "Write a Python function that returns the problem description of a ticket: the text after its title.",
        "Write a Python function that counts words. The function should iterate over the lines once.",
        "Write a Python class `Timer`. You can use `time.monotonic()` for the clock.",
        "Write a Python function that reads a file and returns its lines. It then must not keep the file open.",
        "Write a Python function that returns the larger of two numbers.\n\nThe function should use no branches.",
    ],
)
def test_words_of_the_new_rules_inside_a_task_are_kept(text: str) -> None:
    out = clean_instruction(text)
    assert out.text == text and out.edits == ()


def test_a_check_function_with_provided_data_points_is_cut() -> None:
    task = "Write a Python function `get_gcd` that returns the greatest common divisor of two numbers."
    out = clean_instruction(task + " Additionally, provide a check function to test the correctness of the "
                            "solution with provided data points.")  # tune slice, MBPP/45
    assert out.text == task and out.edits == ("check_with_provided_data",)
    kept = "Write a Python function that fits a line to a list of data points and tests it on three of them."
    assert clean_instruction(kept).text == kept


@pytest.mark.parametrize(
    ("text", "rule"),
    [  # tune slice: MBPP/48, 32, 22, 54 (shortened)
        ("I want a Python function that sets the lowest bit of a number.\n\nThe code you provided is almost "
         "correct but it lacks the check for negative numbers.", "you_provided"),
        ("I want a Python function that finds the largest prime factor of a number. The problem description you "
         "provided is a Java version of a similar logic.", "you_provided"),
        ("Build a Python function that finds the first duplicate in an array. The problem description asks you "
         "to find it without additional space.", "problem_description_mentioned"),
        ("Write a Python function that counts each element of an array. Please provide the problem description "
         "in the response.", "problem_description_mentioned"),
    ],
)
def test_talk_about_what_the_prompt_showed_is_rejected(text: str, rule: str) -> None:
    out = clean_instruction(text)
    assert out.text is None and out.reason == "refers_to_prompt" and out.rule == rule
