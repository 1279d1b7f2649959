"""Shared fixtures: the real embedded model (loaded once per session), a scripted backend for
pipeline-logic unit tests, a deterministic OpenAI-compatible server process for fault tests, and
the location of ../shared benchmark data."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from xinstruct.llm.base import Completion, GenerateRequest, GenerateResult, ScoreRequest, ScoreResult

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "llm"))

from scripted_server import ServerProcess  # noqa: E402

try:  # property tests: the same examples on every run and machine, and no example database left behind
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("xinstruct", derandomize=True, database=None, print_blob=True)
    _hypothesis_settings.load_profile("xinstruct")
except ImportError:  # the dev extra brings it; only the fuzz tests need it
    pass


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (CI has it); tests needing it skip when it is absent."""
    path = Path(os.environ.get("XINSTRUCT_SHARED", REPO.parent / "shared"))
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path}")
    return path


@pytest.fixture(scope="session")
def benchmarks_dir(shared_dir: Path) -> Path:
    return Path(os.environ.get("XINSTRUCT_DATA", shared_dir / "benchmarks"))


@pytest.fixture(scope="session")
def embedded_model():
    """The real embedded default model (pulled by `make test` before the suite starts)."""
    from xinstruct.models import resolve_model

    return resolve_model(None)


@pytest.fixture(scope="session")
def llamacpp_backend(embedded_model):
    """One in-process llama.cpp instance for the whole session (loading costs ~1 s, memory ~0.6 GB)."""
    pytest.importorskip("llama_cpp", reason="needs the llamacpp extra")
    from xinstruct.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(embedded_model, n_ctx=4096)
    yield backend
    backend.close()


