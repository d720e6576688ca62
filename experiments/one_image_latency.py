"""Latency of one 224-px JPEG, in process (`Classifier.predict(path)`) and over HTTP (`serve`, one
client, sequential requests), at 1 engine thread: the figure an honest client sees. Run it under
two commits' sources in one sitting, alternating, to compare them:

    PYTHONPATH=OLD/src .venv/bin/python experiments/one_image_latency.py [--model sports100] [--n 300]
    .venv/bin/python experiments/one_image_latency.py

Prints the median and p90 in ms of each (after 30 warm-up calls).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "photo.jpg"


def _p(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))]


def in_process(model: str, n: int) -> list[float]:
    from sportsedge.runtime import Classifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(model, threads=1)
    for _ in range(30):
        clf.predict(str(PHOTO))
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        clf.predict(str(PHOTO))
        out.append(1000 * (time.perf_counter() - t0))
    return out


def over_http(model: str, n: int) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sportsedge", "serve", model, "--port", str(port), "--threads", "1"],
        stderr=subprocess.DEVNULL,
    )
    data = PHOTO.read_bytes()
    try:
        with httpx.Client() as client:
            while True:
                try:
                    if client.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            headers = {"content-type": "image/jpeg"}
            for _ in range(30):
                client.post(url + "/v1/classify", content=data, headers=headers)
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                assert client.post(url + "/v1/classify", content=data, headers=headers).status_code == 200
                out.append(1000 * (time.perf_counter() - t0))
            return out
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sports100")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    import sportsedge

    where = Path(sportsedge.__file__).parents[1]
    for name, fn in (("in process", in_process), ("HTTP", over_http)):
        ms = fn(args.model, args.n)
        print(f"{where}  {name}: median {statistics.median(ms):.2f} ms, p90 {_p(ms, 0.9):.2f} ms")


if __name__ == "__main__":
    main()
