"""``browse`` on a large run: index build time, first-page and search latency over HTTP, peak memory.

Writes a synthetic Inverse-Instruct run of N result rows (realistic size: code, 4 candidates with
scores) into a temp directory, indexes it as ``xinstruct browse`` does, serves it with uvicorn on
loopback and times GET requests with httpx, side by side with reading the whole shard with
``json.loads`` (what a viewer that loads everything into memory would pay before its first page).

python benchmarks/browse_scale.py [--rows 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from xinstruct.browse.app import create_app
from xinstruct.browse.index import Index
from xinstruct.report.rundata import open_run

LANGS = ("python", "java", "cpp", "go", "rust", "javascript", "typescript", "bash")


def write_run(root: Path, rows: int) -> Path:
    run = root / "big"
    (run / "shards").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"stage": "inverse", "created": "2026-12-02T00:00:00Z"}))
    (run / "summary.json").write_text("{}")
    with open(run / "shards" / "results-00000.jsonl", "w", encoding="utf-8") as fh:
        for i in range(rows):
            code = f"def f{i}(xs):\n    total = 0\n    for x in xs:\n        total += x * {i % 97}\n    return total\n" * 3
            cands = [{"instruction": f"Write a function f{i} that sums a list scaled by {i % 97}, variant {k}.",
                      "score": ((i * 7 + k * 13) % 100) / 100} for k in range(4)]
            fh.write(json.dumps({"id": f"big:{i}", "order": i, "status": "ok", "language": LANGS[i % len(LANGS)],
                                 "code": code, "original_instruction": f"Sum the list times {i % 97}.",
                                 "candidates": cands, "selected": [max(range(4), key=lambda k: cands[k]["score"])],
                                 "provenance": {"file": "big.jsonl", "line": i + 1}}) + "\n")
    return run


def timed_get(client: httpx.Client, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(url)
        r.raise_for_status()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp), args.rows)
        size = (run / "shards" / "results-00000.jsonl").stat().st_size
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t, c = time.perf_counter(), time.process_time()
        index = Index.build(open_run(run), Path(tmp) / "index.sqlite")
        build, build_cpu = time.perf_counter() - t, time.process_time() - c
        rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(index), host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=60) as client:
            t = time.perf_counter()
            client.get(base + "/").raise_for_status()
            first = time.perf_counter() - t
            rows = [
                ("first page, cold", first),
                ("first page", timed_get(client, base + "/", args.repeat)),
                ("page 1000", timed_get(client, base + "/?page=1000", args.repeat)),
                ("filter language + score", timed_get(client, base + "/?language=go&min_score=0.5", args.repeat)),
                ("full-text search", timed_get(client, base + "/?q=scaled+by+42", args.repeat)),
                ("sample page", timed_get(client, base + "/sample/77777", args.repeat)),
            ]
        server.should_exit = True
        rss_serve = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t, c = time.perf_counter(), time.process_time()
        with open(run / "shards" / "results-00000.jsonl", encoding="utf-8") as fh:
            loaded = [json.loads(line) for line in fh]
        load_all, load_all_cpu = time.perf_counter() - t, time.process_time() - c
        rss_all = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        del loaded
    print(f"{args.rows:,} rows, shard {size / 1e6:.0f} MB; index build {build:.1f} s wall, {build_cpu:.1f} s CPU "
          f"({args.rows / build_cpu:,.0f} rows per CPU second); peak RSS before {rss0 / 1024:.0f} MB, after index "
          f"{rss_index / 1024:.0f} MB, after serving {rss_serve / 1024:.0f} MB, after loading all rows "
          f"{rss_all / 1024:.0f} MB")
    print("| request | median seconds |")
    print("| --- | --- |")
    for name, secs in rows:
        print(f"| {name} | {secs:.3f} |")
    print(f"| (reading all rows with json.loads, for comparison; {load_all_cpu:.1f} s CPU) | {load_all:.3f} |")


if __name__ == "__main__":
    main()
