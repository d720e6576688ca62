"""Slow bodies against `sportsedge serve` (issue 51): N connections that each send one body byte
every few seconds, and an honest client classifying a photo on a fixed schedule beside them. Before
connections were admitted by progress, 256 such connections (51 B/s in all) held every slot for as
long as they lasted and the honest client got 503: 4 of 184 classifies answered.

    .venv/bin/python experiments/slow_body.py [--model sports100] [--connections 256] \\
        [--byte-every-s 5] [--every-s 0.5] [--seconds 60] [--image examples/photo.jpg] [-- SERVER OPTIONS]

Loopback only; it starts the server on a free port and stops it, and everything ends within
--seconds plus the server's start (a minute at most) and a few seconds of drain. An attacker whose
connection is closed opens another at once, so N stay open all along. Prints the share of the
honest classifies answered 200 (the goal: at least 90%), what else they got, and how the
attackers' connections ended. Figures in docs/serve.md ("Limits and guarantees").
"""

from __future__ import annotations

import argparse
import asyncio
import socket
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
        port: int = s.getsockname()[1]
        return port


def start(model: str, port: int, extra: list[str]) -> subprocess.Popen:
    """The server, as a user starts it: the venv's `sportsedge serve` (its log lines to a file)."""
    script = Path(sys.executable).with_name("sportsedge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sportsedge"]
    proc = subprocess.Popen([*command, "serve", model, "--port", str(port), *extra], stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
        if proc.poll() is not None:
            break
    proc.kill()
    sys.exit(f"the server did not start: {proc.communicate()[1][-2000:]}")


async def attacker(port: int, delay: float, every: float, stop: asyncio.Event, ends: Counter) -> None:
    """One slot held by a body that trickles: headers for a 1 MB upload, then one byte every
    ``every`` seconds; closed (by the server) -> counted by how it ended, and opened again."""
    head = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n"
    await asyncio.sleep(delay)  # spread over one period, as the 51 B/s in all
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as err:
            ends[f"connect failed ({type(err).__name__})"] += 1
            await asyncio.sleep(0.1)
            continue
        ends["opened"] += 1
        answer = b""
        try:
            writer.write(head)
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(65536), every)
                except asyncio.TimeoutError:
                    writer.write(b"\xff")
                    await writer.drain()
                    continue
                if not data:
                    break
                answer += data
        except OSError:
            pass
        finally:
            writer.close()
        if not stop.is_set():
            status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "no answer"
            ends[f"closed by the server ({status})"] += 1


def honest(url: str, photo: bytes, every: float, seconds: float, statuses: Counter) -> None:
    """A keep-alive client classifying ``photo`` every ``every`` seconds (on schedule: a late
    answer delays the next request, it does not add one)."""
    with httpx.Client(timeout=10) as client:
        t0 = time.monotonic()
        n = 0
        while (due := t0 + n * every) < t0 + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            n += 1
            try:
                answer = client.post(url + "/v1/classify", content=photo, headers={"Content-Type": "image/jpeg"})
                statuses[str(answer.status_code)] += 1
            except httpx.HTTPError as err:
                statuses[type(err).__name__] += 1


async def run(port: int, args: argparse.Namespace, photo: bytes) -> tuple[Counter, Counter]:
    stop, ends, statuses = asyncio.Event(), Counter(), Counter()
    n, every = args.connections, args.byte_every_s
    tasks = [asyncio.create_task(attacker(port, i * every / n, every, stop, ends)) for i in range(n)]
    await asyncio.sleep(every + 1)  # every attacker has its connection open
    print(f"{ends['opened']} slow connections open; the honest client starts", flush=True)
    url = f"http://127.0.0.1:{port}"
    await asyncio.to_thread(honest, url, photo, args.every_s, args.seconds, statuses)
    stop.set()
    await asyncio.wait(tasks, timeout=every + 2)
    for task in tasks:
        task.cancel()
    return statuses, ends


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="sports100")
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--byte-every-s", type=float, default=5.0)
    ap.add_argument("--every-s", type=float, default=0.5, help="the honest client's period")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long the honest client runs")
    ap.add_argument("--image", type=Path, default=ROOT / "examples" / "photo.jpg")
    ap.add_argument("server", nargs="*", help="options for `sportsedge serve`, after --")
    args = ap.parse_args()
    photo = args.image.read_bytes()
    port = free_port()
    proc = start(args.model, port, args.server)
    log = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        statuses, ends = asyncio.run(run(port, args, photo))
        cuts = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    sent = sum(statuses.values())
    ok = statuses.get("200", 0)
    print(f"honest classifies: {ok} of {sent} answered 200 ({100 * ok / max(sent, 1):.1f}%; goal >= 90%)")
    print("  all:", ", ".join(f"{k} x{v}" for k, v in statuses.most_common()))
    print("slow connections:", ", ".join(f"{k} x{v}" for k, v in ends.most_common()))
    counted = [line.split("{")[1] for line in cuts if line.startswith("sportsedge_connections_cut_total{")]
    print("server's cuts:", ", ".join(counted))
    print(f"server log lines: {len(log)}; tracebacks: {sum('Traceback' in line for line in log)}")


if __name__ == "__main__":
    main()
