"""The embedded model under llama-cpp-python's OpenAI-compatible server on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def start_llama_server(model_path: Path, log_path: Path, *, logits_all: bool) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server and wait until it answers; returns the process and its ``/v1`` URL.

    ``logits_all`` is needed only where the server must return log-probabilities (the judge's
    p(Yes)): llama-cpp-python's server computes them from the all-position logits.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "4096", "--logits_all", "true" if logits_all else "false"]  # fmt: skip
    with open(log_path, "w") as log:  # a file: the server's verbose log would fill a pipe and block it
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("llama server did not come up within 300 s")
