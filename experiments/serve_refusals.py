"""What one refusal (503) costs the event loop: the server's queue held full (each job takes 60 s
more, SPORTSEDGE_TEST_INFER_DELAY_S), then `hey` with 32 keep-alive clients for 10 s; the server
on one core, hey on the other. Refusals per second at a saturated loop = 1 / cost of one.

    .venv/bin/python experiments/serve_refusals.py MODEL --images DIR
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import serve_load as sl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    os.environ["SPORTSEDGE_TEST_INFER_DELAY_S"] = "60"  # inherited by the server: its queue stays full
    last = os.cpu_count() - 1
    sl.PIN["server"], sl.PIN["client"] = ["taskset", "-c", str(last)], ["taskset", "-c", f"0-{last - 1}"]
    body = sorted(args.images.rglob("*.jpg"))[0]
    port = sl.free_port()
    url = f"http://127.0.0.1:{port}/v1/classify"
    proc, _ = sl.start(args.model, port, 1, 1)
    for _ in range(2):  # one running, one waiting: full
        threading.Thread(
            target=lambda: httpx.post(
                url, content=body.read_bytes(), headers={"content-type": "image/jpeg"}, timeout=90
            ),
            daemon=True,
        ).start()
    time.sleep(1)
    rows = sl.hey(url, body, 32, seconds=args.seconds)
    codes = Counter(r["status"] for r in rows)
    rate = len(rows) / args.seconds
    print(f"refusals at a saturated event loop: {rate:,.0f}/s ({1e6 / rate:.0f} us each); statuses {dict(codes)}")
    proc.kill()


if __name__ == "__main__":
    main()
