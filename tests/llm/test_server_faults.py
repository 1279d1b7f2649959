"""Faults of an OpenAI-compatible server during a run (issue 21): an inverse run against a real server
process on loopback that is killed and restarted, or put behind a fault-injecting proxy, finishes
with the dataset of an undisturbed run and counts every retry by kind in its summary; a server that
never comes back stops the run with one line, and the rerun resumes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from scripted_server import ServerProcess

from xinstruct.inverse.config import InverseConfig
from xinstruct.inverse.pipeline import run_inverse
from xinstruct.llm.factory import BackendConfig
from xinstruct.llm.openai import OpenAIBackend
from xinstruct.readers import ReaderConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inverse" / "demo.jsonl"
CFG = InverseConfig(samples=2, limit=8)
MODEL = "scripted-coder"


def backend(url: str, *, timeout: float = 60.0, retries: int = 4, retry_wait: float = 30.0) -> OpenAIBackend:
    return OpenAIBackend(url, None, served_model=MODEL, api="chat", concurrency=2, timeout=timeout,
                         retries=retries, retry_wait=retry_wait, backoff=0.05, max_backoff=0.5)


def run(url: str, out: Path, **kw: Any) -> dict[str, Any]:
    return run_inverse(EXAMPLE, out, CFG, BackendConfig(), ReaderConfig(), backend=backend(url, **kw))


def outputs(out: Path) -> dict[str, str]:
    return {name: (out / name).read_text() for name in ("data.jsonl", "skipped.jsonl")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict[str, str], int]:
    """The undisturbed run's outputs and how many calls it made (one run for the module)."""
    workdir = tmp_path_factory.mktemp("reference")
    server = ServerProcess(workdir).start()
    try:
        summary = run(server.url, workdir / "run")
    finally:
        server.kill()
    assert summary["dataset_rows"] > 0 and summary["llm_calls"]["retries"] == {}
    return outputs(workdir / "run"), len(server.answered())


class FaultProxy:
    """Forwards to ``upstream`` except for the requests numbered in ``faults``, which it spoils."""

    def __init__(self, upstream: str, faults: dict[int, str], slow: float) -> None:
        self.faults = dict(faults)
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    fault = outer.faults.get(outer.count)
                    outer.count += 1
                if fault == "disconnect":  # the connection closes with no answer at all
                    self.close_connection = True
                    return
                if fault in ("5xx", "429"):
                    self.reply(500 if fault == "5xx" else 429, b'{"error": "injected"}')
                    return
                if fault == "bad-json":
                    self.reply(200, b'{"choices": [{"message": ')
                    return
                if fault == "timeout":
                    time.sleep(slow)
                real = httpx.post(upstream + self.path.removeprefix("/v1"), content=body,
                                  headers={"Content-Type": "application/json"}, timeout=30)
                if fault == "truncated":  # headers promise the whole body, half of it comes
                    self.send_response(real.status_code)
                    self.send_header("Content-Length", str(len(real.content)))
                    self.end_headers()
                    self.wfile.write(real.content[: len(real.content) // 2])
                    self.close_connection = True
                    return
                self.reply(real.status_code, real.content)

            def reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # the client gave up on a slow answer
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_faulty_answers_are_retried_counted_by_kind_and_change_nothing(server_process, reference, tmp_path):
    server = server_process().start()
    faults = {2: "5xx", 5: "429", 8: "disconnect", 11: "truncated", 14: "bad-json", 17: "timeout", 20: "5xx"}
    proxy = FaultProxy(server.url, faults, slow=6.0)
    try:
        summary = run(proxy.url, tmp_path / "run", timeout=5.0)
    finally:
        proxy.close()
    assert outputs(tmp_path / "run") == reference[0]
    retries = dict(summary["llm_calls"]["retries"])
    # on a very loaded machine an honest answer may also miss the 5 s timeout: that is a retry too
    assert retries.pop("timeout", 0) >= 1
    assert retries == {"disconnect": 1, "truncated": 1, "5xx": 2, "429": 1, "bad-json": 1}
    assert summary["llm_calls"]["new"] == reference[1]


def test_server_killed_mid_run_and_restarted_loses_nothing(server_process, reference, tmp_path):
    server = server_process(delay=0.05).start()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(run(server.url, tmp_path / "run")))
    worker.start()
    while len(server.answered()) < 8:
        time.sleep(0.01)
    server.kill()  # SIGKILL with calls in flight
    time.sleep(1.0)  # down for a second: the run keeps retrying
    server.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert outputs(tmp_path / "run") == reference[0]
    retries = result["llm_calls"]["retries"]
    assert retries.get("connect", 0) >= 1 and set(retries) <= {"connect", "disconnect"}, retries
    answered = server.answered()
    assert len(set(answered)) == reference[1]
    assert len(answered) == len(set(answered))  # no call answered twice: none was redone


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xinstruct", *args], capture_output=True, text=True, timeout=120)


def test_server_that_never_returns_stops_with_one_line_and_the_rerun_resumes(server_process, reference, tmp_path):
    server = server_process(delay=0.05).start()
    out = tmp_path / "run"
    args = ["inverse", str(EXAMPLE), "--out", str(out), "--samples", "2", "--limit", "8", "--backend", "openai",
            "--base-url", server.url, "--served-model", MODEL, "--api", "chat", "--concurrency", "2",
            "--retries", "2", "--retry-wait", "1"]
    stopper = threading.Thread(target=lambda: (wait_for(lambda: len(server.answered()) >= 10), server.kill()))
    stopper.start()
    first = cli(*args)
    stopper.join()
    assert first.returncode == 2, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.strip() and "inverse-instruct" not in line]
    error = [line for line in lines if line.startswith("error:")]
    assert len(error) == 1 and len(lines) == 1, first.stderr
    assert server.url in error[0] and "run the same command again" in error[0] and "connect" in error[0]
    assert not (out / "data.jsonl").exists()
    kept = (out / "shards" / "results-00000.jsonl").read_text().splitlines()
    assert 0 < len(kept) < 8  # finished snippets were kept

    server.start()
    second = cli(*args)
    assert second.returncode == 0, second.stderr
    assert outputs(out) == reference[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed"] is True
    answered = server.answered()
    assert len(answered) == len(set(answered)) == reference[1]  # no call redone


def wait_for(condition: Any, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.01)
