"""`sportsedge serve` against hostile and faulty clients, spoken to on raw sockets: headers that never
end, silent and stalled connections, malformed HTTP, too many connections, a slow honest upload,
bad parameters and reloads, a client that leaves mid-body. Each answer is one JSON line, nothing
holds the server, nothing counts as a 500. Deadlines are set to a second or two so that the test
waits for them, not for the defaults."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from test_serve import Server, _classify, _jpeg

httpx = pytest.importorskip("httpx")

POST = "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
FAST = ("--header-timeout-s", "1", "--body-idle-s", "1", "--max-connections", "6")


@pytest.fixture
def server(labelled_models):
    s = Server(labelled_models["tflite-int8"], *FAST)
    yield s
    code, err = s.stop()
    assert code == 0 and "Traceback" not in err, err


def _raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """What the server sends back to ``data`` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return _until_closed(s)


def _until_closed(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def _json_error(answer: bytes, status: int) -> str:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"content-type: application/json" in head.lower(), head
    error = json.loads(body)["error"]
    assert "\n" not in error
    return error


def _metric(url: str, name: str, **labels: str) -> float:
    inside = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(f"{name}{{{inside}}} "):
            return float(line.split()[-1])
    return 0.0


def test_a_header_that_never_ends_is_cut_before_1_mb_and_the_server_answers_beside_it(server):
    sent, stop = [0], threading.Event()

    def hog() -> None:
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ")
            try:
                while not stop.is_set() and sent[0] < 64 * 2**20:
                    s.sendall(b"a" * 65536)
                    sent[0] += 65536
            except OSError:  # reset by the server: what we expect
                pass

    thread = threading.Thread(target=hog)
    thread.start()
    assert _classify(server.url, _jpeg("green")).json()["label"] == "green"
    thread.join(30)
    stop.set()
    # the client saw its connection cut long before 64 MB (the kernel's buffers hold a few MB)
    assert sent[0] < 16 * 2**20
    assert _metric(server.url, "sportsedge_connections_cut_total", reason="header_size") == 1


def test_the_header_cap_answers_431_in_json(labelled_models):
    s = Server(labelled_models["tflite-int8"], "--max-header-kb", "8")
    try:
        answer = _raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n")
        assert "over 8,192 bytes (--max-header-kb)" in _json_error(answer, 431)
        assert httpx.get(s.url + "/healthz").status_code == 200  # a normal header is fine
    finally:
        s.stop()


def test_silent_and_stalled_connections_are_closed_and_counted(server):
    assert "headers not complete within 1 s" in _json_error(_raw(server.port, b""), 408)
    trickle = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"  # no end of headers
    assert "(--header-timeout-s)" in _json_error(_raw(server.port, trickle), 408)
    stalled = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 9999\r\n\r\nab"
    assert "no body bytes for 1 s (--body-idle-s)" in _json_error(_raw(server.port, stalled), 408)
    assert _metric(server.url, "sportsedge_connections_cut_total", reason="header_timeout") == 2
    assert _metric(server.url, "sportsedge_connections_cut_total", reason="body_timeout") == 1
    # the endpoint that waited for the stalled body saw its client leave: 499, never a 500
    assert _metric(server.url, "sportsedge_requests_total", endpoint="/v1/classify", status="499") == 1
    assert _metric(server.url, "sportsedge_requests_total", endpoint="/v1/classify", status="500") == 0


def test_a_slow_honest_upload_is_answered(labelled_models):
    """--timeout-s counts from the complete body: 2 s of upload under a 1 s timeout is answered,
    and a body that keeps coming is not stalled however long it takes."""
    s = Server(labelled_models["tflite-int8"], "--timeout-s", "1", "--body-idle-s", "1")
    try:
        photo = _jpeg("blue")
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(f"{POST}Content-Length: {len(photo)}\r\n\r\n".encode())
            step = len(photo) // 8 + 1
            for i in range(0, len(photo), step):
                c.sendall(photo[i : i + step])
                time.sleep(0.25)
            head, _, body = c.recv(65536).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["label"] == "blue"
    finally:
        s.stop()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["two-content-lengths", "bad-chunk-size", "nul-in-path", "method-foo"],
)
def test_malformed_http_is_answered_in_json(server, request_bytes):
    assert "malformed HTTP request" in _json_error(_raw(server.port, request_bytes), 400)


def test_connections_past_the_cap_take_the_slot_of_the_one_that_sent_least(server):
    """The server holds 6 connections (its cap) when an honest client comes: it is answered, and
    the silent one gives its slot (the 503 refusal, when every other connection is being
    answered, is in test_serve_guard.py)."""
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(6)]
    try:
        for s in held[1:]:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")  # headers under way: more progress than held[0]
        time.sleep(0.2)  # the server has accepted them (--header-timeout-s 1 cuts them at 1 s)
        assert _classify(server.url, _jpeg("red")).json()["label"] == "red"
        answer = _until_closed(held[0])
        assert "closed for a new connection at 6 open (--max-connections)" in _json_error(answer, 503)
    finally:
        for s in held:
            s.close()


