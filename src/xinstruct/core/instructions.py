"""Cleaning of generated instructions: cut what is not the task, reject what cannot stand alone.

One piece of code for both places where the model writes a task statement: Inverse-Instruct's
candidates (``inverse/tasks.py``) and the agents' tasks (``agents/tasks.py``). The small model
wraps its task in prompt talk it copied from chat data: a label ("**Created Question**:"), the
same paragraph twice, a list of several tasks, the start of an answer ("Solution:", "Here's how
you can implement this:"), closing chatter, or words about the snippet it was shown ("the
original code snippet"). A reader of the instruction, a judge or a trained model, sees none of
that context, so such text is either cut (when the rest is a whole task) or the instruction is
rejected with a reason the run counts.

Every rule is a :class:`Rule` in one of the tuples below, with the reason it exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MIN_WORDS = 5
"""Fewer words is a title ("Reverse an Integer") or a bare prefix ("Write a Python function."), not a task."""
MIN_CHARS = 20

REJECT_REASONS = ("empty", "too_short", "task_list", "refers_to_prompt")
"""Every reason :func:`clean_instruction` can give, for summaries that list zeros too."""


@dataclass(frozen=True)
class Rule:
    """A named pattern and why it is there (the name is what summaries count)."""

    name: str
    pattern: re.Pattern[str]
    why: str


def _rule(name: str, pattern: str, why: str, flags: int = re.IGNORECASE | re.MULTILINE) -> Rule:
    return Rule(name, re.compile(pattern, flags), why)


# A label that announces a task: "Task:", "**Created Question**:", "### Instruction", "Problem 2 -".
_MARK = r"(?:\*\*|__|\*)?"
_LABEL_WORDS = (
    r"(?:(?:created|generated|new|rewritten|revised|improved|final|refined|updated|original)\s+)?"
    r"(?:programming\s+|coding\s+)?"
    r"(?:(?:task|problem|question|instruction|exercise|prompt|challenge)s?"
    r"(?:\s+(?:description|statement))?|description)"
)
LABEL = re.compile(
    rf"(?:^[ \t]*#{{1,6}}[ \t]*{_MARK}[ \t]*(?:{_LABEL_WORDS})(?:[ \t]*\d+)?[ \t]*{_MARK}[ \t]*:?[ \t]*{_MARK}[ \t]*(?:\n|$)"
    rf"|^[ \t]*{_MARK}(?:{_LABEL_WORDS})(?:[ \t]*\d+)?{_MARK}[ \t]*(?::|-(?=\s))[ \t]*{_MARK}[ \t]*"
    rf"|^[ \t]*{_MARK}(?:{_LABEL_WORDS})(?:[ \t]*\d+)?{_MARK}[ \t]*\n"
    rf"|(?<=[.!?)`])[ \t]+{_MARK}(?:{_LABEL_WORDS})(?:[ \t]*\d+)?{_MARK}[ \t]*:[ \t]*{_MARK}[ \t]*"
    r"|(?:^|(?<=[.!?)`])[ \t]+)[ \t]*(?:here(?:'s|’s|\s+is)\s+the|the)\s+(?:problem|task)\s+(?:description|statement)"
    r"(?:\s+is)?(?:\s+as\s+follows)?[ \t]*:[ \t]*)",
    re.IGNORECASE | re.MULTILINE,
)
"""Where a task label starts: a markdown heading line, a line opening with the label and a colon
(bold or not), a label alone on its line, or "**Created Question**:" after a sentence. The
words are task nouns only, and "Description" alone (tune slice of the free MBPP tasks: after the task, a
"**Description**:" heading opened a restatement or a walkthrough of the code in 3 of 29 selected
instructions, MBPP/26, 35, 41), and a sentence that announces one ("Here's the problem description:",
"The problem description is (as follows):", each before a restated task in MBPP/31, 34, 38):
"Example:", "Input:", "Note:" or "Constraints:" are parts of a task and stay."""

_INTRO = re.compile(r"(?::|\b(?:following|below)\b[^.!?\n]*[.!?]?)\s*\Z", re.IGNORECASE)
"""A part that ends by announcing the next one ("Write a Python program for the following task:")."""

_LEAD = re.compile(r"\A\d{1,2}[.:)][ \t]*(?:\([^)\n]{1,20}\)[ \t]*)?|\A\([A-Za-z+#]{1,15}\)[ \t]+")
"""One list number (and language tag) in front of a single task: "3. (Python) Write ..." is the
model continuing the numbered examples of the agents' propose prompt; the task itself is fine."""

