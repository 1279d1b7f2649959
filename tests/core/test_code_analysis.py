"""``core.code_analysis``: what every stage shares about source code (here: Python sanitizing)."""

from __future__ import annotations

from xinstruct.core.code_analysis import sanitize_python


def test_sanitize_python_drops_example_usage() -> None:
    code = (
        "import math\nfrom typing import List\n\nLIMIT = 10\n\ndef helper(x):\n    return x * 2\n\n"
        "def f(xs: List[int]) -> int:\n    return sum(helper(x) for x in xs)\n\nprint(f([1, 2]))\n"
        "assert f([1]) == 2\nif __name__ == '__main__':\n    f([3])\n"
    )
    out = sanitize_python(code, "f")
    assert "import math" in out and "LIMIT = 10" in out and "def helper" in out and "def f" in out
    assert "print(" not in out and "__main__" not in out and "assert f" not in out
    # a truncated tail keeps the complete part
    assert "def f" in sanitize_python("def f():\n    return 1\n\ndef g(:\n", "f")