def test_connections_are_admitted_by_progress(labelled_models, tmp_path):
    """A body that trickles one byte at a time is cut by the rate rule, not kept alive by each
    byte; a server full of idle keep-alive connections gives a slot to a new honest client instead
    of refusing it; a wrong token gets its 401 before any of its body is sent."""
    token = tmp_path / "token"
    token.write_text("s3cret-token-0123456789\n")
    args = ("--body-grace-s", "1", "--max-connections", "4", "--keep-alive-s", "30", "--token-file", str(token))
    s = Server(labelled_models["tflite-int8"], *args)
    auth = "Authorization: Bearer s3cret-token-0123456789\r\n"
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=0.25) as c:
            c.sendall(f"{POST}{auth}Content-Length: 100000\r\n\r\n".encode())
            got = b""
            for _ in range(40):  # a byte every 0.25 s, well within --body-idle-s 30, until cut
                try:
                    got += c.recv(65536)
                    if got.endswith(b"}") or not got:
                        break
                except TimeoutError:
                    c.sendall(b"x")
        assert "slower than 1 KB/s after its first 1 s" in _json_error(got, 408)

        idle = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(4)]
        for c in idle:  # one request each, then idle: the server holds 4 connections, its limit
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _until_closed_or_answer(c).startswith(b"HTTP/1.1 200")
        answer = _classify(s.url, _jpeg("green"), headers={"Authorization": "Bearer s3cret-token-0123456789"})
        assert answer.status_code == 200 and answer.json()["label"] == "green"
        assert idle[0].recv(65536) == b""  # the longest idle gave its slot, closed without a word
        for c in idle:
            c.close()

        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(f"{POST}Authorization: Bearer wrong-token-0123456789\r\nContent-Length: 100000\r\n\r\n".encode())
            assert "missing or wrong token" in _json_error(_until_closed_or_answer(c), 401)  # no body byte sent
        metrics = httpx.get(s.url + "/metrics", headers={"Authorization": "Bearer s3cret-token-0123456789"}).text
        assert 'sportsedge_connections_cut_total{reason="body_slow"} 1.0' in metrics
        assert 'sportsedge_connections_cut_total{reason="reclaimed"}' in metrics
    finally:
        code, err = s.stop()
    assert code == 0 and "Traceback" not in err, err


def test_bad_parameters_and_reloads_are_4xx_json(server, tmp_path):
    photo = _jpeg("red")
    answer = _classify(server.url, photo, params={"top_k": "²"})
    assert answer.status_code == 400 and "top_k must be" in answer.json()["error"]
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    for body, wanted in (
        ({"path": 5}, '"path" must be a file name'),
        ({"path": "/dev/zero"}, "/dev/zero: not a regular file"),
        ({"path": str(fifo)}, "model.tflite: not a regular file"),
    ):
        answer = httpx.post(server.url + "/v1/models/reload", json=body)
        assert answer.status_code == 422 and wanted in answer.json()["error"], answer.text
    assert _classify(server.url, photo).json()["label"] == "red"  # still serving the same model


def test_a_client_that_leaves_mid_body_is_not_a_500(server):
    with socket.create_connection(("127.0.0.1", server.port)) as c:
        c.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\nab"
        )
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _metric(server.url, "sportsedge_requests_total", endpoint="/v1/classify", status="499") == 1:
            break
        time.sleep(0.1)
    assert _metric(server.url, "sportsedge_requests_total", endpoint="/v1/classify", status="499") == 1
    assert _metric(server.url, "sportsedge_requests_total", endpoint="/v1/classify", status="500") == 0


