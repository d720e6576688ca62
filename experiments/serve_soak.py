"""Soak `sportsedge serve`: hold a request rate open-loop (requests leave on schedule whether or not
earlier ones were answered, as real clients do) for N minutes, and record per window the server's
RSS and open file descriptors (from /proc), p50/p99 of the answers and their statuses. Prints a
progress line per window; writes soak.json (every window and the summary: RSS slope in MB/min by
least squares, p50/p99 over every answer of the run and per window, statuses) and soak.png
(when matplotlib is installed).

    .venv/bin/python experiments/serve_soak.py [--model sports100] --rate 100 --minutes 60 \\
        [--window-s 60] [--workers 2] [--image photo.jpg] [--out soak] [--pin]

The load generator is Python (httpx, asyncio) and takes CPU beside the server: on a 2-core machine
--pin puts the server on the last core and the generator on the others. Saturation for the rate:
experiments/serve_load.py. Figures in docs/serve.md ("Limits and guarantees").
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import PIN, free_port, rss_mb, start  # the load experiment's server start and /proc reader


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def default_image() -> bytes:
    """A real photo from ../shared when there is one, else a generated 640x480 JPEG."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "sports100-dev" / "valid"
    found = next(iter(sorted(shared.rglob("*.jpg"))), None) if shared.is_dir() else None
    if found is not None:
        return found.read_bytes()
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((640, 480), 40).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else float("nan")


async def soak(
    url: str, pid: int, body: bytes, rate: float, seconds: float, window_s: float, every_ms: list[float]
) -> list[dict]:
    """Per-window rows; ``every_ms`` receives the latency of every 200 of the run (for its percentiles)."""
    windows: list[dict] = []
    current: dict = {"statuses": Counter(), "ms": []}
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one() -> None:
            t0 = time.perf_counter()
            try:
                r = await client.post(url, content=body, headers={"content-type": "image/jpeg"})
                status = str(r.status_code)
            except httpx.HTTPError as err:
                status = type(err).__name__
            bucket = current  # the window the answer arrives in
            bucket["statuses"][status] += 1
            if status == "200":
                ms = 1000 * (time.perf_counter() - t0)
                bucket["ms"].append(ms)
                every_ms.append(ms)

        start_t = time.perf_counter()
        tasks: set[asyncio.Task] = set()
        sent, next_window = 0, window_s
        while (now := time.perf_counter() - start_t) < seconds:
            due = int(now * rate) + 1
            current["sent"] = current.get("sent", 0) + max(0, due - sent)
            for _ in range(due - sent):  # open loop: never waits for an answer
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent = max(sent, due)
            if now >= next_window:
                windows.append(close_window(current, next_window, pid, window_s))
                current = {"statuses": Counter(), "ms": []}
                next_window += window_s
            await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start_t)))
        await asyncio.gather(*tasks)
        windows.append(close_window(current, seconds, pid, window_s))
    return windows


def close_window(w: dict, t: float, pid: int, window_s: float) -> dict:
    row = {
        "t_s": round(t, 1),
        "rss_mb": round(rss_mb(pid), 1),
        "fds": fds(pid),
        "sent_per_s": round(w.get("sent", 0) / window_s, 1),
        "answers_per_s": round(sum(w["statuses"].values()) / window_s, 1),
        "ok_per_s": round(w["statuses"].get("200", 0) / window_s, 1),
        "p50_ms": round(pct(w["ms"], 50), 2),
        "p99_ms": round(pct(w["ms"], 99), 2),
        "statuses": dict(w["statuses"]),
    }
    print(
        f"{row['t_s'] / 60:6.1f} min  RSS {row['rss_mb']:.1f} MB  fds {row['fds']}  sent {row['sent_per_s']}/s  "
        f"200s {row['ok_per_s']}/s  "
        f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  {row['statuses']}",
        flush=True,
    )
    return row


def summary(windows: list[dict], every_ms: list[float]) -> dict:
    """The run's figures: p50/p99 over every 200 of the run, and the windows' spread of them."""
    full = windows[:-1] or windows  # the last window is partial
    ts = [w["t_s"] / 60 for w in full]
    rss = [w["rss_mb"] for w in full]
    slope = statistics.linear_regression(ts, rss).slope if len(full) >= 2 else float("nan")
    statuses: Counter = Counter()
    for w in windows:
        statuses.update(w["statuses"])
    p50 = statistics.median(w["p50_ms"] for w in full)
    p99 = max(w["p99_ms"] for w in full)
    run_p50, run_p99 = pct(every_ms, 50), pct(every_ms, 99)
    return {
        "p50_ms_run": round(run_p50, 2),
        "p99_ms_run": round(run_p99, 2),
        "p99_over_p50_run": round(run_p99 / run_p50, 2),
        "windows_with_p99_over_2x_their_p50": sum(w["p99_ms"] > 2 * w["p50_ms"] for w in full),
        "ok_per_s_median_window": statistics.median(w["ok_per_s"] for w in full),
        "sent_per_s_median_window": statistics.median(w["sent_per_s"] for w in full),
        "rss_slope_mb_per_min": round(slope, 4),
        "rss_first_last_mb": [rss[0], rss[-1]],
        "p50_ms_median_window": round(p50, 2),
        "p99_ms_worst_window": p99,
        "worst_window_p99_over_median_p50": round(p99 / p50, 2),
        "statuses": dict(statuses),
    }


def plot(windows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    t = [w["t_s"] / 60 for w in windows]
    fig, (a, b) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    a.plot(t, [w["rss_mb"] for w in windows], label="RSS MB")
    a.plot(t, [w["fds"] for w in windows], label="open fds")
    a.legend()
    b.plot(t, [w["p50_ms"] for w in windows], label="p50 ms")
    b.plot(t, [w["p99_ms"] for w in windows], label="p99 ms")
    b.set_xlabel("minutes")
    b.legend()
    fig.savefig(path, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sports100")
    ap.add_argument("--rate", type=float, required=True, help="requests per second, held open-loop")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--window-s", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--image", type=Path, help="the JPEG every request sends (default: a photo from ../shared)")
    ap.add_argument("--out", type=Path, default=Path("soak"))
    ap.add_argument("--pin", action="store_true", help="server on the last core, this generator on the others")
    ap.add_argument("--max-queue", type=int, help="the server's --max-queue (default: its own)")
    args = ap.parse_args()
    if args.pin:
        last = os.cpu_count() - 1
        PIN["server"] = ["taskset", "-c", str(last)]
        os.sched_setaffinity(0, set(range(last)) or {0})
    port = free_port()
    proc, _ = start(Path(args.model), port, args.workers, args.max_queue)
    body = args.image.read_bytes() if args.image else default_image()
    every_ms: list[float] = []
    try:
        url = f"http://127.0.0.1:{port}/v1/classify"
        windows = asyncio.run(soak(url, proc.pid, body, args.rate, args.minutes * 60, args.window_s, every_ms))
    finally:
        proc.terminate()
        proc.wait()
    result = {"command": sys.argv, "rate": args.rate, "workers": args.workers, "summary": summary(windows, every_ms)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps({**result, "windows": windows}, indent=2) + "\n")
    plot(windows, args.out / "soak.png")
    print(json.dumps(result["summary"]))


if __name__ == "__main__":
    main()
