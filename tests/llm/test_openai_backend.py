"""OpenAIBackend against a real llama.cpp server on loopback, and against scripted fake servers
(std-lib http.server on 127.0.0.1) for the failure paths: down, slow, malformed, 5xx, partial batch."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from xinstruct.core.errors import BackendError
from xinstruct.llm.base import MISSING_LOGPROB, GenerateRequest, SamplingParams, ScoreRequest
from xinstruct.llm.openai import OpenAIBackend

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# -- the real server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(embedded_model, tmp_path_factory) -> Iterator[str]:
    """llama-cpp-python's server on loopback for this module.

    ``--logits_all true`` (the server's default, stated so it is not lost) is needed: llama-cpp-python
    refuses ``logprobs`` on a model loaded without it, and scoring reads top logprobs.
    """
    pytest.importorskip("llama_cpp.server", reason="needs the server extra: pip install 'xinstruct[server]'")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model.path), "--host", LOOPBACK,
           "--port", str(port), "--n_ctx", "4096", "--logits_all", "true"]  # fmt: skip
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    url = f"http://{LOOPBACK}:{port}/v1"
    # the log goes to a file: the server's verbose output would fill a pipe and block it
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(proc, url, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_up(proc: subprocess.Popen[bytes], url: str, log_path: Path, limit: float = 240.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"llama_cpp.server did not answer /v1/models within {limit:g} s")
        time.sleep(0.5)


def real_backend(url: str, model: Any, api: str = "completions") -> OpenAIBackend:
    return OpenAIBackend(url, model, api=api, concurrency=2, timeout=120, retries=1, backoff=0.05)


CODE_TASK = ({"role": "user", "content": "Write a Python function add(a, b) that returns the sum of a and b."},)


def code_judge(task: str, code: str) -> tuple[dict[str, str], ...]:
    prompt = f"Task: {task}\n\nCode:\n```python\n{code}\n```\n\nDoes the code correctly solve the task? Answer Yes or No."
    return ({"role": "user", "content": prompt},)


ADD = "Write a function add(a, b) that returns the sum of a and b."
JUDGE_PAIRS = [  # a right and a wrong solution; the 0.5B model's Yes-No margin is ~0.5 vs ~0.2
    code_judge(ADD, "def add(a, b):\n    return a + b"),
    code_judge(ADD, "def add(a, b):\n    return a * b - 1"),
]


@pytest.mark.model
def test_generate_prefix_stop_and_seed(llama_server: str, embedded_model) -> None:
    backend = real_backend(llama_server, embedded_model)
    assert backend.api == "completions"
    params = SamplingParams(temperature=0.9, max_tokens=24, seed=11, stop=("\n\n",))
    req = GenerateRequest(CODE_TASK, params, prefix="```python\ndef add(a, b):\n")
    [(_, first)] = list(backend.generate([req]))
    # The server reuses the previous prompt's KV cache and re-reads only the last prompt token, whose
    # logits differ in the last bits from a whole-prompt read (llama.cpp documents this for its
    # prompt cache), so the first call may part from the repeats at T=0.9; the repeats share one
    # cache state and must agree: that is what the seed controls.
    [(_, again)] = list(backend.generate([req]))
    [(_, third)] = list(backend.generate([req]))
    text = again.completions[0].text
    # the reply continues the prefix: the function body follows, the fence and signature are not repeated
    assert "def add" not in text and not text.startswith("```")
    assert "return" in text
    assert "\n\n" not in text
    assert text == third.completions[0].text, "same seed and cache state must give the same text"
    assert first.prompt_tokens > 20 and first.completions[0].tokens > 0
    assert backend.identity()["template_sha256"] and backend.identity()["model_sha256"] == embedded_model.sha256


@pytest.mark.model
def test_generate_logprobs_sum(llama_server: str, embedded_model) -> None:
    backend = real_backend(llama_server, embedded_model)
    [(_, res)] = list(backend.generate([GenerateRequest(CODE_TASK, SamplingParams(max_tokens=6, logprobs=True))]))
    c = res.completions[0]
    assert c.logprob is not None and math.isfinite(c.logprob) and c.logprob < 0
    assert c.tokens == 6 and c.finish_reason == "length"


@pytest.mark.model
def test_top_logprobs_agree_with_llamacpp(llama_server: str, embedded_model, llamacpp_backend) -> None:
    from llm_helpers import check_top_logprobs

    request = GenerateRequest(CODE_TASK, SamplingParams(max_tokens=8, top_logprobs=4))
    [(_, remote)] = list(real_backend(llama_server, embedded_model).generate([request]))
    [(_, local)] = list(llamacpp_backend.generate([request]))
    r, loc = remote.completions[0], local.completions[0]
    check_top_logprobs(r, 4)
    # greedy paths may part at a near tie (the server batches prompts differently): compare up to there
    same = next((i for i, (a, b) in enumerate(zip(r.pieces, loc.pieces, strict=False)) if a != b), len(r.pieces))
    assert same >= 4, (r.pieces, loc.pieces)
    for a, b in zip(r.top_logprobs[:same], loc.top_logprobs[:same], strict=True):
        assert abs(a[next(iter(b))] - next(iter(b.values()))) < 0.1, (a, b)


@pytest.mark.model
def test_first_token_logprobs_agree_with_llamacpp(llama_server: str, embedded_model, llamacpp_backend) -> None:
    backend = real_backend(llama_server, embedded_model)
    requests = [ScoreRequest(m, ("Yes", "No")) for m in JUDGE_PAIRS]
    remote = dict(backend.first_token_logprobs(requests))
    local = dict(llamacpp_backend.first_token_logprobs(requests))
    assert sorted(remote) == [0, 1]
    for i in range(len(requests)):
        r, loc = remote[i].logprobs, local[i].logprobs
        assert MISSING_LOGPROB not in r.values()
        assert (r["Yes"] > r["No"]) == (loc["Yes"] > loc["No"]), (r, loc)
        assert abs(r["Yes"] - loc["Yes"]) < 0.1 and abs(r["No"] - loc["No"]) < 0.1, (r, loc)
    # and the scores mean something: the right solution gets the larger Yes-No margin
    margin = [remote[i].logprobs["Yes"] - remote[i].logprobs["No"] for i in range(2)]
    assert margin[0] > margin[1] + 0.1, margin


@pytest.mark.model
def test_chat_api(llama_server: str, embedded_model) -> None:
    backend = real_backend(llama_server, None, api="auto")
    assert backend.api == "chat"  # no local model: nothing to render a template from
    ident = backend.identity()
    assert ident["served_model"] and "template_sha256" not in ident
    [(_, res)] = list(backend.generate([GenerateRequest(CODE_TASK, SamplingParams(max_tokens=12))]))
    assert res.completions[0].text.strip() and res.prompt_tokens > 0 and res.completions[0].tokens > 0
    [(_, score)] = list(backend.first_token_logprobs([ScoreRequest(JUDGE_PAIRS[0], ("Yes", "No"))]))
    assert score.logprobs["Yes"] > score.logprobs["No"] > MISSING_LOGPROB  # same template server-side
    # a raw completion (no messages) goes to /completions with the prefix as the whole prompt
    raw = GenerateRequest((), SamplingParams(max_tokens=8), prefix="def add(a, b):\n    return")
    [(_, r)] = list(backend.generate([raw]))
    assert r.completions[0].tokens > 0 and 0 < r.prompt_tokens < 20  # a chat template would add ~20


# -- fake servers for the failure paths -----------------------------------------------------------

Reply = tuple[int, str]  # status, body


class FakeServer:
    """A loopback HTTP server whose replies come from ``script(call_number, payload)``."""

    def __init__(self, script: Callable[[int, dict[str, Any]], Reply], delay: Callable[[int], float] = lambda n: 0.0):
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    n = len(outer.calls)
                    outer.calls.append(payload)
                time.sleep(delay(n))
                status, body = script(n, payload)
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(script: Callable[[int, dict[str, Any]], Reply], delay: Callable[[int], float] = lambda n: 0.0) -> FakeServer:
        servers.append(FakeServer(script, delay))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def ok(text: str) -> Reply:
    body = {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2}}  # fmt: skip
    return 200, json.dumps(body)


def fake_backend(url: str, *, retries: int = 2, timeout: float = 5.0, concurrency: int = 1,
                 retry_wait: float = 0.0) -> OpenAIBackend:
    return OpenAIBackend(url, None, served_model="fake", api="chat", concurrency=concurrency, timeout=timeout,
                         retries=retries, retry_wait=retry_wait, backoff=0.01, max_backoff=0.05)


def ask(text: str) -> GenerateRequest:
    return GenerateRequest(({"role": "user", "content": text},), SamplingParams(max_tokens=4))


def test_connection_refused_is_retried_then_fails() -> None:
    url = f"http://{LOOPBACK}:{free_port()}/v1"  # nothing listens there
    backend = fake_backend(url, retries=3)
    started = time.monotonic()
    with pytest.raises(BackendError) as err:
        list(backend.generate([ask("hi")]))
    message = str(err.value)
    assert url in message and "4 attempts" in message and "connect: ConnectError" in message
    assert "\n" not in message and "run the same command again" in message
    assert backend.retries_by_kind() == {"connect": 3}
    assert time.monotonic() - started >= 0.01 * (1 + 2 + 4) * 0.5  # three backoff sleeps happened


def test_slow_server_times_out_then_retry_succeeds(fake_server) -> None:
    server = fake_server(lambda n, p: ok(f"reply {n}"), delay=lambda n: 2.0 if n == 0 else 0.0)
    backend = fake_backend(server.url, timeout=0.4)
    [(_, res)] = list(backend.generate([ask("hi")]))
    assert res.completions[0].text == "reply 1"
    assert len(server.calls) == 2
    assert backend.retries_by_kind() == {"timeout": 1}


def test_malformed_json_and_500_are_retried(fake_server) -> None:
    replies = [(200, "{not json"), (500, "internal error"), (429, "slow down")]
    server = fake_server(lambda n, p: replies[n] if n < len(replies) else ok("finally"))
    backend = fake_backend(server.url, retries=3)
    [(_, res)] = list(backend.generate([ask("hi")]))
    assert res.completions[0].text == "finally" and res.completions[0].tokens == 2 and res.prompt_tokens == 5
    assert len(server.calls) == 4
    assert backend.retries_by_kind() == {"5xx": 1, "429": 1, "bad-json": 1}


def test_client_error_is_not_retried(fake_server) -> None:
    server = fake_server(lambda n, p: (400, '{"error": "context length exceeded"}'))
    backend = fake_backend(server.url, retries=3)
    with pytest.raises(BackendError, match=r"status 400.*context length exceeded"):
        list(backend.generate([ask("hi")]))
    assert len(server.calls) == 1


def test_partial_batch_yields_finished_before_error(fake_server) -> None:
    def script(n: int, payload: dict[str, Any]) -> Reply:
        content = payload["messages"][-1]["content"]
        return (503, "overloaded: try later " + "x" * 500) if content == "fail" else ok(f"done {content}")

    server = fake_server(script)
    backend = fake_backend(server.url, retries=1)
    got: list[tuple[int, str]] = []
    with pytest.raises(BackendError) as err:
        for i, res in backend.generate([ask("a"), ask("b"), ask("fail"), ask("d")]):
            got.append((i, res.completions[0].text))
    assert got == [(0, "done a"), (1, "done b")]
    message = str(err.value)
    assert server.url in message and "/chat/completions" in message and "5xx: status 503" in message
    assert "overloaded" in message
    assert len(message) < 700  # the body's start, not all of it
    # with one request in flight nothing starts after the failure
    assert [c["messages"][-1]["content"] for c in server.calls] == ["a", "b", "fail", "fail"]


def test_concurrency_bound_and_n_seeds(fake_server) -> None:
    in_flight = [0, 0]  # current, max
    lock = threading.Lock()

    def delay(n: int) -> float:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return 0.0

    server = fake_server(lambda n, p: ok(f"seed {p['seed']}"), delay=delay)
    backend = fake_backend(server.url, concurrency=3)
    req = GenerateRequest(({"role": "user", "content": "x"},), SamplingParams(n=4, seed=5, temperature=1.0))
    results = dict(backend.generate([req, req]))
    assert in_flight[1] == 3
    texts = [c.text for c in results[0].completions]
    assert len(set(texts)) == 4 and texts == [c.text for c in results[1].completions]
    assert all(c["repeat_penalty"] == c["repetition_penalty"] == 1.0 for c in server.calls)


def test_chat_prefix_uses_continue_final_message(fake_server) -> None:
    server = fake_server(lambda n, p: ok("rest"))
    backend = fake_backend(server.url)
    req = GenerateRequest(({"role": "user", "content": "x"},), SamplingParams(), prefix="Sure:")
    list(backend.generate([req]))
    sent = server.calls[0]
    assert sent["messages"][-1] == {"role": "assistant", "content": "Sure:"}
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False


def test_early_stop_cancels_the_rest(fake_server) -> None:
    server = fake_server(lambda n, p: ok("x"), delay=lambda n: 0.05)
    backend = fake_backend(server.url, concurrency=1)
    stream = backend.generate([ask(str(i)) for i in range(20)])
    next(stream)
    stream.close()  # joins the worker thread after cancelling
    time.sleep(0.2)
    assert len(server.calls) <= 3
