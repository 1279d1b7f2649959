"""One code extraction for every stage: the same instruction dataset gives inverse and agents the
same snippets, with the same languages (unfenced code included when it parses)."""

from __future__ import annotations

import json

from xinstruct.agents.inputs import code_inputs
from xinstruct.core.extraction import Snippet, snippet_of
from xinstruct.core.pipeline import SkipLog
from xinstruct.inverse.extract import ExtractCode, ExtractSettings
from xinstruct.readers import ReaderConfig, read_input

ROWS = [
    {"instruction": "Add two numbers.", "response": "```python\ndef add(a, b):\n    return a + b\n```"},
    {"instruction": "Double a number.", "response": "Here:\n```\ndef double(x):\n    return 2 * x\n```\nDone."},
    {"instruction": "Negate a number.", "response": "def neg(x):\n    return -x"},
    {"instruction": "Write a Java method that triples a number.",
     "response": "public static int triple(int x) {\n    return 3 * x;\n}"},
    {"instruction": "Write a C++ function that squares a number.",
     "response": "```cpp\nint square(int x) { return x * x; }\n```"},
    {"instruction": "What is a closure?", "response": "A closure is a function that remembers its scope."},
]


def test_snippet_of_fenced_untagged_and_unfenced():
    assert snippet_of({"code": "x = 1\n", "language": "python"}) == Snippet("x = 1\n", "python")
    assert snippet_of(ROWS[1]) == Snippet("def double(x):\n    return 2 * x", "python")
    assert snippet_of(ROWS[3]).language == "java"
    assert snippet_of(ROWS[5]) == "unparseable_unfenced"


def test_inverse_and_agents_take_the_same_snippets(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    skips = SkipLog()
    records = list(read_input(path, ReaderConfig(), skips))
    inverse = list(ExtractCode(ExtractSettings(min_chars=1)).run(records))
    agents = code_inputs(path, ["python", "java", "cpp"], None, SkipLog(), ReaderConfig())
    found = [(r.id, r.data["code"], r.data["language"]) for r in inverse]
    assert len(found) == 5
    assert [(r.id, r.data["code"], r.data["language"]) for r in agents] == found
    assert {lang for _, _, lang in found} == {"python", "java", "cpp"}
