"""Speed of ``retold serve``: a bounded loopback load test of ``POST /compare`` on the seed pair.

Starts ``python -m retold serve`` on a free port of 127.0.0.1 (a separate process, so its memory
is measured alone), waits for ``/health``, then sends a fixed number of requests (200) from 4
concurrent clients and stops. Reports requests/s, p50/p95/max latency, the server's resident memory
after start-up and at its peak (``VmHWM`` from ``/proc``), and a single-client baseline. The
comparisons run in worker processes forked from a fork server (:mod:`retold.web.workers`), so the
memory of the whole process tree is reported too: the sum of RSS (which counts the encoder's shared
pages once per process), the sum of PSS (shared pages split between the processes that share them:
what the tree really takes) and the sum of each process's peak RSS.

A second server (``--timeout-s 1 --encoder none``, one worker) measures what a timed-out request
costs: the time to its 504, the CPU the server's process tree spends in the two seconds after it
(0 when the work was stopped), and how soon the next request is answered.

Nothing leaves the machine. Writes ``bench/results/serve.json``.

Note: every request sends the same pair, so after the first one the sentence embeddings come from
the encoder's in-memory cache; the numbers are those of segmentation, alignment, judging, facts and
JSON, plus HTTP, which is what a server answering repeated or overlapping articles spends.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "bench" / "results"

REQUESTS = 200
CLIENTS = 4
BASELINE_REQUESTS = 20


def _seed_texts() -> tuple[str, str]:
    seeds = SHARED / "seeds"
    rewrite, original = next(seeds.glob("000_*.txt")), next(seeds.glob("001_*.txt"))
    return rewrite.read_text(encoding="utf-8"), original.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _memory_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def _tree(pid: int) -> list[Any]:
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _tree_memory(pid: int) -> dict[str, Any]:
    """RSS, PSS and peak RSS summed over the server and its descendants (fork server, workers)."""
    import psutil

    rss = pss = peak = 0
    count = 0
    for process in _tree(pid):
        try:
            rss += process.memory_info().rss
            pss += process.memory_full_info().pss
            peak += _memory_kb(process.pid)["VmHWM"] * 1024
            count += 1
        except (psutil.NoSuchProcess, FileNotFoundError):
            continue
    mb = 1024 * 1024
    return {"processes": count, "rss_sum": round(rss / mb, 1), "pss_sum": round(pss / mb, 1),
            "peak_rss_sum": round(peak / mb, 1)}


def _tree_cpu_s(pid: int) -> float:
    import psutil

    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _start(args: list[str]) -> tuple[subprocess.Popen[bytes], str, dict[str, Any], float]:
    import httpx

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "retold", "-q", "serve", "--host", "127.0.0.1",
                               "--port", str(port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while True:
        try:
            health = httpx.get(f"{base}/health", timeout=2).json()
            return server, base, health, time.perf_counter() - started
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                detail = server.stderr.read().decode("utf-8", "replace") if server.stderr else ""
                server.kill()
                raise RuntimeError(f"retold serve did not start: {detail}") from None
            time.sleep(0.1)


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _cancellation(rewrite: str, original: str) -> dict[str, Any]:
    """A request that passes the 1 s limit: time to 504, CPU after it, latency of the next request."""
    import httpx

    slow = json.dumps({"a": {"text": "\n\n".join([rewrite] * 25)},
                       "b": {"text": "\n\n".join([original] * 25)}}).encode("utf-8")
    seed = json.dumps({"a": {"text": rewrite}, "b": {"text": original}}).encode("utf-8")
    server, base, _, _ = _start(["--timeout-s", "1", "--encoder", "none", "--max-body-mb", "5", "--workers", "1"])
    headers = {"content-type": "application/json"}
    try:
        started = time.perf_counter()
        timed_out = httpx.post(f"{base}/compare", content=slow, headers=headers, timeout=120)
        to_504 = time.perf_counter() - started
        cpu_before = _tree_cpu_s(server.pid)
        time.sleep(2.0)
        cpu_after = _tree_cpu_s(server.pid)
        started = time.perf_counter()
        following = httpx.post(f"{base}/compare", content=seed, headers=headers, timeout=120)
        next_ms = (time.perf_counter() - started) * 1000
    finally:
        _stop(server)
    return {
        "request": "25 copies of the seed pair (~15 s of alignment), --timeout-s 1, --encoder none, 1 worker",
        "status": timed_out.status_code,
        "seconds_to_answer": round(to_504, 2),
        "server_cpu_s_in_2_s_after": round(cpu_after - cpu_before, 2),
        "next_request": {"status": following.status_code, "ms": round(next_ms, 1)},
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _load(url: str, body: bytes, requests: int, clients: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        with httpx.Client(timeout=120, headers={"content-type": "application/json"}) as http:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                started = time.perf_counter()
                response = http.post(url, content=body)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": requests,
        "clients": clients,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "wall_s": round(wall, 2),
        "requests_per_s": round(requests / wall, 2),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50), 1),
            "p95": round(_percentile(latencies, 0.95), 1),
            "max": round(max(latencies), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
    }


def run() -> dict[str, Any]:
    """Run the load test and write ``bench/results/serve.json``."""
    import httpx

    rewrite, original = _seed_texts()
    body = json.dumps({"a": {"text": rewrite, "name": "rewrite.txt"},
                       "b": {"text": original, "name": "original.txt"}}).encode("utf-8")
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews every number below
    server, base, health, startup_s = _start([])
    try:
        after_start = _memory_kb(server.pid)
        tree_after_start = _tree_memory(server.pid)
        first = time.perf_counter()
        check = httpx.post(f"{base}/compare", content=body, headers={"content-type": "application/json"}, timeout=120)
        first_ms = (time.perf_counter() - first) * 1000
        check.raise_for_status()
        verdict = check.json()["verdict"]
        baseline = _load(f"{base}/compare", body, BASELINE_REQUESTS, 1)
        loaded = _load(f"{base}/compare", body, REQUESTS, CLIENTS)
        peak = _memory_kb(server.pid)
        tree_peak = _tree_memory(server.pid)
    finally:
        _stop(server)
    cancellation = _cancellation(rewrite, original)
    result = {
        "benchmark": "serve",
        "endpoint": "POST /compare (JSON, seed pair 000/001, same pair every request)",
        "host": "127.0.0.1",
        "server_workers": health.get("workers"),
        "encoder": health["encoder"],
        "verdict": {"derived": verdict["derived"], "type": verdict["type"]},
        "startup_s": round(startup_s, 2),
        "first_request_ms": round(first_ms, 1),
        "single_client": baseline,
        "concurrent": loaded,
        "server_rss_mb": {
            "after_startup": round(after_start["VmRSS"] / 1024, 1),
            "peak": round(peak["VmHWM"] / 1024, 1),
        },
        "process_tree_mb": {"after_startup": tree_after_start, "after_load": tree_peak},
        "timeout": cancellation,
        "machine": {"cpus": os.cpu_count(), "loadavg_1min_before": load_before,
                    "python": platform.python_version(), "platform": platform.platform()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
