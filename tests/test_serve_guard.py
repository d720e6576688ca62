"""serve/guard.py's deadlines and caps on a fake clock: the guard mixed into a stand-in for
uvicorn's protocol (the hooks it extends), timers fired by hand, no sleeps. The real server is
tested against raw sockets in test_serve_faults.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

pytest.importorskip("uvicorn")

from sportsedge.serve.guard import Phase, _Guard


class FakeLoop:
    """call_later that only records, and a clock that moves when the test says: the test decides
    when time has passed."""

    def __init__(self, clock=None):
        self.timers = []
        self.clock = clock if clock is not None else [0.0]  # shared by the connections of one server

    def time(self):
        return self.clock[0]

    def call_later(self, seconds, callback, *args):
        timer = SimpleNamespace(seconds=seconds, when=self.clock[0] + seconds, callback=callback, args=args)
        timer.cancelled = False
        timer.cancel = lambda: setattr(timer, "cancelled", True)
        self.timers.append(timer)
        return timer

    def armed(self):
        return [t for t in self.timers if not t.cancelled]

    def expire(self):
        """Fire the one armed deadline, as if its seconds had passed."""
        [timer] = self.armed()
        timer.cancelled = True
        self.clock[0] = max(self.clock[0], timer.when)
        timer.callback(*timer.args)
        return timer.seconds

    def advance(self, seconds):
        """Let ``seconds`` pass, firing each deadline that falls within them, in order."""
        end = self.clock[0] + seconds
        while due := [t for t in self.armed() if t.when <= end]:
            timer = min(due, key=lambda t: t.when)
            timer.cancelled = True
            self.clock[0] = max(self.clock[0], timer.when)
            timer.callback(*timer.args)
        self.clock[0] = end


class FakeTransport:
    def __init__(self):
        self.written, self.closed = b"", False

    def write(self, data):
        self.written += data

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed


class FakeUvicorn:
    """The parts of uvicorn's HttpToolsProtocol the guard relies on; parsing is scripted by the test."""

    connections: set = set()
    clock = [0.0]

    def __init__(self):
        self.loop, self.cycle, self.client, self.url, self.headers = (
            FakeLoop(self.clock),
            None,
            ("127.0.0.1", 5),
            b"",
            [],
        )
        self.calls, self.body = [], b""

    def connection_made(self, transport):
        self.transport = transport
        self.connections.add(self)

    def connection_lost(self, exc):
        self.connections.discard(self)

    def data_received(self, data):
        self.calls.append(("data", data))
        if self.cycle is not None and not self.cycle.response_complete:  # inside a body
            self.on_body(data)
        elif b"\r\n\r\n" in data:  # the headers end in this chunk: the parser calls back
            self.url, self.headers = b"/v1/classify", [(b"host", b"x")]
            self.on_headers_complete()
            rest = data.partition(b"\r\n\r\n")[2]
            if rest:
                self.on_body(rest)

    def on_headers_complete(self):
        self.cycle = SimpleNamespace(response_started=False, response_complete=False)

    def on_body(self, body):
        self.body += body

    def on_message_complete(self):
        pass

    def on_response_complete(self):
        pass

    def answered(self):
        """The endpoint's answer is sent (uvicorn calls on_response_complete)."""
        self.cycle.response_started = self.cycle.response_complete = True
        self.on_response_complete()

    def send_400_response(self, msg):
        raise AssertionError("the guard answers malformed HTTP itself")


def guarded(**limits):
    cuts = []
    settings = {"max_header_bytes": 1000, "header_timeout_s": 10.0, "body_idle_s": 30.0, "max_connections": 4}
    # the defaults of ServeConfig
    settings.update({"body_grace_s": 5.0, "min_body_rate_kbps": 1.0, "body_timeout_s": 60.0})
    settings.update(limits)
    cls = type("G", (_Guard, FakeUvicorn), {**settings, "count": staticmethod(cuts.append)})
    FakeUvicorn.connections, FakeUvicorn.clock = set(), [0.0]
    proto, transport = cls(), FakeTransport()
    proto.connection_made(transport)
    return proto, transport, cuts


def answer(transport):
    head, _, body = transport.written.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def test_a_silent_connection_is_answered_408_when_the_header_deadline_passes():
    proto, transport, cuts = guarded()
    assert proto.loop.expire() == 10.0 and transport.closed
    status, error = answer(transport)
    assert status == 408 and "within 10 s (--header-timeout-s)" in error and cuts == ["header_timeout"]


