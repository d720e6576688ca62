"""Connections that cannot hold the server: uvicorn's HTTP/1.1 protocol with a header size cap,
a header deadline, a body idle deadline and JSON answers for malformed HTTP.

Each connection is in one phase at a time. HEADERS: from its first byte (or the end of the last
answer) until the headers are parsed, at most ``max_header_bytes`` and ``header_timeout_s``;
BODY: until the body is complete, closed after ``body_idle_s`` without a byte; APP: the
endpoint runs (its own --timeout-s starts when the body is complete). A cut connection gets one
JSON line and is closed, which frees its buffers; the endpoint waiting on its body sees a
disconnect. A connection past ``max_connections`` is answered 503 and closed before any byte is
read (uvicorn's own ``limit_concurrency`` answers in plain text, after reading the headers);
uvicorn's ``timeout_keep_alive`` closes idle keep-alive connections.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from typing import Any

from sportsedge.serve.uvicorn_private import protocol_class

log = logging.getLogger("sportsedge.serve")


class Phase(enum.Enum):
    HEADERS = "headers"  # waiting for a request line and headers
    BODY = "body"  # headers parsed, body arriving
    APP = "app"  # the request is complete: the endpoint answers


# status -> reason phrase, for the answers the guard writes itself
REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def json_answer(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 answer with a JSON error body, closing the connection."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} ".encode()
        + REASONS[status]
        + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
    )
    return head + body


def guarded_protocol(config: Any, cut: Callable[[str], None] | None = None) -> type:
    """uvicorn's protocol class with the guard's limits from ``config`` (a ServeConfig);
    ``cut(reason)`` is called on each connection the guard closes (the metrics count them)."""
    limits = {
        "max_header_bytes": config.max_header_bytes,
        "header_timeout_s": config.header_timeout_s,
        "body_idle_s": config.body_idle_s,
        "max_connections": config.max_connections,
        "count": staticmethod(cut or (lambda reason: None)),
    }
    return type("GuardedHttpProtocol", (_Guard, protocol_class()), limits)


class _Guard:
    """The guard, mixed in before uvicorn's protocol (guarded_protocol sets the limits)."""

    max_header_bytes: int  # request line + headers, in bytes
    header_timeout_s: float  # first byte to last header
    body_idle_s: float  # longest silence inside a body
    max_connections: int  # open connections
    count: Callable[[str], None]  # called with the reason of each cut
    # uvicorn's protocol has these (serve/uvicorn_private.py checks its hooks)
    transport: Any
    loop: Any
    cycle: Any
    client: Any
    url: bytes
    headers: list[tuple[bytes, bytes]]
    connections: set[Any]
    _timer: Any = None  # the armed deadline (an asyncio TimerHandle), or None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._phase, self._header_bytes, self._timer = Phase.HEADERS, 0, None
        if len(self.connections) > self.max_connections:
            self.count("over_limit")
            transport.write(json_answer(503, f"over {self.max_connections} open connections (--max-connections)"))
            transport.close()
            return
        self._arm(self.header_timeout_s, "header")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._phase is Phase.BODY:
            self._arm(self.body_idle_s, "body")
        super().data_received(data)  # type: ignore[misc]
        if self._phase is Phase.HEADERS and not self.transport.is_closing():
            # counted after parsing: a chunk that completed the headers moved the phase on
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._header_too_large()

    def _header_too_large(self) -> None:
        limit = f"{self.max_header_bytes:,} bytes (--max-header-kb)"
        self._cut(431, f"request line and headers over {limit}", "header_size")

    def on_headers_complete(self) -> None:
        # headers that arrived in one chunk were never counted in HEADERS: measure what was parsed
        parsed = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if max(parsed, self._header_bytes) > self.max_header_bytes:
            self._header_too_large()
            raise ConnectionAbortedError("headers too large")  # stops the parser; the answer is sent
        self._phase, self._header_bytes = Phase.BODY, 0
        self._arm(self.body_idle_s, "body")
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        self._phase = Phase.APP
        self._disarm()
        super().on_message_complete()  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self._phase is Phase.APP:  # keep-alive: the next request's headers are timed again
            self._phase = Phase.HEADERS
            self._arm(self.header_timeout_s, "header")

    def send_400_response(self, msg: str) -> None:
        if self.transport.is_closing():  # the guard cut it and stopped the parser: answered already
            return
        self.count("malformed")
        self.transport.write(json_answer(400, f"malformed HTTP request ({msg.rstrip('.').lower()})"))
        self.transport.close()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, what: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if what == "body":
            self._cut(408, f"no body bytes for {self.body_idle_s:g} s (--body-idle-s)", "body_timeout")
        elif self._header_bytes == 0 and self.cycle is not None:  # an idle keep-alive connection
            self.transport.close()
        else:
            self._cut(
                408,
                f"request headers not complete within {self.header_timeout_s:g} s (--header-timeout-s)",
                "header_timeout",
            )

    def _cut(self, status: int, message: str, reason: str) -> None:
        log.warning("closed a connection from %s: %s", _peer(self.client), message)
        self.count(reason)
        self._disarm()
        if self._phase is Phase.HEADERS or self.cycle is None or not self.cycle.response_started:
            self.transport.write(json_answer(status, message))
        self.transport.close()


def _peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"
