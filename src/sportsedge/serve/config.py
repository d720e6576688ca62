"""Settings of `sportsedge serve` (light: the CLI builds its options and help from these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from sportsedge.core.builtin import names_help
from sportsedge.core.decoding import DecodeLimits
from sportsedge.core.options import NON_NEGATIVE, POSITIVE, POSITIVE_INT, TCP_PORT, check_bounds, option

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServeConfig:
    """Settings of `sportsedge serve`; each field is its --option (core.options)."""

    model: str = option(  # the file served (or a built-in model's name)
        help="a .tflite or .onnx file exported by sportsedge" + names_help(), positional=True
    )
    host: str = option(  # loopback by default: other machines reach it only when asked for
        "127.0.0.1", "address to listen on; 127.0.0.1 is this machine only"
    )
    port: int = option(8080, "TCP port", bound=TCP_PORT)  # TCP port
    workers: int = option(  # inference workers: one thread and one interpreter each (interpreters are not shared)
        2, "inference workers, one interpreter each", bound=POSITIVE_INT
    )
    threads: int = option(  # engine threads per interpreter (workers x threads ~ the board's cores)
        1, "engine threads per worker", bound=POSITIVE_INT
    )
    max_queue: int | None = option(  # requests waiting for a worker beyond those running; None = one per worker
        None,
        "requests waiting for a worker beyond those running; more get 503 with Retry-After at once "
        "(default: one per worker, which keeps an admitted request's answer within about two inference times; "
        "more absorbs bursts at the cost of the tail, docs/serve.md)",
        bound=POSITIVE_INT,
    )
    max_body_mb: float = option(  # largest request body read; more gets 413 (a 12 MP JPEG is 3-8 MB)
        20.0, "largest request body in MB", bound=POSITIVE
    )
    max_bodies_mb: float = option(  # request bodies held at once over all connections; past it 503
        200.0, "request bodies held at once, over every connection, in MB; past it 503 with Retry-After", bound=POSITIVE
    )
    timeout_s: float = option(  # a request's wait for its answer, from its complete body
        10.0,
        "answer 504 when a classify request's answer takes longer (counted from its complete body)",
        bound=POSITIVE,
    )
    decoders: int = option(  # decoder processes: images are decoded there, capped and killable (runtime/decoder.py)
        DecodeLimits.processes, "image decoder processes (each decodes one image at a time)", bound=POSITIVE_INT
    )
    decode_mb: int = option(  # memory one image's decoding may take in its decoder process; past it 413
        DecodeLimits.memory_mb,
        "memory in MB one image's decoding may take (a cap the kernel enforces on each decoder process); more gets 413",
        bound=POSITIVE_INT,
    )
    decode_timeout_s: float = option(  # one image's decoding; past it the decoder is killed and replaced, 504
        DecodeLimits.timeout_s,
        "seconds one image may take to decode; past it its decoder process is killed and replaced (504)",
        bound=POSITIVE,
    )
    max_header_kb: float = option(  # request line + headers; past it 431 and the connection closed
        64.0, "largest request line and headers in KB; more gets 431 and the connection is closed", bound=POSITIVE
    )
    header_timeout_s: float = option(  # from a request's first byte to its last header
        10.0, "close a connection whose request headers take longer (408)", bound=POSITIVE
    )
    body_idle_s: float = option(  # a stalled upload is closed and its buffer freed
        30.0, "close a connection whose request body sends no byte for this long (408)", bound=POSITIVE
    )
    body_grace_s: float = option(  # a body's head start: an honest client at exactly the min rate stays this far ahead
        5.0, "seconds of head start a request body has before --min-body-rate-kbps applies", bound=NON_NEGATIVE
    )
    min_body_rate_kbps: float = option(  # slower bodies hold a slot for nothing (1 byte per 5 s kept 256 slots)
        1.0,
        "close a connection whose request body falls behind this rate in KB/s after --body-grace-s (408; 0 = off)",
        bound=NON_NEGATIVE,
    )
    body_timeout_s: float = option(  # a body's whole time, however steadily it trickles
        60.0, "close a connection whose request body is not complete after this many seconds (408)", bound=POSITIVE
    )
    keep_alive_s: float = option(  # an idle keep-alive connection is closed after this
        5.0, "close an idle keep-alive connection after this many seconds", bound=POSITIVE
    )
    max_connections: int = option(  # open connections; one more is answered 503 and closed at once
        256, "open connections at most; more are answered 503 and closed", bound=POSITIVE_INT
    )
    drain_s: float = option(  # on SIGTERM: in-flight requests get this long to finish
        10.0, "on SIGTERM, seconds in-flight requests get to finish", bound=POSITIVE
    )
    token_file: str | None = option(  # bearer token (first line of the file) on every endpoint but /healthz and /
        None,
        "require 'Authorization: Bearer TOKEN' (TOKEN: the file's first line) on every endpoint but /healthz and /",
        metavar="FILE",
    )
    camera: str | None = option(  # also run the camera loop on this V4L2 device (or a video file played as one)
        None,
        "also classify a V4L2 camera (0 = /dev/video0; a video file plays as one) in the background: "
        "GET /v1/camera/latest and the event stream GET /v1/camera/events; a camera that fails is retried",
        metavar="DEVICE",
    )
    camera_smooth: float = option(  # seconds the camera's label is averaged over (VideoOptions.smooth)
        1.0, "seconds the camera's label is averaged over", bound=NON_NEGATIVE, metavar="SECONDS"
    )

    state_dir: str | None = option(  # keeps the last verified model and the path reloaded (serve/state.py)
        None,
        "keep a copy of the last model that passed its checks here, and the path it was reloaded from: "
        "a restart serves that path, or the copy when the file was damaged since",
        metavar="DIR",
    )
    access_log: bool = option(  # one stderr line per request; never the token, the query or the body
        False, "log one line per request on stderr: method, path, status, ms, bytes (never the token or the body)"
    )

    def __post_init__(self) -> None:
        check_bounds(self)

    @property
    def decode_limits(self) -> DecodeLimits:
        """The decoder pool's limits from --decoders, --decode-mb and --decode-timeout-s."""
        return DecodeLimits(self.decoders, self.decode_mb, self.decode_timeout_s)

    @property
    def queue_limit(self) -> int:
        """Requests that may wait for a worker (``max_queue``, or one per worker)."""
        return self.workers if self.max_queue is None else self.max_queue

    @property
    def max_bodies_bytes(self) -> int:
        """``max_bodies_mb`` in bytes."""
        return int(self.max_bodies_mb * 1024 * 1024)

    @property
    def max_header_bytes(self) -> int:
        """``max_header_kb`` in bytes."""
        return int(self.max_header_kb * 1024)

    @property
    def max_body_bytes(self) -> int:
        """``max_body_mb`` in bytes."""
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def loopback(self) -> bool:
        """True when only this machine can reach the server."""
        return self.host in LOOPBACK or self.host.startswith("127.")
