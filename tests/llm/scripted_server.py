"""A deterministic OpenAI-compatible server, run as its own process on loopback for fault tests.

Tests kill and restart it (SIGKILL mid-request included), so it must answer every request the
same way in every incarnation: replies depend only on the request (the agents helpers' replies by
prompt, a seed-dependent instruction otherwise, fixed Yes/No logprobs by prompt hash). Each answer
it sends is appended to ``--log`` (one line with the request's hash), which is how a test counts
LLM calls redone after a kill. ``--delay`` slows each answer so kills land while calls are in
flight. With ``--upstream URL`` it answers nothing itself: it forwards to a real server (the
embedded model under ``llama_cpp.server``) and logs the same way. Pipeline-logic stand-in only
otherwise: the feature proofs against the real model are elsewhere.
:class:`ServerProcess` starts, kills and restarts it on one port (the ``server_process`` fixture,
``benchmarks/kill_loop.py``).

    python tests/llm/scripted_server.py --port 8123 --log calls.log [--delay 0.02] [--upstream URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from agents.helpers import python_reply, role  # noqa: E402
from xinstruct.llm.base import GenerateRequest, SamplingParams  # noqa: E402

MODEL = "scripted-coder"
JUDGE_TOKENS = ("Yes", " Yes", "yes", "No", " No", "no")


def request_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def as_request(payload: dict[str, Any]) -> GenerateRequest:
    """The pipeline's request as the helpers' replies expect it (a trailing assistant turn is the prefix)."""
    messages = [dict(m) for m in payload.get("messages") or [{"role": "user", "content": payload.get("prompt", "")}]]
    prefix = ""
    if payload.get("continue_final_message") and messages and messages[-1]["role"] == "assistant":
        prefix = messages.pop()["content"]
    return GenerateRequest(tuple(messages), SamplingParams(max_tokens=int(payload.get("max_tokens") or 16)), prefix)


def reply_text(payload: dict[str, Any]) -> str:
    request = as_request(payload)
    text = python_reply(request, 0)
    if role(request) == "instruction":  # samples of one prompt differ by seed, as a sampler's would
        text += f" Keep it short (take {payload.get('seed', 0) % 1000})."
    return text


def top_logprobs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    digest = hashlib.sha256(json.dumps(payload.get("messages"), sort_keys=True).encode()).digest()
    yes = -0.1 - digest[0] / 100  # a prompt-dependent margin, so selection has something to choose by
    no = -0.1 - digest[1] / 100
    values = {"Yes": yes, " Yes": yes - 2, "yes": yes - 3, "No": no, " No": no - 2, "no": no - 3}
    return [{"token": t, "logprob": values[t]} for t in JUDGE_TOKENS]


def answer(payload: dict[str, Any]) -> dict[str, Any]:
    usage = {"prompt_tokens": 10, "completion_tokens": 4}
    if payload.get("logprobs") and payload.get("max_tokens") == 1:  # a first-token score
        tops = top_logprobs(payload)
        content = [{"token": tops[0]["token"], "logprob": tops[0]["logprob"], "top_logprobs": tops}]
        choice = {"message": {"role": "assistant", "content": tops[0]["token"]}, "finish_reason": "length",
                  "logprobs": {"content": content}}
        return {"choices": [choice], "usage": {**usage, "completion_tokens": 1}}
    text = reply_text(payload)
    if "messages" not in payload:
        return {"choices": [{"text": text, "finish_reason": "stop"}], "usage": usage}
    return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": usage}


def serve(port: int, log_path: Path, delay: float, upstream: str | None = None) -> None:
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if upstream:
                self._send(httpx.get(upstream + self.path.removeprefix("/v1"), timeout=60).json())
                return
            self._send({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

        def do_POST(self) -> None:
            try:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            except ValueError:  # the client was killed while it sent the request
                self.close_connection = True
                return
            time.sleep(delay)
            if upstream:
                real = httpx.post(upstream + self.path.removeprefix("/v1"), json=payload, timeout=600)
                if real.status_code != 200:
                    self._send(real.json(), real.status_code)
                    return
                body = real.json()
            else:
                body = answer(payload)
            self._send(body)
            with lock:
                log.write(request_key(payload) + "\n")
                log.flush()

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed client is the point
                super().handle_error(request, client_address)

    httpd = Server(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    print(f"listening {os.getpid()}", flush=True)
    httpd.serve_forever()


class ServerProcess:
    """``tests/llm/scripted_server.py`` as a real process on one loopback port, to kill and restart."""

    def __init__(self, workdir: Path, delay: float = 0.0, upstream: str | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = workdir / f"served-calls-{self.port}.log"
        self.delay = delay
        self.upstream = upstream
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port),
               "--log", str(self.log), "--delay", str(self.delay), *(["--upstream", self.upstream] if self.upstream else [])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 180  # a loaded machine can take long to start Python
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scripted server exited with {self.proc.returncode}")
            try:
                httpx.get(f"{self.url}/models", timeout=1).raise_for_status()
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: requests in flight are cut off as by a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def answered(self) -> list[str]:
        """The hash of every request answered so far, over all of the server's lives."""
        return self.log.read_text().split() if self.log.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--upstream", help="forward to this server's /v1 root instead of answering")
    args = parser.parse_args()
    serve(args.port, args.log, args.delay, args.upstream)


if __name__ == "__main__":
    main()
