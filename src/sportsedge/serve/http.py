"""HTTP plumbing of the service: JSON errors, bounded bodies, the image of a request.

Every error is a JSON object {"error": one line}; nothing a client sends can make a traceback
reach it or the log.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sportsedge.util.memory import trim_soon

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Message

log = logging.getLogger("sportsedge.serve")
RAW_TYPES = ("application/octet-stream",)  # plus every image/* type: Pillow recognises the bytes
# Without the token: a supervisor's liveness probe, and the page itself, which holds no data (a
# browser cannot send a bearer header when it opens a page; the page sends the token from its
# URL's fragment, which never leaves the browser, with every request it makes).
OPEN = ("/healthz", "/", "/favicon.ico")  # the browser asks for the icon without the token
BUSY = "busy: every worker is taken and the queue is full"
CLASSIFY = "/v1/classify"
# Counted when the client closed the connection before its answer (nginx's "client closed request"):
# never sent (nobody is there to read it), never a 500.
CLIENT_GONE = 499


class HTTPError(Exception):
    """An answer other than 200, as a JSON error: status, one line, headers."""

    def __init__(self, status: int, message: str, headers: dict[str, Any] | None = None):
        message = printable(message)  # a lone surrogate from a client's JSON would fail the answer's UTF-8
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def printable(text: str) -> str:
    """``text`` as one line that UTF-8 can encode: line breaks and other control characters (a
    client's path may hold them: a forged log line) and what UTF-8 cannot encode (lone surrogates:
    "\\ud800" in a client's JSON, a file name's undecodable bytes) written as backslash escapes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # str.splitlines() breaks at several of these


def json_response(status: int, body: dict[str, Any], headers: dict[str, Any] | None = None) -> Response:
    """A JSON answer."""
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers=headers)


class BodyBudget:
    """Bytes of request bodies held at once, across every connection (--max-bodies-mb): many slow
    uploads, each under --max-body-mb and never silent long enough for --body-idle-s, would
    otherwise hold max-connections x max-body-mb. The event loop is the only user: no lock."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0

    def take(self, size: int) -> None:
        """Count ``size`` more bytes held; 503 (busy, retry) past the limit."""
        if self.held + size > self.limit:
            raise HTTPError(
                503, f"busy: {self.limit:,} bytes of request bodies in flight (--max-bodies-mb)", {"Retry-After": "1"}
            )
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size


async def read_body(
    request: Request, limit: int, budget: BodyBudget | None = None, source: str = "--max-body-mb"
) -> bytes:
    """The body, reading no further than ``limit`` bytes (413 past it, naming ``source``: where the
    limit comes from); its bytes are counted in ``budget`` while they are read (the caller gives
    them back: see held_body)."""
    declared = request.headers.get("content-length")
    # a declared length is compared by its digits' count first: int() refuses over 4,300 of them
    if declared is not None and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        shown = f"{int(declared):,}" if len(declared) <= 18 else "over 10^18"
        raise HTTPError(413, f"body of {shown} bytes is over the limit of {limit:,} bytes ({source})")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, f"body is over the limit of {limit:,} bytes ({source})")
            if budget is not None:
                budget.take(len(chunk))
            chunks.append(chunk)
    except BaseException:
        if budget is not None:
            budget.give(sum(map(len, chunks)))
        if size >= 1 << 20:  # a large refused body's chunks: free, but resident until trimmed
            trim_soon()
        raise
    return b"".join(chunks)


async def image_bytes(request: Request, limit: int, budget: BodyBudget | None = None) -> tuple[bytes, int]:
    """(the image of a classify request: the raw body or the one file of a multipart form, the
    bytes of its body still counted in ``budget``: the caller gives them back when it is done)."""

    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype.startswith("image/") or ctype in RAW_TYPES or ctype == "multipart/form-data"):
        raise HTTPError(
            415, f"unsupported content type {ctype or '(none)'!r}: send an image/* body or a multipart form"
        )
    body = await read_body(request, limit, budget)
    if ctype != "multipart/form-data":
        return body, len(body)
    try:
        return await _form_file(request, body, limit), len(body)
    except BaseException:
        if budget is not None:
            budget.give(len(body))
        raise


async def _form_file(request: Request, body: bytes, limit: int) -> bytes:
    """The one file of a multipart form whose whole body is ``body``."""
    from starlette.requests import Request

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=4, max_part_size=limit)
    except Exception as err:  # python-multipart's and Starlette's parse errors come in several types
        raise HTTPError(400, f"unreadable multipart form ({type(err).__name__})") from err
    files = [v for v in form.values() if hasattr(v, "read")]
    if not files:
        raise HTTPError(400, "the multipart form holds no file (send the image as a file field)")
    return await files[0].read()


def answered(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint whose every failure is a JSON answer: HTTPError as given, anything else a 500
    with one log line (a traceback only with SPORTSEDGE_DEBUG=1). Starlette's own handler for
    Exception would answer and then re-raise, and uvicorn would log the traceback."""

    from starlette.requests import ClientDisconnect

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ClientDisconnect:
            return json_response(CLIENT_GONE, {"error": "the client closed the connection"})
        except HTTPError as err:
            return json_response(err.status, {"error": err.message}, err.headers)
        except Exception as err:
            log.error("internal error on %s: %s: %s", request.url.path, type(err).__name__, str(err)[:200])
            if os.environ.get("SPORTSEDGE_DEBUG"):
                log.exception("traceback")
            return json_response(500, {"error": f"internal error ({type(err).__name__}); see the server's log"})

    return run
