"""Why Starlette on uvicorn: memory and per-request overhead of the HTTP stack alone, against
FastAPI on uvicorn and the standard library's ThreadingHTTPServer (no model: what the stack costs).

    .venv/bin/python experiments/serve_stacks.py [--requests 5000] [--python PY] [--stacks a,b]

Each stack serves GET /healthz -> {"status": "alive"} in its own process. RSS is read from
/proc after 1,000 requests; per-request time is `hey`'s p50 and p99 at one client (keep-alive),
and throughput at 4 clients. --python runs the servers with another interpreter (e.g. the
emulated Pi's `.arm64/run`: RSS there, timings meaningless) while `hey` runs here.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess
import sys
import time

from serve_load import free_port, rss_mb  # the same folder: these scripts run from it

STACKS = {
    "starlette+uvicorn": """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def healthz(request):
    return JSONResponse({"status": "alive"})
app = Starlette(routes=[Route("/healthz", healthz)])
uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False, lifespan="off")
""",
    "fastapi+uvicorn": """
import uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/healthz")
async def healthz():
    return {"status": "alive"}
uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False, lifespan="off")
""",
    "stdlib ThreadingHTTPServer": """
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"status": "alive"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
""",
}


def hey(url: str, requests: int, clients: int) -> tuple[list[float], float]:
    t0 = time.monotonic()
    out = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(clients), "-o", "csv", url], capture_output=True, text=True, check=True
    ).stdout
    seconds = time.monotonic() - t0
    rows = [float(r["response-time"]) for r in csv.DictReader(io.StringIO(out)) if r["status-code"] == "200"]
    return rows, len(rows) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--stacks", default=",".join(STACKS))
    args = ap.parse_args()
    print("| stack | RSS after 1,000 requests (MB) | p50 ms (1 client) | p99 ms | req/s (4 clients) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in args.stacks.split(","):
        port = free_port()
        proc = subprocess.Popen([args.python, "-c", STACKS[name].replace("PORT", str(port))])
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 300
        while subprocess.run(["curl", "-sf", url], capture_output=True).returncode:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{name}: did not start")
            time.sleep(0.2)
        hey(url, 1000, 1)
        rss = rss_mb(proc.pid)
        times, _ = hey(url, args.requests, 1)
        _, rate = hey(url, args.requests, 4)
        p50, p99 = statistics.median(times), sorted(times)[int(0.99 * len(times))]
        print(f"| {name} | {rss:.1f} | {1000 * p50:.2f} | {1000 * p99:.2f} | {rate:.0f} |", flush=True)
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
