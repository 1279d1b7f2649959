"""``xinstruct browse`` as a user starts it: serves on loopback, answers GET only, stops on a signal."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def test_browse_command_serves_read_only_on_loopback(inverse_run: Path):
    pytest.importorskip("uvicorn", reason="needs the report extra")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "xinstruct", "browse", str(inverse_run), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"browse did not start: {proc.stderr.read() if proc.poll() is not None else ''}") from None
                time.sleep(0.2)
        assert page.status_code == 200 and "21 samples" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert httpx.post(f"http://127.0.0.1:{port}/", timeout=5).status_code == 405  # read only
        assert httpx.get(f"http://127.0.0.1:{port}/sample/999", timeout=5).status_code == 404
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        if listening:  # ss is in iproute2; where present, the socket is bound to loopback only
            assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]  # local address
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert "indexed 21 samples" in proc.stderr.read()