_TASK_WORD = r"(?:task|problem|question|exercise|instruction|challenge)"
TASK_LIST_RULES = (
    _rule(
        "list_from_the_start",
        rf"\A[ \t]*(?:{_MARK}{_TASK_WORD}{_MARK}[ \t]*:[ \t]*)?(?:\(?1[.):]|1[ \t]+-)[ \t]+[^\n]*\n(?:[^\n]*\n)*?"
        rf"[ \t]*(?:{_MARK}{_TASK_WORD}{_MARK}[ \t]*:[ \t]*)?(?:\(?2[.):]|2[ \t]+-)[ \t]+",
        "A text that opens with item 1 and has an item 2 (\"1 - Reverse an Integer / Task: 2 - Implement "
        "a function to handle negative numbers / ... / Task: 5 - Improve the C++ task\", or \"1. (Python) "
        "... / 2. (Java) ...\") is a list of tasks: a list of requirements follows the sentence that "
        "states the task (\"Write a function that:\\n1. ...\"), it does not replace it.",
    ),
    _rule(
        "numbered_task",
        rf"^[ \t]*(?:#{{1,6}}[ \t]*)?{_MARK}{_TASK_WORD}(?:[ \t]*#?(?:[2-9]|\d\d)\b|{_MARK}[ \t]*:[ \t]*"
        rf"(?:\(?(?:[2-9]|\d\d)[.):]|(?:[2-9]|\d\d)[ \t]+-)[ \t])",
        "A line \"Task 2:\", \"Problem 3 -\" or \"Task: 2 - ...\" means a second task follows the first.",
    ),
)
"""Either rule rejects the text as ``task_list``. Rejected rather than cut to the first task: the
items are titles without inputs or outputs ("Reverse an Integer"), the later ones drift into talk
about the prompt ("Improve the C++ task ..."), and the code an Inverse-Instruct instruction is
paired with answers at most one of them, so the first item alone would be an under-specified task
that the judge cannot tell from a real one. Losing a candidate costs one of N; keeping a wrong
one costs a training row."""