class Borrowed:
    """Lends the session's backend to code that closes what it is given (CLIs do)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


@pytest.fixture
def borrowed_llamacpp(llamacpp_backend) -> Borrowed:
    return Borrowed(llamacpp_backend)


class ScriptedBackend:
    """A deterministic stand-in for unit tests of pipeline logic (never for feature proof).

    ``reply(request, i)`` returns the text of completion ``i``; ``judge(request)`` returns the
    log-probabilities for the candidates. Every call is recorded.
    """

    kind = "scripted"

    def __init__(
        self,
        reply: Callable[[GenerateRequest, int], str] | None = None,
        judge: Callable[[ScoreRequest], dict[str, float]] | None = None,
    ) -> None:
        self.reply = reply or (lambda req, i: f" candidate {i}")
        self.judge = judge or (lambda req: {c: -1.0 for c in req.candidates})
        self.generate_calls: list[GenerateRequest] = []
        self.score_calls: list[ScoreRequest] = []

    def identity(self) -> dict[str, str]:
        return {"backend": self.kind}

    def generate(self, requests: Sequence[GenerateRequest]) -> Iterator[tuple[int, GenerateResult]]:
        for i, req in enumerate(requests):
            self.generate_calls.append(req)
            comps = []
            for k in range(req.params.n):
                text = self.reply(req, k)
                comps.append(Completion(text=text, finish_reason="stop", tokens=len(text.split()), logprob=-float(len(text))))
            yield i, GenerateResult(completions=comps, prompt_tokens=10)

    def first_token_logprobs(self, requests: Sequence[ScoreRequest]) -> Iterator[tuple[int, ScoreResult]]:
        for i, req in enumerate(requests):
            self.score_calls.append(req)
            yield i, ScoreResult(logprobs=self.judge(req), prompt_tokens=10)

    def retries_by_kind(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass


@pytest.fixture
def scripted_backend() -> type[ScriptedBackend]:
    return ScriptedBackend


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def make(delay: float = 0.0) -> ServerProcess:
        started.append(ServerProcess(tmp_path, delay))
        return started[-1]

    yield make
    for server in started:
        server.kill()

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download), one per session."""
    import shutil

    exe = next((p for p in CHROMIUM_PATHS if Path(p).exists()), None) or shutil.which("chromium")
    if exe is None:
        pytest.skip("Chromium not installed (scripts/apt/report.txt; make setup-dev installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the report extra (playwright)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class WatchedPage:
    """A page that records console errors, page errors and dialogs (a dialog means script ran)."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    watched = WatchedPage(context.new_page())
    yield watched
    context.close()


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
"""Text that would run if a viewer inserted data as markup."""


def _judge_good_bad(req) -> dict[str, float]:
    import math

    p = 0.9 if "good" in req.messages[-1]["content"] else 0.2
    return {"Yes": math.log(p), "No": math.log(1 - p)}


@pytest.fixture(scope="session")
def inverse_run(tmp_path_factory) -> Path:
    """A scripted Inverse-Instruct run over the demo input, plus one hostile row appended to its shard
    (HTML, a huge line, invalid UTF-8) and one broken line, as a viewer may meet in data made elsewhere."""
    from xinstruct.inverse.config import InverseConfig
    from xinstruct.inverse.pipeline import run_inverse
    from xinstruct.llm.factory import BackendConfig
    from xinstruct.readers import ReaderConfig

    out = tmp_path_factory.mktemp("viewer") / "inverse-run"
    backend = ScriptedBackend(reply=lambda req, i: [f" good thing {HOSTILE}", " bad thing"][req.params.seed % 2],
                              judge=_judge_good_bad)
    run_inverse(REPO / "examples" / "inverse" / "demo.jsonl", out, InverseConfig(samples=4), BackendConfig(),
                ReaderConfig(), backend=backend)
    import json

    shard = out / "shards" / "results-00000.jsonl"
    first = json.loads(shard.read_text(encoding="utf-8").splitlines()[0])
    hostile = {**first, "id": "hostile", "order": 10_000, "language": HOSTILE,
               "code": f"# INVALID_UTF8_HERE\nprint('{HOSTILE}')\n" + "x = 1  # " + "y" * 300_000 + "\n",
               "original_instruction": f"Print {HOSTILE}"}
    line = json.dumps(hostile, ensure_ascii=False).encode().replace(b"INVALID_UTF8_HERE", b"bad \\u00ff \xff\xfe bytes")
    with open(shard, "ab") as fh:
        fh.write(line + b"\n" + b"{not json\n")
    return out


@pytest.fixture(scope="session")
def eval_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two scripted HumanEval runs (the packaged set) on 4 tasks through the real sandbox: A answers every task wrongly,
    B answers the first two with the canonical solution (so B gains exactly those two)."""
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark
    from xinstruct.eval.config import EvalConfig
    from xinstruct.eval.pipeline import run_eval
    from xinstruct.llm.factory import BackendConfig

    tasks = load_tasks(parse_benchmark("humaneval"))[:4]
    right = {t.prompt.strip() for t in tasks[:2]}
    by_prompt = {t.prompt.strip(): t for t in tasks}

    def answers(good: set[str]):
        def reply(req, i):
            user = req.messages[0]["content"]
            prompt = user.split("```", 1)[1].split("\n", 1)[1].rsplit("\n```", 1)[0].strip()
            t = by_prompt[prompt]
            body = t.canonical if prompt in good else f"    return '{HOSTILE}'\n"
            return t.prompt + (body or "") + "\n```\n"

        return ScriptedBackend(reply=reply)

    root = tmp_path_factory.mktemp("viewer-eval")
    out = []
    for name, good in (("eval-a", set()), ("eval-b", right)):
        cfg = EvalConfig(benchmark=["humaneval"], limit=4)
        run_eval(cfg, BackendConfig(), root / name, backend=answers(good))
        out.append(root / name)
    return out[0], out[1]


@pytest.fixture(scope="session")
def hostile() -> str:
    """The markup the viewer fixtures plant in their runs' data."""
    return HOSTILE


@pytest.fixture(scope="session")
def agents_run(tmp_path_factory) -> Path:
    """A scripted agents run (python and bash, two rounds) through the real sandbox."""
    import json
    import sys

    from xinstruct.agents.config import AgentsConfig
    from xinstruct.agents.pipeline import AgentsRun
    from xinstruct.core.config import build_config
    from xinstruct.sandbox import available_languages

    if "python" not in available_languages():
        pytest.skip("needs the python sandbox")
    sys.path.insert(0, str(REPO / "tests" / "agents"))
    from helpers import python_reply

    root = tmp_path_factory.mktemp("viewer-agents")
    seeds = root / "seed.jsonl"
    seeds.write_text("".join(json.dumps({"language": "python", "code": f"def g{i}(x):\n    return x + {i}\n"}) + "\n"
                             for i in range(4)))
    cfg = build_config(AgentsConfig, {"languages": "python", "rounds": 2, "dpo_samples": 2, "mode": "centralized"})
    AgentsRun(cfg, seeds, root / "agents-run", ScriptedBackend(reply=python_reply)).execute()
    return root / "agents-run"


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for every Ray test of the session (starting one costs seconds).

    The test helpers (this module's scripted backend, a test module's own backends) are shipped
    to the actors by value: the workers cannot import pytest's conftest modules.
    """
    ray = pytest.importorskip("ray", reason="needs the ray extra")
    import sys

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


def roundtrip_yardstick() -> dict:
    """A ``yardstick.json`` as benchmarks/inverse_roundtrip.py writes it, on six tasks (one with a hostile id);
    its counts and sign-test p are computed from its per-task rows."""
    from xinstruct.experiment.stats import sign_test

    grid = [("HumanEval/0", "humaneval", (True, True, False)), ("HumanEval/1", "humaneval", (True, True, True)),
            ("HumanEval/2", "humaneval", (False, True, False)), ("MBPP/601", "mbpp", (True, False, False)),
            ("MBPP/602", "mbpp", (False, False, False)), (f"MBPP/603{HOSTILE}", "mbpp", (True, True, False))]
    conds = ("original", "selected", "random")
    per_task = [{"task_id": t, "source": s, **dict(zip(conds, v, strict=True))} for t, s, v in grid]
    contrasts = []
    for a, b in (("selected", "random"), ("original", "random"), ("selected", "original")):
        n = {k: sum((t[a], t[b]) == pat for t in per_task)
             for k, pat in (("both", (True, True)), ("only_a", (True, False)), ("only_b", (False, True)),
                            ("neither", (False, False)))}
        contrasts.append({"a": a, "b": b, **n, "p": sign_test(n["only_a"], n["only_b"])})
    return {"benchmark": "inverse_roundtrip", "command": f"benchmarks/inverse_roundtrip.py --samples 4 {HOSTILE}",
            "samples": 4, "slice": "tune", "seeds": {"humaneval": 3, "mbpp": 3},
            "conditions": {c: {"passed": sum(t[c] for t in per_task), "total": len(per_task)} for c in conds},
            "contrasts": contrasts, "per_task": per_task}


@pytest.fixture(scope="session")
def yardstick_run(inverse_run: Path, tmp_path_factory) -> Path:
    """The scripted inverse run with a ``yardstick.json`` beside it (a copy: the other tests see none)."""
    import json
    import shutil

    out = tmp_path_factory.mktemp("viewer-yardstick") / "inverse-run"
    shutil.copytree(inverse_run, out, ignore=shutil.ignore_patterns("llm-cache.sqlite*", "report.html"))
    (out / "yardstick.json").write_text(json.dumps(roundtrip_yardstick()), encoding="utf-8")
    return out
