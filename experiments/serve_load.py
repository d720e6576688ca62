"""Load on `sportsedge serve`, measured with a real HTTP load generator (`hey`, from apt), against
the in-process Classifier in the same run.

    .venv/bin/python experiments/serve_load.py MODEL --images DIR [--workers 2] [--seconds 60]
        [--requests 50000] [--max-queue Q] [--pin]

--pin (needs taskset and 2+ cores): the server and the in-process run on the last core, `hey` on
the others, so the load generator does not take the server's CPU (on a 2-core machine it would
otherwise take a third of it). Use it with --workers 1.

1. In-process: ``workers`` Classifiers in as many threads, each classifying JPEG bytes end to
   end (decode + preprocessing contract + inference), the same images the server gets: img/s.
2. Over HTTP with keep-alive: `hey` with 2 x workers clients for ``--requests`` requests; img/s
   and the ratio to (1). The server's RSS after the first 1,000 requests and after them all.
3. Overload: 8 x max-queue clients for ``--seconds`` s: the status codes (only 200 and 503 are
   allowed), connection errors, and the p99 of the 200s against their unloaded p50.
4. Faults: SIGKILL under load, start again: seconds until /readyz answers 200.

Prints markdown. Timings on a shared 2-core machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


PIN: dict[str, list[str]] = {"server": [], "client": []}  # taskset prefixes (--pin)


def start(model: Path, port: int, workers: int, max_queue: int | None) -> tuple[subprocess.Popen, float]:
    t0 = time.monotonic()
    queue = [] if max_queue is None else ["--max-queue", str(max_queue)]  # None: the server's default
    proc = subprocess.Popen(
        [*PIN["server"], sys.executable, "-m", "sportsedge", "serve", str(model), "--port", str(port),
         "--workers", str(workers), *queue],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc, time.monotonic() - t0
        except httpx.TransportError:
            time.sleep(0.02)
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            sys.exit("the server did not start")


def hey(url: str, body: Path, clients: int, requests: int | None = None, seconds: int | None = None) -> list[dict]:
    """One row per request: status code and seconds (hey's CSV)."""
    limit = ["-z", f"{seconds}s"] if seconds else ["-n", str(requests)]
    out = subprocess.run(
        [
            *PIN["client"],
            "hey",
            *limit,
            "-c",
            str(clients),
            "-m",
            "POST",
            "-T",
            "image/jpeg",
            "-D",
            str(body),
            "-o",
            "csv",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        {"status": int(r["status-code"] or 0), "seconds": float(r["response-time"])}
        for r in csv.DictReader(io.StringIO(out))
    ]


def in_process(model: Path, jpegs: list[bytes], workers: int, seconds: float = 10.0) -> float:
    from sportsedge.runtime import Classifier

    clfs = [Classifier.load(model, threads=1) for _ in range(workers)]
    counts = [0] * workers
    stop = time.monotonic() + seconds

    def run(i):
        while time.monotonic() < stop:
            clfs[i].predict(jpegs[counts[i] % len(jpegs)], top_k=5)
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-queue", type=int, default=None, help="default: the server's (one per worker)")
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--pin", action="store_true", help="server on the last core, hey on the others")
    args = ap.parse_args()
    if args.pin:
        last = os.cpu_count() - 1
        PIN["server"], PIN["client"] = ["taskset", "-c", str(last)], ["taskset", "-c", f"0-{last - 1}"]
        os.sched_setaffinity(0, {last})  # the in-process measurement too

    files = sorted(args.images.rglob("*.jpg"))[:: max(1, len(sorted(args.images.rglob("*.jpg"))) // 50)][:50]
    jpegs = [f.read_bytes() for f in files]
    body = files[0]
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/classify"
    local = in_process(args.model, jpegs, args.workers)
    print(f"in-process Classifier, {args.workers} threads, JPEG bytes end to end: {local:.1f} img/s")

    proc, _ = start(args.model, port, args.workers, args.max_queue)
    warm = hey(url, body, 2 * args.workers, requests=1000)
    rss_1k = rss_mb(proc.pid)
    unloaded = hey(url, body, 1, requests=500)
    p50 = statistics.median(r["seconds"] for r in unloaded)
    t0 = time.monotonic()
    rows = hey(url, body, 2 * args.workers, requests=args.requests)
    served = sum(r["status"] == 200 for r in rows) / (time.monotonic() - t0)  # answers, not refusals
    rss_all = rss_mb(proc.pid)
    codes = Counter(r["status"] for r in warm + rows)
    print(f"HTTP keep-alive, {2 * args.workers} clients, {args.requests:,} requests: {served:.1f} img/s "
          f"({served / local:.0%} of in-process); statuses {dict(codes)}")  # fmt: skip
    print(f"unloaded p50 (1 client): {1000 * p50:.2f} ms; server RSS after 1,000: {rss_1k:.1f} MB, after "
          f"{1000 + args.requests + 500:,}: {rss_all:.1f} MB ({rss_all / rss_1k - 1:+.1%})")  # fmt: skip

    clients = 8 * (args.workers if args.max_queue is None else args.max_queue)  # 8x what the queue holds
    over = hey(url, body, clients, seconds=args.seconds)
    codes = Counter(r["status"] for r in over)
    ok = [r["seconds"] for r in over if r["status"] == 200]
    p99 = pct(ok, 0.99) if ok else float("nan")
    print(f"overload, {clients} clients for {args.seconds} s: statuses {dict(codes)} (0 = connection error); "
          f"p99 of the 200s {1000 * p99:.1f} ms = {p99 / p50:.1f}x the unloaded p50")  # fmt: skip

    loader = subprocess.Popen(
        [*PIN["client"], "hey", "-z", "30s", "-c", str(2 * args.workers), "-m", "POST", "-T", "image/jpeg",
         "-D", str(body), url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc, ready_s = start(args.model, port, args.workers, args.max_queue)
    print(f"SIGKILL under load, started again: ready (/readyz 200) after {ready_s:.2f} s")
    loader.kill()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    print(f"(server exited {proc.returncode} on SIGTERM)")


if __name__ == "__main__":
    main()