TRAILER_RULES = (
    _rule(
        "answer_heading",
        rf"^[ \t]*(?:#{{1,6}}[ \t]*)?{_MARK}(?:(?:created|generated|final|example|sample|your)\s+)?(?:solution|answer|response|code)"
        rf"(?:[ \t]+\d+)?{_MARK}[ \t]*:?{_MARK}[ \t]*(?:\n|$|(?<=:).*)",
        "\"Solution: Write the solution in Python.\" or \"Answer:\" opens the answer (or a restated "
        "request for it); the task has ended before it.",
    ),
    _rule(
        "answer_intro",
        r"(?:^|(?<=[.!?:])[ \t]+)(?:(?:here|below)(?:'s|’s|\s+is|\s+are)\s+(?:(?:an?\s+example\s+of\s+)?how\b|(?:a|an|the|my|one|some)\s+"
        r"(?:[\w+#.-]+\s+){0,3}?(?:code|solution|implementation|program|script|function(?!\s+signature)|class|"
        r"example\s+(?:of\s+)?(?:code|implementation|solution|usage))\b)"
        r"|(?:to\s+(?:solve|implement|do)\s+this|you\s+(?:can|could)\s+(?:use|implement|solve|write|achieve))\b[^.\n]*:[ \t]*$)",
        "\"Here's how you can implement this:\", \"Here's an example of how ...\", \"Here is the code:\", \"To "
        "implement this function, you can follow these steps:\" (the steps are the answer's outline) "
        "introduce an answer that the stop at the code fence cut off; they are not part of the task.",
    ),
    _rule(
        "solution_walkthrough",
        r"(?:^|(?<=[.!?:])[ \t]+)to\s+(?:solve|achieve|accomplish|tackle|implement|do)\s+this(?:\s+(?:problem|task|function))?"
        r"(?:\s+in\s+[\w+#]+)?,\s*(?:we|you|i|let's|let\s+us|the\s+(?:function|code|program))\b"
        r"|(?:^|(?<=[.!?:])[ \t]+)(?:here|below)(?:'s|’s|\s+is|\s+are)\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,2}?"
        r"(?:breakdown|explanation|walkthrough|overview)\b"
        r"|(?<=\n\n)[ \t]*this\s+(?:function|code|program|implementation|solution)\s+(?:first\s+)?"
        r"(?:calculates|computes|initiali[sz]es|iterates|uses|works|creates|checks|loops|finds|returns)\b"
        r"|(?:(?<=[.!?])[ \t]+|(?<=\n\n))(?:the|this|my|our)\s+(?:solution|approach|idea)\s+"
        r"(?:is\s+to|involves|uses|ensures|works|relies)\b"
        r"|(?:(?<=[.!?])[ \t]+|(?<=\n\n))(?:the|this)\s+function\s+(?:then\s+)?(?:iterates|loops)\s+(?:over|through)\b"
        r"|(?<=\n\n)[ \t]*the\s+(?:function|code|program|implementation)\s+(?:first\s+)?"
        r"(?:uses|iterates|loops|works|employs|utili[sz]es|leverages)\b"
        r"|(?<=[.!?])[ \t]+this\s+(?:function|code|implementation)\s+uses\b"
        r"|(?<=[.!?])[ \t]+it\s+then\s+(?:converts|creates|iterates|loops|uses)\b",
        "The answer's explanation after the task (tune slice of the free MBPP tasks, MBPP/1): \"To solve this "
        "problem, we can use dynamic programming with memoization. The idea is ...\", \"Here's a step-by-step "
        "breakdown of how the code calculates this: 1. **Initialization**: We create ...\", a paragraph \"This "
        "function calculates the minimum cost ...\"; on MBPP/2 \"The solution involves using dynamic programming ... The "
        "idea is to keep track of two variables\", \"This approach ensures that we ...\"; on MBPP/29, 15, 40 and 42 \"The function iterates over each "
        "element ...\", \"This function uses regular expressions to ...\", \"It then converts the counter ...\", a "
        "paragraph \"The function uses a list comprehension ...\". It describes the code, which the reader of the task is "
        "to write; a task says what the code must do (\"The function should ...\"), not how this one does it.",
    ),
    _rule(
        "restated_language",
        r"(?:^|(?<=[.!?])[ \t]+)write\s+the\s+solution\s+in\s+[\w+#]+\.?[ \t]*$",
        "The agents append \"Write the solution in X.\" to every task themselves; a copy written by the "
        "model would appear twice in the training message.",
    ),
    _rule(
        "dangling_intro",
        r"(?:^|(?<=[.!?])[ \t]+)[^.!?\n]*:[ \t]*\Z",
        "A last sentence that ends in a colon (\"For example, given the input array:\", \"**Example "
        "Usage**:\") announced what the stop at the code fence cut off; alone it promises something "
        "the instruction does not have.",
    ),
    _rule(
        "closing_chatter",
        r"(?:^|(?<=[.!?])[ \t]+)(?:let\s+me\s+know\b|i\s+hope\s+this\b|hope\s+this\s+helps|feel\s+free\s+to\b|"
        r"happy\s+coding|good\s+luck\b|if\s+you\s+have\s+any\s+(?:further\s+)?questions|thank\s+you\b|thanks\b|"
        r"you\s+can\s+(?:test|try(?:\s+out)?)\s+(?:the|this|your)\s+(?:function|code|program|script|class|method)\b|"
        r"(?:(?:additionally|also|finally),?\s+)?i(?:'m|’m|\s+am)\s+(?:also\s+)?(?:interested\s+in|curious\s+about)\s+"
        r"(?:understanding|learning|knowing|seeing)\b)",
        "Chat closings (\"Let me know if...\", \"I hope this helps\") talk to the prompt's author, not "
        "to someone solving the task; so do \"You can test the function by calling it ...\" and \"Additionally, "
        "I'm interested in understanding how this function works\" (tune slice, MBPP/10 and 32).",
    ),
    _rule(
        "check_with_provided_data",
        r"(?:^|(?<=[.!?])[ \t]+)[^.!?\n]*\b(?:check|test|verify|validate)\w*\b[^.!?\n]*\bprovided\s+data\s+points\b",
        "\"Additionally, provide a check function to test the correctness of the solution with provided data "
        "points.\" (tune slice, MBPP/45, a selected one): no data points are provided to the reader; the "
        "sentence is chat data's stock request, not part of the task.",
    ),
)
"""Cut from the earliest match to the end: what follows an answer's start is answer or chatter."""

