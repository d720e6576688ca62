"""`sportsedge serve` parser (light: defaults from ServeConfig, nothing heavy imported)."""

from __future__ import annotations

from sportsedge.core.options import add_options
from sportsedge.serve.config import ServeConfig


def add_serve(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="run an exported model as an HTTP service on the device (the serve extra; no TensorFlow)",
        description="Serve a .tflite/.onnx model over HTTP: POST /v1/classify, GET /v1/models, /healthz, "
        "/readyz, /metrics, a page at /. The file's digest and golden check are checked at start and on "
        "every reload (POST /v1/models/reload or SIGHUP); SIGTERM drains in-flight requests and exits 0. "
        "See docs/serve.md.",
    )
    add_options(p, ServeConfig)
    p.set_defaults(handler="sportsedge.serve.commands:serve_cmd")
