"""`sportsedge serve` parser (light: defaults from ServeConfig, nothing heavy imported)."""

from __future__ import annotations

from .cli_types import non_negative_float, positive_float, positive_int, tcp_port
from .serve.config import ServeConfig


def add_serve(sub) -> None:
    c = ServeConfig
    p = sub.add_parser(
        "serve",
        help="run an exported model as an HTTP service on the device (the serve extra; no TensorFlow)",
        description="Serve a .tflite/.onnx model over HTTP: POST /v1/classify, GET /v1/models, /healthz, "
        "/readyz, /metrics, a page at /. The file's digest and golden check are checked at start and on "
        "every reload (POST /v1/models/reload or SIGHUP); SIGTERM drains in-flight requests and exits 0. "
        "See docs/serve.md.",
    )
    p.add_argument("model", help="a .tflite or .onnx file exported by sportsedge")
    p.add_argument("--host", default=c.host, help=f"address to listen on (default {c.host}: this machine only)")
    p.add_argument("--port", type=tcp_port, default=c.port, help=f"TCP port (default {c.port})")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=c.workers,
        help=f"inference workers, one interpreter each (default {c.workers})",
    )
    p.add_argument(
        "--threads", type=positive_int, default=c.threads, help=f"engine threads per worker (default {c.threads})"
    )
    p.add_argument(
        "--max-queue",
        type=positive_int,
        default=c.max_queue,
        help="requests waiting for a worker beyond those running; more get 503 with Retry-After at once "
        "(default: one per worker, which keeps an admitted request's answer within about two inference times; "
        "more absorbs bursts at the cost of the tail, docs/serve.md)",
    )
    p.add_argument(
        "--max-body-mb",
        type=positive_float,
        default=c.max_body_mb,
        help=f"largest request body (default {c.max_body_mb:g})",
    )
    p.add_argument(
        "--timeout-s", type=positive_float, default=c.timeout_s, help=f"answer 504 past this (default {c.timeout_s:g})"
    )
    p.add_argument(
        "--drain-s",
        type=positive_float,
        default=c.drain_s,
        help=f"on SIGTERM, time in-flight requests get to finish (default {c.drain_s:g})",
    )
    p.add_argument(
        "--token-file",
        default=None,
        metavar="FILE",
        help="require 'Authorization: Bearer TOKEN' (TOKEN: the file's first line) on every endpoint but /healthz",
    )
    p.add_argument(
        "--camera",
        metavar="DEVICE",
        default=None,
        help="also classify a V4L2 camera (0 = /dev/video0; a video file plays as one) in the background: "
        "GET /v1/camera/latest and the event stream GET /v1/camera/events; a camera that fails is retried",
    )
    p.add_argument(
        "--camera-smooth",
        type=non_negative_float,
        default=c.camera_smooth,
        metavar="SECONDS",
        help=f"seconds the camera's label is averaged over (default {c.camera_smooth:g})",
    )
    p.set_defaults(handler="sportsedge.serve.commands:serve_cmd")
