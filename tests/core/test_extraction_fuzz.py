"""Code extraction under hostile responses: any text gives a snippet or a named reason, never an
exception, including text that sends Python's parser past its recursion or stack limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinstruct.core.extraction import Snippet, snippet_of
from xinstruct.core.records import Record
from xinstruct.inverse.extract import ExtractCode, ExtractSettings

PIECES = st.sampled_from(["```", "```python\n", "```java\n", "\n", "def f(x):\n    return x\n", "{", "}", "(", ")",
                          ";", "public static int f() {", "\x00", "\ud800", "é", "a+", "-", "# ", "    "])
responses = st.lists(PIECES | st.text(max_size=20), max_size=30).map("".join)
instructions = st.sampled_from(["", "Write a Java method.", "In C++, ...", "python please", "\x00"])


@settings(max_examples=150, deadline=2000)
@given(response=responses, instruction=instructions)
def test_snippet_of_any_text(response: str, instruction: str) -> None:
    found = snippet_of({"instruction": instruction, "response": response})
    assert isinstance(found, Snippet) or found in ("unparseable_unfenced", "lone_surrogate")
    records = [Record(id="r", data={"instruction": instruction, "response": response}, provenance={"file": "f", "line": 1})]
    step = ExtractCode(ExtractSettings(min_chars=1))
    kept = list(step.run(records))
    assert len(kept) + sum(v for k, v in step.stats.items() if k.startswith("dropped.")) == 1


@pytest.mark.parametrize("text", ["a+" * 200_000 + "a", "-" * 1_000_000 + "1", "not " * 300_000 + "x",
                                  "x = 1\n\x00\n"])
def test_parser_limits_are_not_code(text: str) -> None:
    """Each of these once raised RecursionError, MemoryError or ValueError out of ast.parse."""
    assert snippet_of({"instruction": "", "response": text}) == "unparseable_unfenced"