_CODE_NOUN = r"(?:code(?:\s+snippet)?|snippet|program|script|implementation|source(?:\s+code)?)"
REFERENCE_RULES = (
    _rule(
        "determined_code",
        rf"\b(?:the|this|that|these)\s+(?:original|given|provided|above|following|preceding|previous|existing|"
        rf"supplied|shown|sample|example)\s+(?:[\w+#]+\s+)?{_CODE_NOUN}\b",
        "\"the original code snippet\", \"the given snippet\", \"the provided code\", \"the following "
        "program\": code the reader of the instruction is never shown (the code is the answer, and a "
        "trained model's user gives none). \"given\" alone is fine: \"the given list\" is the task's input.",
    ),
    _rule(
        "snippet",
        r"\b(?:the|this|that)\s+(?:[\w+#]+\s+)?(?:code\s+)?snippet\b",
        "\"the snippet\", \"this Python snippet\": a snippet is what the summarizing model was shown. "
        "\"Write a snippet that ...\" (no determiner) asks for one and stays.",
    ),
    _rule(
        "above_below",
        rf"\b(?:as\s+(?:shown|seen|described|defined|given)\s+(?:above|below|earlier)|(?:the\s+)?above\s+"
        rf"(?:{_CODE_NOUN}|function|class|method|example)|{_CODE_NOUN}\s+(?:above|below))\b",
        "\"as shown above\", \"the code above\": there is nothing above an instruction.",
    ),
    _rule(
        "original",
        r"\b(?:described|defined|used|shown|given|implemented)\s+in\s+the\s+original\b"
        r"|\bthe\s+original\s+(?:function|class|method|problem|question|prompt|task|text|version)\b",
        "\"described in the original ...\", \"the original function\": the original is the prompt's "
        "code; the instruction must say itself what it wants.",
    ),
    _rule(
        "problem_described",
        r"\b(?:the|this)\s+(?:problem|task|question)\s+(?:described|stated|mentioned)(?:\s+(?:above|earlier|before))?(?=\s*[.,;:)]|\s*$)",
        "\"Create a Python function to solve the problem described.\" (tune slice, MBPP/1): described where? In "
        "the prompt the model was shown; the reader of the instruction has no such description.",
    ),
    _rule(
        "this_code",
        r"\b(?:explain|modify|refactor|rewrite|improve|fix|optimi[sz]e|analy[sz]e|debug|complete|translate|convert|"
        r"document|test)\s+(?:this|the)\s+(?:given\s+)?code\b|\b(?:in|of|from)\s+this\s+code\b",
        "\"Explain this code\", \"refactor the code\", \"the loop in this code\": an instruction about code "
        "it does not contain. \"The code should ...\" describes the code to write and stays.",
    ),
    _rule(
        "you_provided",
        r"\byou(?:'ve|’ve|\s+have)?\s+(?:provided|shared|posted|gave)\b",
        "\"The code you provided is almost correct but ...\", \"The problem description you provided is a Java "
        "version ...\" (tune slice, MBPP/48 and 32): the reply talks to the author of the prompt about what "
        "they showed it; the reader of the instruction provided nothing.",
    ),
    _rule(
        "problem_description_mentioned",
        r"\b(?:the|a)\s+problem\s+(?:description|statement)\s+(?:that\s+|which\s+)?(?:asks|says|states|requires|wants)\b"
        r"|\bprovide\s+the\s+problem\s+(?:description|statement)\b",
        "\"The problem description asks you to find ...\", \"You are given a problem statement that asks for a "
        "response code snippet ... Please provide the problem description in the response.\" (tune slice, "
        "MBPP/22 and 54): a description the reader never sees. A label (\"Problem description:\") is cut "
        "before this rule looks.",
    ),
)
"""An instruction matching any of these is rejected as ``refers_to_prompt``."""


