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
    """call_later that only records: the test decides when time has passed."""

    def __init__(self):
        self.timers = []

    def call_later(self, seconds, callback, *args):
        timer = SimpleNamespace(seconds=seconds, callback=callback, args=args, cancelled=False)
        timer.cancel = lambda: setattr(timer, "cancelled", True)
        self.timers.append(timer)
        return timer

    def armed(self):
        return [t for t in self.timers if not t.cancelled]

    def expire(self):
        """Fire the one armed deadline, as if its seconds had passed."""
        [timer] = self.armed()
        timer.cancelled = True
        timer.callback(*timer.args)
        return timer.seconds


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

    def __init__(self):
        self.loop, self.cycle, self.client, self.url, self.headers = FakeLoop(), None, ("127.0.0.1", 5), b"", []
        self.calls = []

    def connection_made(self, transport):
        self.transport = transport
        self.connections.add(self)

    def connection_lost(self, exc):
        self.connections.discard(self)

    def data_received(self, data):
        self.calls.append(("data", data))
        if b"\r\n\r\n" in data:  # the headers end in this chunk: the parser calls back
            self.url, self.headers = b"/v1/classify", [(b"host", b"x")]
            self.on_headers_complete()

    def on_headers_complete(self):
        self.cycle = SimpleNamespace(response_started=False)

    def on_message_complete(self):
        pass

    def on_response_complete(self):
        pass

    def send_400_response(self, msg):
        raise AssertionError("the guard answers malformed HTTP itself")


def guarded(**limits):
    cuts = []
    settings = {"max_header_bytes": 1000, "header_timeout_s": 10.0, "body_idle_s": 30.0, "max_connections": 4}
    settings.update(limits)
    cls = type("G", (_Guard, FakeUvicorn), {**settings, "count": staticmethod(cuts.append)})
    FakeUvicorn.connections = set()
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
    proto, transport, cuts = guarded()
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


def test_connections_past_the_cap_get_503_before_any_byte():
    held = [guarded(max_connections=2)[0]]
    cls = type(held[0])
    second = cls()
    second.connection_made(FakeTransport())
    third, transport = cls(), FakeTransport()
    third.connection_made(transport)
    assert transport.closed and answer(transport)[0] == 503 and third.loop.armed() == []


def test_malformed_http_is_one_json_line_and_nothing_after_a_cut():
    proto, transport, cuts = guarded()
    proto.send_400_response("Invalid HTTP request received.")
    status, error = answer(transport)
    assert status == 400 and error == "malformed HTTP request (invalid http request received)" and transport.closed
    before = transport.written
    proto.send_400_response("again")  # the parser's error after the guard cut: already answered
    assert transport.written == before and cuts == ["malformed"]
