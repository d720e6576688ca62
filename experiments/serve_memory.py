"""Peak and resident memory of `sportsedge serve` under the largest images it accepts, read from
/proc: the figures of docs/serve.md's "Limits and guarantees". Starts the server on MODEL
(default: the built-in sports100), sends a 9400x9400 16-bit RGB PNG once, then WORKERS at once,
then a 16-bit RGBA one (refused from its header), printing VmHWM and VmRSS after each.

    .venv/bin/python experiments/serve_memory.py [--model sports100] [--workers 2]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_serve_faults import _peak_mb, _png  # the test's own image and /proc reader


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sports100")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "sportsedge", "serve", args.model, "--port", str(port), "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        print(f"idle: peak {_peak_mb(proc.pid)[0]:.0f} MB, resident {_peak_mb(proc.pid)[1]:.0f} MB")
        rgb16, rgba16 = _png(9400, 16, 2), _png(9400, 16, 6)

        def send(data: bytes) -> int:
            return httpx.post(
                url + "/v1/classify", content=data, headers={"content-type": "image/png"}, timeout=120
            ).status_code

        cases = [("one 9400x9400 16-bit RGB", 1, rgb16), (f"{args.workers} at once", args.workers, rgb16)]
        for label, jobs, data in [*cases, ("one 9400x9400 16-bit RGBA", 1, rgba16)]:
            codes: list[int] = []
            threads = [threading.Thread(target=lambda d=data, c=codes: c.append(send(d))) for _ in range(jobs)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            peak, now = _peak_mb(proc.pid)
            print(f"{label}: {codes} in {time.monotonic() - t0:.1f} s; peak {peak:.0f} MB, resident after {now:.0f} MB")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