@dataclass(frozen=True)
class Cleaned:
    """The cleaned instruction, or ``None`` with the reason; ``edits`` names what was cut."""

    text: str | None
    reason: str | None = None
    edits: tuple[str, ...] = field(default_factory=tuple)
    rule: str | None = None
    """For a rejection by pattern: the rule that matched (``determined_code``, ``list_from_the_start``, ...)."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def _same_text(a: str, b: str, threshold: float = 0.7, min_words: int = 6) -> bool:
    """A repeated paragraph: the two share most of their words (Jaccard), and are long enough for
    that to mean something (short lines such as ``k = 2`` share words by chance)."""
    wa, wb = set(_words(a)), set(_words(b))
    if min(len(wa), len(wb)) < min_words:
        return False
    return len(wa & wb) / len(wa | wb) >= threshold


def _first_statement(text: str, min_words: int) -> tuple[str, list[str]]:
    """The text up to a task label that comes after the task has started.

    A label there ("... ignoring case. **Created Question**: Implement a Python function
    `is_palindrome` ...") starts the task over: the model restates it, rarely word for word, or
    writes another one. One statement is kept, the first that is long enough to be a task (the
    first copy carries Inverse-Instruct's prefilled "Write a <language>", and a restatement is
    the likelier to be cut off by the token cap). A part that announces what follows ("... solve
    the following problem:") is joined to the next one instead; a leading label is just dropped.
    """
    parts, at = [], 0
    for m in LABEL.finditer(text):
        parts.append(text[at:m.start()].strip())
        at = m.end()
    parts.append(text[at:].strip())
    edits = ["label"] if len(parts) > 1 else []
    merged: list[str] = []
    for part in parts:
        if merged and _INTRO.search(merged[-1]):
            merged[-1] = f"{merged[-1]}\n\n{part}".strip()
        elif part:
            merged.append(part)
    if not merged:
        return "", edits
    if len(merged) > 1:
        edits.append("restatement")
    return next((p for p in merged if len(p.split()) >= min_words), merged[0]), edits


def _drop_repeats(text: str) -> tuple[str, list[str]]:
    """Paragraphs (blank-line separated) that repeat an earlier one are dropped."""
    paragraphs = re.split(r"\n\s*\n", text)
    kept: list[str] = []
    for para in paragraphs:
        if not any(_same_text(para, k) for k in kept):
            kept.append(para)
    return "\n\n".join(kept), (["repeat"] if len(kept) < len(paragraphs) else [])


def _cut_trailers(text: str) -> tuple[str, list[str]]:
    edits = []
    while True:
        hits = [(m.start(), r.name) for r in TRAILER_RULES if (m := r.pattern.search(text))]
        if not hits:
            return text, edits
        start, name = min(hits)
        edits.append(name)
        text = text[:start].rstrip()


def clean_instruction(text: str, *, min_words: int = MIN_WORDS, min_chars: int = MIN_CHARS) -> Cleaned:
    """``text`` without what is not the task, or ``None`` and why it cannot be used.

    Order matters: the code fence ends the task (the code is the answer); a task list is
    rejected before its labels are taken apart; labels split the text into sections, and a
    section that restates an earlier one is dropped (the first copy is kept: in Inverse-Instruct
    it carries the prefilled "Write a <language>"); trailers and chatter are cut; only then are
    references to the prompt looked for, so a cut trailer's "the following code" does not reject
    the task before it.
    """
    body = re.sub(r"[ \t]+\n", "\n", text.split("```", 1)[0]).strip()
    if not body:
        return Cleaned(None, "empty")
    for rule in TASK_LIST_RULES:
        if rule.pattern.search(body):
            return Cleaned(None, "task_list", rule=rule.name)
    body, edits = _first_statement(body, min_words)
    body, repeats = _drop_repeats(body)
    body, cut = _cut_trailers(body)
    edits += repeats + cut
    body = _LEAD.sub("", body, count=1).strip()
    body = re.sub(r"\n{3,}", "\n\n", body).rstrip(" \t:;,-")
    done = tuple(dict.fromkeys(edits))
    for rule in REFERENCE_RULES:
        if rule.pattern.search(body):
            return Cleaned(None, "refers_to_prompt", done, rule.name)
    if not _words(body):
        return Cleaned(None, "empty", done)
    if len(body.split()) < min_words or len(body) < min_chars:
        return Cleaned(None, "too_short", done)
    return Cleaned(body, None, done)


def rules() -> Iterable[Rule]:
    """Every pattern rule, for documentation and tests."""
    return (*TASK_LIST_RULES, *TRAILER_RULES, *REFERENCE_RULES)