def test_headers_past_the_cap_are_cut_across_chunks_and_within_one():
    proto, transport, cuts = guarded()
    proto.data_received(b"GET / HTTP/1.1\r\nX: " + b"a" * 600)
    assert not transport.closed
    proto.data_received(b"a" * 600)  # 1,219 bytes and no end: over 1,000
    assert transport.closed and answer(transport)[0] == 431 and cuts == ["header_size"]
    proto, transport, cuts = guarded()
    proto.url = b"/" + b"a" * 2000  # one chunk, parsed whole: measured at headers-complete
    with pytest.raises(ConnectionAbortedError):
        _Guard.on_headers_complete(proto)
    assert answer(transport)[0] == 431 and cuts == ["header_size"]


def test_a_body_is_closed_after_its_idle_deadline_and_each_byte_rearms_it():
    proto, transport, cuts = guarded(min_body_rate_kbps=0.0)  # the idle rule alone
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 100\r\n\r\nab")
    assert proto._phase is Phase.BODY and [t.seconds for t in proto.loop.armed()] == [30.0]
    first = proto.loop.armed()[0]
    proto.data_received(b"cd")  # a byte arrives: the deadline starts again
    assert first.cancelled and len(proto.loop.armed()) == 1
    assert proto.loop.expire() == 30.0 and transport.closed
    status, error = answer(transport)
    assert status == 408 and "(--body-idle-s)" in error and cuts == ["body_timeout"]


def test_a_complete_request_has_no_deadline_until_its_answer_then_the_next_headers_are_timed():
    proto, transport, _ = guarded()
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 2\r\n\r\nab")
    proto.on_message_complete()
    assert proto._phase is Phase.APP and proto.loop.armed() == []  # the endpoint's --timeout-s applies
    proto.on_response_complete()
    assert proto._phase is Phase.HEADERS and [t.seconds for t in proto.loop.armed()] == [10.0]
    proto.loop.expire()  # an idle keep-alive connection: closed without an answer
    assert transport.closed and transport.written == b""


def test_connections_past_the_cap_get_503_before_any_byte_when_every_other_one_is_being_answered():
    held = [guarded(max_connections=2)[0]]
    cls = type(held[0])
    held.append(cls())
    held[1].connection_made(FakeTransport())
    for proto in held:  # both requests complete: their endpoints are working, never cut for a newcomer
        proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 2\r\n\r\nab")
        proto.on_message_complete()
    third, transport = cls(), FakeTransport()
    third.connection_made(transport)
    assert transport.closed and answer(transport)[0] == 503 and third.loop.armed() == []
    assert not any(p.transport.closed for p in held)


def _connect(cls):
    proto, transport = cls(), FakeTransport()
    proto.connection_made(transport)
    return proto, transport


def test_a_full_server_gives_the_slot_of_the_least_progress_to_a_new_connection():
    """Idle keep-alive first (closed without a word, as its keep-alive timeout would), then the
    slowest sender by bytes per second, headers or body; a request being answered is never cut."""
    idle, idle_t, cuts = guarded(max_connections=4)
    cls = type(idle)
    idle.data_received(b"GET /healthz HTTP/1.1\r\n\r\n")
    idle.on_message_complete()
    idle.answered()  # now idle between requests
    slow_headers, slow_headers_t = _connect(cls)
    slow_headers.data_received(b"POST ")
    slow_body, slow_body_t = _connect(cls)
    slow_body.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 9999\r\n\r\na")
    working, working_t = _connect(cls)
    working.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 2\r\n\r\nab")
    working.on_message_complete()
    idle.loop.advance(3.0)  # 5 bytes in 3 s, 67 bytes in 3 s; no deadline has passed yet
    assert not any(t.closed for t in (idle_t, slow_headers_t, slow_body_t, working_t))

    first, first_t = _connect(cls)
    assert idle_t.closed and idle_t.written == b"" and cuts == ["reclaimed"] and not first_t.closed
    idle.loop.advance(0.5)
    second, second_t = _connect(cls)  # the fewest bytes per second: the 5 header bytes
    assert slow_headers_t.closed and not slow_body_t.closed and not second_t.closed
    status, error = answer(slow_headers_t)
    assert status == 503 and "this one had sent the least (5 bytes in 3.5 s)" in error
    idle.loop.advance(0.5)
    third, third_t = _connect(cls)
    assert slow_body_t.closed and answer(slow_body_t)[0] == 503 and not third_t.closed
    assert not working_t.closed and cuts == ["reclaimed"] * 3
    idle.loop.advance(2.0)  # the new ones have sent nothing for 2-3 s: the oldest of them goes next
    _connect(cls)
    assert first_t.closed and not second_t.closed and not third_t.closed and not working_t.closed


