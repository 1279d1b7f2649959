from xinstruct.core.code_detect import (
    detect_unfenced,
    language_hint,
    looks_like_python,
    tree_sitter_available,
)
from xinstruct.core.records import Record
from xinstruct.inverse.extract import ExtractCode, ExtractSettings


def _rec(i: int, instruction: str, response: str) -> Record:
    return Record(id=str(i), data={"instruction": instruction, "response": response}, provenance={"file": "f.jsonl", "line": i + 1})


def run(records, **kw):
    step = ExtractCode(ExtractSettings(**kw))
    return list(step.run(records)), step


def test_first_fenced_block_wins_and_tag_gives_language():
    resp = "Sure:\n```c++\nint twice(int x) { return 2 * x; }\n```\nand also\n```python\nprint(1)\n```"
    out, _ = run([_rec(0, "double it", resp)])
    assert out[0].data["language"] == "cpp"
    assert out[0].data["code"] == "int twice(int x) { return 2 * x; }"


def test_unfenced_code_kept_only_if_it_parses():
    code = "def add(a, b):\n    return a + b"
    prose = "The distinct values from the given list are 3, 5, 7 and 9."
    out, step = run([_rec(0, "add two numbers", code), _rec(1, "distinct values", prose)])
    assert [r.id for r in out] == ["0"]
    assert out[0].data["language"] == "python"
    assert step.stats["dropped.unparseable_unfenced"] == 1
    assert step.skips.entries[0]["file"] == "f.jsonl" and step.skips.entries[0]["line"] == 2


def test_bare_name_prose_is_not_python():
    assert not looks_like_python("hello")
    assert looks_like_python("x = compute(1)")


def test_unfenced_other_languages_use_tree_sitter_and_the_instruction_hint():
    assert tree_sitter_available()
    java = "public static int twice(int x) {\n    return 2 * x;\n}"
    assert language_hint("Write a Java method that doubles a number") == "java"
    assert detect_unfenced(java, "java") == "java"
    sql = "SELECT name FROM users WHERE age > 30;"
    assert detect_unfenced(sql, language_hint("Write an SQL query")) == "sql"
    # PHP's grammar accepts free text; without PHP markers prose must not count as PHP
    assert detect_unfenced("Use the in_array function to check membership.", "php") is None


def test_length_limits_duplicates_and_language_filter_are_counted():
    short = "```python\nx=1\n```"
    good = "```python\ndef f(values):\n    return sorted(set(values))\n```"
    dup = "```python\ndef f(values):\n    return   sorted(set(values))\n```"  # whitespace-only difference
    js = "```js\nfunction f(a) { return a.map(x => x * 2); }\n```"
    out, step = run([_rec(0, "a", short), _rec(1, "b", good), _rec(2, "c", dup), _rec(3, "d", js)],
                    min_chars=20, languages=("python",))
    assert [r.id for r in out] == ["1"]
    assert step.stats["dropped.too_short"] == 1
    assert step.stats["dropped.duplicate"] == 1
    assert step.stats["dropped.language_filtered"] == 1
    long_code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(50)) + "\n```"
    out, step = run([_rec(0, "a", long_code)], max_lines=10)
    assert out == [] and step.stats["dropped.too_long"] == 1


def test_code_records_pass_through_with_their_language():
    rec = Record(id="a.py:1", data={"code": "def g():\n    return 42\n", "language": "python"})
    out, _ = run([rec])
    assert out[0].data["code"] == "def g():\n    return 42"
    assert out[0].data["language"] == "python"


def test_shared_corpus_extraction_rates(shared_dir):
    """The Evol-Instruct sample has raw, unfenced outputs: most must survive, prose must not."""
    from xinstruct.core.pipeline import SkipLog
    from xinstruct.readers import ReaderConfig, read_input

    skips = SkipLog()
    records = list(read_input(shared_dir / "corpora" / "evol-instruct-code-2k.json.gz", ReaderConfig(), skips))
    out, _step = run(records)
    assert len(records) == 2015 and skips.counts["read.empty_response"] == 2
    langs = {r.data["language"] for r in out}
    assert {"python", "javascript", "java", "cpp", "sql"} <= langs
    assert 0.6 < len(out) / len(records) < 0.9
    assert all(r.data["code"].strip() for r in out)
