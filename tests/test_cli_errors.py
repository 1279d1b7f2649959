"""Every command × every common mistake: exit code 2 and one line on stderr that names what is
wrong and how to fix it, never a traceback. Runs the real ``xinstruct`` entry point in-process
(the same ``main`` the console script calls), so each case costs its checks, not an interpreter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xinstruct.cli import main

MISSING = "/nonexistent/input.jsonl"
FAULTS: dict[str, list[tuple[str, list[str], str]]] = {
    # command: [(fault, argv after the command, a regex the one line must match)]
    "inverse": [
        ("missing file", [MISSING, "--out", "{run}"], r"does not exist"),
        ("directory for a file", ["{rows}", "--out", "{run}", "--config", "{dir}"], r"is a directory"),
        ("unknown language", ["{rows}", "--out", "{run}", "--languages", "klingon"], r"unknown language 'klingon'; use"),
        ("unknown model", ["{rows}", "--out", "{run}", "--model", "no-such-model"], r"unknown model 'no-such-model'.*registered"),
        ("empty GGUF", ["{rows}", "--out", "{run}", "--model", "{empty_gguf}"], r"truncated or corrupt GGUF header"),
        ("truncated GGUF", ["{rows}", "--out", "{run}", "--model", "{trunc_gguf}"], r"cannot load this GGUF.*download it again"),
        ("junk for a GGUF", ["{rows}", "--out", "{run}", "--model", "{junk_gguf}"], r"not a GGUF file"),
        ("run of another stage", ["{rows}", "--out", "{eval_run}"], r"holds a 'eval' run, not 'inverse'; use another --out"),
        ("unknown YAML key", ["{rows}", "--out", "{run}", "--config", "{bad_yaml}"], r"unknown key\(s\) no_such_key; known:"),
        ("nothing usable, before the model", ["{prose}", "--out", "{run}", "--model", "{trunc_gguf}"],
         r"no usable code snippets \(extract.unparseable_unfenced: 1\); give code records"),
    ],
    "agents": [
        ("missing file", ["run", MISSING, "--out", "{run}"], r"does not exist"),
        ("directory for a file", ["run", "{rows}", "--languages", "python", "--out", "{run}", "--config", "{dir}"], r"is a directory; --config takes a YAML"),
        ("unknown language", ["run", "{rows}", "--languages", "python", "--out", "{run}", "--languages", "klingon"], r"unknown language 'klingon'"),
        ("unknown model", ["run", "{rows}", "--languages", "python", "--out", "{run}", "--model", "no-such-model"], r"unknown model"),
        ("truncated GGUF", ["run", "{rows}", "--languages", "python", "--out", "{run}", "--model", "{trunc_gguf}"], r"cannot load this GGUF"),
        ("run of another stage", ["run", "{rows}", "--languages", "python", "--out", "{eval_run}"], r"holds a 'eval' run, not 'agents'"),
        ("unknown YAML key", ["run", "{rows}", "--languages", "python", "--out", "{run}", "--config", "{bad_yaml}"], r"unknown key\(s\) no_such_key"),
        ("nothing usable, before the model", ["run", "{prose}", "--out", "{run}", "--model", "{trunc_gguf}"],
         r"no code in python.* to seed the agents \(agents.no_code: 1\)"),
        ("memory of no agents run", ["memory", "{eval_run}"], r"no agent memory"),
    ],
    "eval": [
        ("missing file", ["-b", "humaneval+", "--data", MISSING, "--out", "{run}"], r"benchmark file not found"),
        ("directory for a file", ["-b", "humaneval+", "--out", "{run}", "--config", "{dir}"], r"is a directory"),
        ("unknown language", ["-b", "multipl-e:klingon", "--out", "{run}"], r"unknown language 'klingon' for multipl-e; available"),
        ("unknown model", ["-b", "humaneval+", "--data", "{data}", "--out", "{run}", "--model", "no-such-model", "--limit", "1"],
         r"unknown model"),
        ("truncated GGUF", ["-b", "humaneval+", "--data", "{data}", "--out", "{run}", "--model", "{trunc_gguf}", "--limit", "1"],
         r"cannot load this GGUF"),
        ("run of another stage", ["-b", "humaneval+", "--data", "{data}", "--out", "{inverse_run}", "--limit", "1"],
         r"holds a 'inverse' run, not 'eval'"),
        ("unknown YAML key", ["-b", "humaneval+", "--out", "{run}", "--config", "{bad_yaml}"], r"unknown key\(s\) no_such_key"),
    ],
    "train": [
        ("missing file", ["sft", MISSING, "--out", "{run}"], r"does not exist"),
        ("directory for a file", ["sft", "{dir}", "--out", "{run}"], r"no dataset_info.json.*give .jsonl"),
        ("unknown model", ["sft", "{messages}", "--out", "{run}", "--base", "no-such-model"], r"unknown model"),
        ("empty GGUF", ["sft", "{messages}", "--out", "{run}", "--base", "{empty_gguf}"], r"truncated or corrupt GGUF"),
        ("run of another stage", ["sft", "{messages}", "--out", "{inverse_run}"], r"holds a 'inverse' run, not 'train-sft'"),
        ("unknown YAML key", ["sft", "{messages}", "--out", "{run}", "--config", "{bad_yaml}"], r"unknown key\(s\) no_such_key"),
        ("export of another stage", ["export", "{inverse_run}"], r"not a finished 'xinstruct train' run"),
    ],
    "experiment": [
        ("missing file", ["/nonexistent.yaml", "--out", "{run}"], r"does not exist"),
        ("directory for a file", ["{dir}", "--out", "{run}"], r"is a directory"),
        ("unknown YAML key", ["{bad_yaml}", "--out", "{run}"], r"\.yaml:\d+: top level: unknown key 'no_such_key'"),
    ],
    "exec": [
        ("missing file", ["/nonexistent.py"], r"No such file"),
        ("directory for a file", ["{dir}"], r"Is a directory"),
        ("unknown language", ["--lang", "klingon", "{rows}"], r"unknown language 'klingon'; known: bash"),
        ("no language", ["{rows}"], r"cannot tell the language.*--lang"),
    ],
    "models": [
        ("unknown model", ["pull", "no-such-model"], r"unknown model 'no-such-model'; known:"),
    ],
    "report": [
        ("missing run directory", [MISSING], r"does not exist"),
        ("file for a directory", ["{rows}"], r"is a file"),
        ("not a run directory", ["{dir}"], r"no run.json or summary.json naming a stage; is this a run directory"),
    ],
    "browse": [
        ("missing run directory", [MISSING], r"does not exist"),
        ("file for a directory", ["{rows}"], r"is a file"),
        ("not a run directory", ["{dir}"], r"no run.json or summary.json naming a stage; is this a run directory"),
    ],
    "cache": [
        ("missing run directory", ["merge", MISSING], r"does not exist"),
        ("nothing to merge", ["merge", "{dir}"], r"no LLM call cache \(llm-cache.sqlite\) and no segments"),
    ],
}
NEEDS_DATA = {"{data}"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli-faults")
    (root / "rows.jsonl").write_text(json.dumps({"instruction": "Add.", "response": "```python\ndef add(a, b):\n    return a + b\n```"}) + "\n")
    (root / "prose.jsonl").write_text(json.dumps({"instruction": "Why?", "response": "Because it is so."}) + "\n")
    (root / "messages.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                                                  {"role": "assistant", "content": "hello"}]}) + "\n")
    (root / "a-dir").mkdir()
    (root / "bad.yaml").write_text("no_such_key: 1\n")
    (root / "empty.gguf").write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(16))
    (root / "trunc.gguf").write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (291).to_bytes(8, "little")
                                      + (29).to_bytes(8, "little") + b"\x05\x00")
    (root / "junk.gguf").write_bytes(b"<html>not a model</html>")
    for stage in ("eval", "inverse"):
        (root / f"{stage}-run").mkdir()
        (root / f"{stage}-run" / "run.json").write_text(json.dumps({"stage": stage, "config": {}, "fingerprint": "x"}))
    names = {"rows": "rows.jsonl", "prose": "prose.jsonl", "messages": "messages.jsonl", "dir": "a-dir",
             "bad_yaml": "bad.yaml", "empty_gguf": "empty.gguf", "trunc_gguf": "trunc.gguf", "junk_gguf": "junk.gguf",
             "eval_run": "eval-run", "inverse_run": "inverse-run"}
    return {f"{{{k}}}": str(root / v) for k, v in names.items()}


CASES = [pytest.param(cmd, argv, pattern, id=f"{cmd}-{fault.replace(' ', '_')}")
         for cmd, faults in FAULTS.items() for fault, argv, pattern in faults]


@pytest.mark.parametrize(("command", "argv", "pattern"), CASES)
def test_fault_is_one_line_and_exit_2(command: str, argv: list[str], pattern: str, files: dict[str, str],
                                      tmp_path: Path, request: pytest.FixtureRequest,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    values = dict(files, **{"{run}": str(tmp_path / "run")})
    if NEEDS_DATA.intersection(argv):
        values["{data}"] = str(request.getfixturevalue("benchmarks_dir"))
    args = [command, *(values.get(a, a) for a in argv)]
    with pytest.raises(SystemExit) as exited:
        main(args)
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert exited.value.code == 2, (exited.value.code, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert "Traceback" not in err and re.search(pattern, lines[0]), lines[0]


def test_every_command_is_covered() -> None:
    from xinstruct.cli import SUBCOMMANDS

    assert set(FAULTS) == set(SUBCOMMANDS)