def test_a_new_connection_ranks_above_one_that_has_trickled_for_seconds():
    """A connection that has just arrived has sent nothing yet; one that has sent a byte every
    few seconds has: the new one keeps its slot, the trickling one gives its slot away."""
    trickle, trickle_t, _ = guarded(max_connections=2, header_timeout_s=60.0)
    cls = type(trickle)
    for byte in b"POST /v1/clas":  # a header byte every second
        trickle.data_received(bytes([byte]))
        trickle.loop.advance(1.0)
    new, new_t = _connect(cls)
    newer, newer_t = _connect(cls)
    assert trickle_t.closed and not new_t.closed and not newer_t.closed


def test_a_body_slower_than_the_minimum_rate_is_cut_once_its_grace_is_spent():
    """One body byte every 5 s is never idle (--body-idle-s 30); it falls behind 1 KB/s as soon
    as its 5 s head start is spent."""
    proto, transport, cuts = guarded()
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 100000\r\n\r\na")
    proto.loop.advance(4.9)
    proto.data_received(b"b")
    assert not transport.closed
    proto.loop.advance(4.9)
    assert transport.closed  # at 5.002 s: 2 bytes owed 2 bytes' time after the head start
    status, error = answer(transport)
    assert status == 408 and cuts == ["body_slow"]
    assert error == "request body slower than 1 KB/s after its first 5 s (2 bytes in 5.0 s; --min-body-rate-kbps)"


def test_an_18_kb_photo_at_1_kb_per_second_is_answered_and_half_that_rate_is_cut():
    """The grace is a head start: a body at exactly the minimum rate stays 5 KB ahead of it for as
    long as it lasts, so an 18 KB photo at 1 KB/s (18 s) is never cut. At 0.5 KB/s the deficit
    catches up with the head start at 10 s."""
    proto, transport, _ = guarded()
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 18432\r\n\r\n")
    for _ in range(18):
        proto.loop.advance(1.0)
        proto.data_received(b"\0" * 1024)
    assert not transport.closed and len(proto.body) == 18 * 1024
    proto.on_message_complete()
    assert proto._phase is Phase.APP and proto.loop.armed() == []

    proto, transport, cuts = guarded()
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 18432\r\n\r\n")
    for _ in range(60):  # 512 bytes at the start of each second, until cut
        if transport.closed:
            break
        proto.data_received(b"\0" * 512)
        proto.loop.advance(1.0)
    assert proto.loop.time() == pytest.approx(10.0) and len(proto.body) == 5 * 1024 and cuts == ["body_slow"]


def test_a_body_that_keeps_the_rate_still_ends_at_its_total_deadline():
    proto, transport, cuts = guarded()
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 20000000\r\n\r\n")
    for _ in range(120):  # 2 KB/s, twice the minimum rate, never idle, until cut
        if transport.closed:
            break
        proto.loop.advance(1.0)
        proto.data_received(b"\0" * 2048)
    status, error = answer(transport)
    assert proto.loop.time() == pytest.approx(60.0) and cuts == ["body_deadline"]
    assert status == 408 and error == "request body not complete within 60 s (--body-timeout-s)"


def test_a_request_answered_before_its_body_ends_is_timed_once_the_body_is_in():
    """A 401, 413 or 503 is sent before the body is read; when the body then ends the connection
    is idle, timed as keep-alive, not held without a deadline as if its answer were coming."""
    proto, transport, _ = guarded()
    proto.data_received(b"POST /v1/classify HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
    proto.answered()  # e.g. 401: the endpoint never read the body
    assert proto._phase is Phase.BODY and len(proto.loop.armed()) == 1  # the body's deadlines still run
    proto.data_received(b"cd")
    proto.on_message_complete()
    assert proto._phase is Phase.HEADERS and [t.seconds for t in proto.loop.armed()] == [10.0]
    proto.loop.expire()
    assert transport.closed and transport.written == b""


def test_malformed_http_is_one_json_line_and_nothing_after_a_cut():
    proto, transport, cuts = guarded()
    proto.send_400_response("Invalid HTTP request received.")
    status, error = answer(transport)
    assert status == 400 and error == "malformed HTTP request (invalid http request received)" and transport.closed
    before = transport.written
    proto.send_400_response("again")  # the parser's error after the guard cut: already answered
    assert transport.written == before and cuts == ["malformed"]