def _png(side: int, depth: int, colour_type: int) -> bytes:
    """A side x side PNG of one repeated row (a few MB on the wire however large it decodes)."""
    bands = {0: 1, 2: 3, 6: 4}[colour_type]
    width = side * bands * depth // 8
    row = b"\0" + (bytes(range(256)) * (width // 256 + 1))[:width]
    pack = zlib.compressobj(1)
    idat = b"".join(pack.compress(row) for _ in range(side)) + pack.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _peak_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of a process, from /proc, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def test_memory_per_request_is_bounded_by_the_decode_budget(labelled_models):
    """A 9400x9400 16-bit RGBA PNG (674 MB to decode) is refused from its header, 413, before any
    decoding; one a quarter the size (2350 px, 42 MB) is classified, and the server process never
    holds the decoded image (its decoders do: tests/test_serve_decoding.py)."""
    s = Server(labelled_models["tflite-int8"])
    try:
        answer = _classify(s.url, _png(9400, 16, 6), "image/png")
        assert answer.status_code == 413 and "over the budget of 256 MB" in answer.json()["error"]
        assert _peak_mb(s.proc.pid)[0] < 200  # refused before decoding
        answers: list[int] = []
        two = [
            threading.Thread(
                target=lambda: answers.append(_classify(s.url, _png(2350, 16, 6), "image/png", timeout=60).status_code)
            )
            for _ in range(2)
        ]
        for t in two:
            t.start()
        for t in two:
            t.join()
        assert answers == [200, 200]
        peak, now = _peak_mb(s.proc.pid)
        assert peak < 250, peak
        assert now < 200, f"{now:.0f} MB still resident after the requests"
    finally:
        s.stop()


def test_a_restart_serves_the_reloaded_path_and_survives_a_bad_in_place_update(labelled_models, tmp_path):
    """--state-dir: a model reloaded by path is served again after a restart; when that file is
    then damaged in place, the restart serves the last verified copy and says so in one line."""
    first = tmp_path / "first.tflite"
    second = tmp_path / "second.onnx"
    shutil.copy(labelled_models["tflite-int8"], first)
    shutil.copy(labelled_models["onnx-fp32"], second)
    state = tmp_path / "state"
    s = Server(first, "--state-dir", str(state))
    assert httpx.post(s.url + "/v1/models/reload", json={"path": str(second)}).status_code == 200
    s.stop()
    s = Server(first, "--state-dir", str(state))
    assert httpx.get(s.url + "/v1/models").json()["path"] == str(second)
    _, err = s.stop()
    assert f"serving {second}, reloaded before the restart (--state-dir)" in err
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a damaged copy over the served file
    second.write_bytes(bytes(data))
    s = Server(first, "--state-dir", str(state))
    try:
        meta = httpx.get(s.url + "/v1/models").json()
        assert meta["path"] == str(state / f"model-{meta['sha256']}.onnx") and meta["ready"]
        assert _classify(s.url, _jpeg("green")).json()["label"] == "green"
    finally:
        _, err = s.stop()
    warning = next(line for line in err.splitlines() if line.startswith("warning:"))
    assert str(second) in warning and "serving the last verified copy" in warning


def test_the_favicon_needs_no_token_and_a_bad_host_names_host(labelled_models, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token-0123456789\n")
    s = Server(labelled_models["tflite-int8"], "--token-file", str(token))
    try:
        assert httpx.get(s.url + "/favicon.ico").status_code == 204  # a browser's page load logs no 401
        assert httpx.get(s.url + "/v1/models").status_code == 401
    finally:
        s.stop()
    proc = subprocess.run(
        [sys.executable, "-m", "sportsedge", "serve", str(labelled_models["tflite-int8"]), "--host", "192.0.2.1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot listen on 192.0.2.1:8080" in proc.stderr and "--host" in proc.stderr and "--port" not in proc.stderr


def test_slow_uploads_together_cannot_hold_more_than_the_bodies_budget(labelled_models):
    """Uploads that keep trickling are never idle; --max-bodies-mb bounds what they hold together:
    past it the next body is refused 503 with Retry-After, and the held bytes come back."""
    s = Server(labelled_models["tflite-int8"], "--max-bodies-mb", "0.1", "--body-idle-s", "20")
    try:
        head = f"{POST}Content-Length: 200000\r\n\r\n".encode()
        first = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        first.sendall(head + b"\0" * 80_000)  # 80 KB held, the body not finished
        time.sleep(0.3)
        second = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        second.sendall(head + b"\0" * 40_000)  # 120 KB together: over 100 KB
        assert "(--max-bodies-mb)" in _json_error(_until_closed_or_answer(second), 503)
        second.close()
        first.close()
        time.sleep(0.3)  # the first one's bytes are given back when it goes
        assert _classify(s.url, _jpeg("red")).json()["label"] == "red"
    finally:
        s.stop()


def _until_closed_or_answer(s: socket.socket) -> bytes:
    """One whole answer (the server answers before the body ends, then may keep reading)."""
    out = b""
    while b"\r\n\r\n" not in out or len(out.partition(b"\r\n\r\n")[2]) < _length(out):
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_state_dir_that_cannot_be_written_stops_the_start_in_one_line(labelled_models, tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    argv = ["serve", str(labelled_models["tflite-int8"]), "--state-dir", str(taken / "state")]
    proc = subprocess.run([sys.executable, "-m", "sportsedge", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: cannot keep the model in --state-dir {taken / 'state'}")


def test_a_websocket_upgrade_is_answered_in_json(server):
    handshake = (
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert "no WebSocket here" in _json_error(_raw(server.port, handshake), 400)
    assert _metric(server.url, "sportsedge_requests_total", endpoint="/v1/models", status="400") == 1
