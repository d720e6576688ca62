"""`sportsedge serve` (defaults) against the hostile corpus (sportsedge.data.hostile), then memory
after refused uploads, a burst of big images and reloads: the tables of docs/serve.md
("Hostile inputs", "Memory comes back").

    .venv/bin/python experiments/hostile_corpus.py [--model sports100] [--side 9400] [--out hostile.json]

For each case: the answer's status, its wall time, and the peak resident memory of the server and
of its decoder processes, sampled every 10 ms from /proc while the request runs (the decoders are
separate processes: their peak is the largest one seen). Then: the server's and decoders' resident
memory at idle, right after each burst, and 10 s later. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from sportsedge.data.hostile import CORPUS, png_large_iccp, write_corpus


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (decoders are started from decode threads)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


class Sampler:
    """Peak RSS of the server and of its largest child while running."""

    def __init__(self, pid: int) -> None:
        self.pid, self.server, self.decoder, self._stop = pid, 0.0, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.server = max(self.server, _rss_mb(self.pid))
            self.decoder = max([self.decoder, *(_rss_mb(c) for c in _children(self.pid))])
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def resident(pid: int) -> tuple[float, float]:
    """(server, decoders summed) resident MB now."""
    return _rss_mb(pid), sum(_rss_mb(c) for c in _children(pid))


def memory_phases(url: str, pid: int, post) -> list[dict]:
    """Resident memory at idle, right after each burst and 10 s later (deliverable 4)."""
    rows: list[dict] = []

    def phase(label: str, work) -> None:
        before = resident(pid)
        t0 = time.monotonic()
        codes = work()
        after = resident(pid)
        time.sleep(10)
        later = resident(pid)
        row = dict(
            phase=label,
            seconds=round(time.monotonic() - t0 - 10, 1),
            statuses=sorted(set(codes)),
            idle_mb=[round(x) for x in before],
            right_after_mb=[round(x) for x in after],
            ten_s_later_mb=[round(x) for x in later],
        )
        rows.append(row)
        print(
            f"{label}: statuses {row['statuses']}, (server, decoders) MB: idle {row['idle_mb']}, "
            f"right after {row['right_after_mb']}, 10 s later {row['ten_s_later_mb']}"
        )

    iccp = png_large_iccp(0)
    phase("20 refused PNGs of 19 MB (iCCP)", lambda: [post(iccp, "image/png").status_code for _ in range(20)])
    buf = io.BytesIO()
    Image.effect_noise((2800, 2000), 64).convert("RGB").save(buf, "PNG", compress_level=1)
    burst = buf.getvalue()

    def burst_of_big() -> list[int]:
        codes: list[int] = []
        threads = [
            threading.Thread(target=lambda: codes.append(post(burst, "image/png").status_code)) for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return codes

    phase(f"a burst of 8 noisy 2800x2000 PNGs ({len(burst) / 2**20:.0f} MB each) at once", burst_of_big)
    phase("50 reloads", lambda: [httpx.post(url + "/v1/models/reload", timeout=60).status_code for _ in range(50)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sports100")
    ap.add_argument("--side", type=int, default=9400)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sportsedge", "serve", args.model, "--port", str(port)], stderr=subprocess.DEVNULL
    )
    results: dict = {"cases": [], "memory": []}
    try:
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        photo = Path(__file__).resolve().parents[1] / "examples" / "photo.jpg"

        def post(data: bytes, ctype: str) -> httpx.Response:
            return httpx.post(url + "/v1/classify", content=data, headers={"content-type": ctype}, timeout=120)

        post(photo.read_bytes(), "image/jpeg")  # the decoders started
        with tempfile.TemporaryDirectory() as tmp:
            files = write_corpus(Path(tmp), args.side)
            print("| case | file | status | time s | server peak MB | decoder peak MB | answer |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
            for name, path in files.items():
                data = path.read_bytes()
                with Sampler(proc.pid) as sample:
                    t0 = time.monotonic()
                    answer = post(data, CORPUS[name][1])
                    took = time.monotonic() - t0
                body = answer.json()
                text = body.get("error") or f"{body['label']} {body['score']:.2f}"
                row = dict(
                    case=name,
                    bytes=len(data),
                    status=answer.status_code,
                    seconds=round(took, 2),
                    server_peak_mb=round(sample.server),
                    decoder_peak_mb=round(sample.decoder),
                    answer=text,
                )
                results["cases"].append(row)
                print(
                    f"| {name} | {len(data):,} B | {answer.status_code} | {took:.2f} | {sample.server:.0f} "
                    f"| {sample.decoder:.0f} | {text[:90]} |"
                )
        print()

        results["memory"] = memory_phases(url, proc.pid, post)
    finally:
        proc.terminate()
        proc.wait()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
