"""Settings of `sportsedge serve` (light: the CLI builds its options and help from these defaults)."""

from __future__ import annotations

from dataclasses import dataclass

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServeConfig:
    model: str  # the .tflite/.onnx file served
    host: str = "127.0.0.1"  # loopback by default: other machines reach it only when asked for
    port: int = 8080  # TCP port
    workers: int = 2  # inference workers: one thread and one interpreter each (interpreters are not shared)
    threads: int = 1  # engine threads per interpreter (workers x threads ~ the board's cores)
    max_queue: int | None = None  # requests waiting for a worker, beyond those running; more get 503 with
    # Retry-After at once; None = one per worker, which bounds an admitted request's wait (docs/serve.md)
    max_body_mb: float = 20.0  # largest request body read; more gets 413 (a 12 MP JPEG is 3-8 MB)
    timeout_s: float = 10.0  # a request that waits longer than this in all gets 504
    drain_s: float = 10.0  # on SIGTERM: in-flight requests get this long to finish
    token_file: str | None = None  # bearer token (first line of the file) on every endpoint but /healthz and /
    camera: str | None = None  # also run the camera loop on this V4L2 device (or a video file played as one)
    camera_smooth: float = 1.0  # seconds the camera's label is averaged over (VideoOptions.smooth)

    @property
    def queue_limit(self) -> int:
        """Requests that may wait for a worker (``max_queue``, or one per worker)."""
        return self.workers if self.max_queue is None else self.max_queue

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK or self.host.startswith("127.")
