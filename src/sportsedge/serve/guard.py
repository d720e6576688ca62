"""Connections that cannot hold the server: uvicorn's HTTP/1.1 protocol with a header size cap,
a header deadline, body deadlines, slots reclaimed by progress and JSON answers for malformed HTTP.

Each connection is in one phase at a time. HEADERS: from its first byte (or the end of the last
answer) until the headers are parsed, at most ``max_header_bytes`` and ``header_timeout_s``;
BODY: until the body is complete, closed after ``body_idle_s`` without a byte, when it falls
behind ``min_body_rate_kbps`` once its ``body_grace_s`` head start is spent, or after
``body_timeout_s`` in all (a body that sends one byte every few seconds is never idle, and 256 of
them held every slot); APP: the endpoint runs (its own --timeout-s starts when the body is
complete). A cut connection gets one JSON line and is closed, which frees its buffers; the
endpoint waiting on its body sees a disconnect. A connection past ``max_connections`` takes the
slot of the open connection that has made the least progress (an idle keep-alive connection
first, then the slowest sender of headers or body); only when every other connection is being
answered is it refused, 503 before any byte is read (uvicorn's own ``limit_concurrency`` answers
in plain text, after reading the headers). uvicorn's ``timeout_keep_alive`` closes idle
keep-alive connections.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from typing import Any

from sportsedge.serve.uvicorn_private import protocol_class

log = logging.getLogger("sportsedge.serve")

# When the server is full and one connection must go, a connection is ranked by the bytes of its
# current request per second, credited with CREDIT_BYTES in its first CREDIT_S: one that has just
# arrived has had no time to send anything and ranks as a 1 KB/s sender, not as a silent one (a
# silent connection's rank falls with every second it sends nothing).
CREDIT_BYTES, CREDIT_S = 1024.0, 1.0
# A timer may fire this much before its time (the loop's clock resolution): re-armed, never a cut.
EARLY_S = 0.01


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
        "body_grace_s": config.body_grace_s,
        "min_body_rate_kbps": config.min_body_rate_kbps,
        "body_timeout_s": config.body_timeout_s,
        "max_connections": config.max_connections,
        "count": staticmethod(cut or (lambda reason: None)),
    }
    return type("GuardedHttpProtocol", (_Guard, protocol_class()), limits)


class _Guard:
    """The guard, mixed in before uvicorn's protocol (guarded_protocol sets the limits)."""

    max_header_bytes: int  # request line + headers, in bytes
    header_timeout_s: float  # first byte to last header
    body_idle_s: float  # longest silence inside a body
    body_grace_s: float  # a body's head start before min_body_rate_kbps applies
    min_body_rate_kbps: float  # a body's bytes must keep up with this rate after its grace (0: off)
    body_timeout_s: float  # headers complete to last body byte
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
    # progress of the current request (from the connection or the end of the last answer), for
    # choosing which connection gives its slot to a new one when the server is full
    _since: float = 0.0  # when the current request began (loop time)
    _got: int = 0  # bytes received since
    # the body's progress, for its deadlines
    _body_t0: float = 0.0  # headers complete
    _body_bytes: int = 0  # body bytes received
    _last: float = 0.0  # the last body byte (or the headers' end)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._start_request()
        if len(self.connections) > self.max_connections and not self._make_room():
            self._disarm()
            self.count("over_limit")
            transport.write(json_answer(503, f"over {self.max_connections} open connections (--max-connections)"))
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        self._got += len(data)
        super().data_received(data)  # type: ignore[misc]
        if self._phase is Phase.HEADERS and not self.transport.is_closing():
            # counted after parsing: a chunk that completed the headers moved the phase on
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._header_too_large()

    def _start_request(self) -> None:
        """A new connection, or one whose answer is sent: the next request's headers are timed."""
        self._phase, self._header_bytes, self._got, self._since = Phase.HEADERS, 0, 0, self.loop.time()
        self._arm(self.header_timeout_s, "header")

    def _make_room(self) -> bool:
        """At --max-connections: close the open connection that has made the least progress, so
        that slots held by clients that send nothing useful go to new ones (refusing the new one
        instead let 256 trickling bodies keep every other client out). False when every other
        connection is being answered: those are the server's work, never cut for a newcomer."""
        others = [c for c in self.connections if c is not self and not c.transport.is_closing()]
        if len(others) < self.max_connections:  # closed ones not yet gone: their slots are free
            return True
        now = self.loop.time()
        waiting = [c for c in others if isinstance(c, _Guard) and c._phase is not Phase.APP]
        if not waiting:
            return False
        min(waiting, key=lambda c: c._rank(now))._reclaim(now)
        return True

    def _idle(self) -> bool:
        """Between requests on a keep-alive connection: it holds nothing."""
        return self._phase is Phase.HEADERS and self._got == 0 and self.cycle is not None

    def _rank(self, now: float) -> tuple[int, float]:
        """Lowest first to give its slot away: idle keep-alive connections, the longest idle first
        (a client reconnects at the cost of a handshake), then the fewest bytes per second."""
        waited = now - self._since
        if self._idle():
            return 0, -waited
        return 1, (self._got + CREDIT_BYTES) / (waited + CREDIT_S)

    def _reclaim(self, now: float) -> None:
        if self._idle():  # as its keep-alive timeout would: no answer, nothing is pending
            self.count("reclaimed")
            self._disarm()
            self.transport.close()
            return
        self._cut(
            503,
            f"closed for a new connection at {self.max_connections} open (--max-connections): this one had "
            f"sent the least ({self._got:,} bytes in {now - self._since:.1f} s)",
            "reclaimed",
        )

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
        self._body_t0 = self._last = self.loop.time()
        self._body_bytes = 0
        self._arm_body()
        super().on_headers_complete()  # type: ignore[misc]

    def on_body(self, body: bytes) -> None:
        # the endpoints read a body as it arrives (serve/http.py read_body), so uvicorn's flow
        # control pauses reading for moments only: the time a body takes is its client's
        self._body_bytes += len(body)
        self._last = self.loop.time()
        self._arm_body()
        super().on_body(body)  # type: ignore[misc]

    def on_message_complete(self) -> None:
        self._phase = Phase.APP
        self._disarm()
        super().on_message_complete()  # type: ignore[misc]
        if self.cycle is not None and self.cycle.response_complete and not self.transport.is_closing():
            # answered before its body ended (a 401, 413 or 503 needs no body): nothing is pending,
            # so the connection is idle and timed, not held in APP with no deadline
            self._start_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self._phase is Phase.APP:  # keep-alive: the next request's headers are timed again
            self._start_request()

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

    def _body_deadline(self) -> tuple[float, str]:
        """(when the body's first limit runs out, which: "idle", "total" or "rate")."""
        limits = [(self._last + self.body_idle_s, "idle"), (self._body_t0 + self.body_timeout_s, "total")]
        if self.min_body_rate_kbps > 0:
            # the grace is a head start, not a window: a body exactly at the minimum rate is always
            # body_grace_s ahead of being cut, and one byte every few seconds is cut soon after it
            rate = 1024 * self.min_body_rate_kbps
            limits.append((self._body_t0 + self.body_grace_s + self._body_bytes / rate, "rate"))
        return min(limits)

    def _arm_body(self) -> None:
        when, _ = self._body_deadline()
        self._arm(max(when - self.loop.time(), 0.0), "body")

    def _expired(self, what: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if what == "body":
            self._body_expired()
        elif self._header_bytes == 0 and self.cycle is not None:  # an idle keep-alive connection
            self.transport.close()
        else:
            self._cut(
                408,
                f"request headers not complete within {self.header_timeout_s:g} s (--header-timeout-s)",
                "header_timeout",
            )

    def _body_expired(self) -> None:
        now = self.loop.time()
        when, limit = self._body_deadline()
        if when > now + EARLY_S:
            self._arm(when - now, "body")
        elif limit == "idle":
            self._cut(408, f"no body bytes for {self.body_idle_s:g} s (--body-idle-s)", "body_timeout")
        elif limit == "total":
            message = f"request body not complete within {self.body_timeout_s:g} s (--body-timeout-s)"
            self._cut(408, message, "body_deadline")
        else:
            self._cut(
                408,
                f"request body slower than {self.min_body_rate_kbps:g} KB/s after its first {self.body_grace_s:g} s "
                f"({self._body_bytes:,} bytes in {now - self._body_t0:.1f} s; --min-body-rate-kbps)",
                "body_slow",
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
