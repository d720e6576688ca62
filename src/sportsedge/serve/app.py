"""The HTTP application: routes, auth, limits and errors (Starlette).

Every error is a JSON object {"error": one line}; nothing a client sends can make a traceback
reach it or the log. The token is compared in constant time and never logged or counted.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from typing import Any

from sportsedge.core.errors import InputError, ModelError
from sportsedge.serve.config import ServeConfig
from sportsedge.serve.openapi import OPENAPI
from sportsedge.serve.page import PAGE
from sportsedge.serve.pool import InferencePool, QueueFull
from sportsedge.serve.prometheus import Metrics

log = logging.getLogger("sportsedge.serve")
RAW_TYPES = ("application/octet-stream",)  # plus every image/* type: Pillow recognises the bytes
# Without the token: a supervisor's liveness probe, and the page itself, which holds no data (a
# browser cannot send a bearer header when it opens a page; the page sends the token from its
# URL's fragment, which never leaves the browser, with every request it makes).
OPEN = ("/healthz", "/")
BUSY = "busy: every worker is taken and the queue is full"
CLASSIFY = "/v1/classify"


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _json(status: int, body: dict, headers: dict | None = None):
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers=headers)


async def read_body(request, limit: int) -> bytes:
    """The body, reading no further than ``limit`` bytes (413 past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"body of {int(declared):,} bytes is over the limit of {limit:,} (--max-body-mb)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"body is over the limit of {limit:,} bytes (--max-body-mb)")
        chunks.append(chunk)
    return b"".join(chunks)


async def image_bytes(request, limit: int) -> bytes:
    """The image of a classify request: the raw body, or the one file of a multipart form."""
    from starlette.requests import Request

    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype.startswith("image/") or ctype in RAW_TYPES or ctype == "multipart/form-data"):
        raise HTTPError(
            415, f"unsupported content type {ctype or '(none)'!r}: send an image/* body or a multipart form"
        )
    body = await read_body(request, limit)
    if ctype != "multipart/form-data":
        return body

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=4, max_part_size=limit)
    except Exception as err:  # python-multipart's and Starlette's parse errors come in several types
        raise HTTPError(400, f"unreadable multipart form ({type(err).__name__})") from err
    files = [v for v in form.values() if hasattr(v, "read")]
    if not files:
        raise HTTPError(400, "the multipart form holds no file (send the image as a file field)")
    return await files[0].read()


async def reload_served(pool: InferencePool, path, config: ServeConfig, metrics: Metrics, camera=None):
    """Reload (POST /v1/models/reload and SIGHUP): swap in ``path`` (default: the served file)
    if its golden check passes, count the result, move the camera to it and log one line;
    ModelError when it failed, the old model still serving."""
    try:
        served = await asyncio.to_thread(pool.reload, path, config)
    except ModelError as err:
        metrics.reloads.labels("failed").inc()
        log.error("reload failed, still serving %s: %s", pool.served.path, err)
        raise
    metrics.reloads.labels("swapped").inc()
    if camera is not None:
        camera.use_model(served.path)
    log.warning("reloaded %s (sha256 %s)", served.path, served.sha256[:12])
    return served


def answered(endpoint):
    """An endpoint whose every failure is a JSON answer: HTTPError as given, anything else a 500
    with one log line (a traceback only with SPORTSEDGE_DEBUG=1). Starlette's own handler for
    Exception would answer and then re-raise, and uvicorn would log the traceback."""

    async def run(request):
        try:
            return await endpoint(request)
        except HTTPError as err:
            return _json(err.status, {"error": err.message}, err.headers)
        except Exception as err:
            log.error("internal error on %s: %s: %s", request.url.path, type(err).__name__, str(err)[:200])
            if os.environ.get("SPORTSEDGE_DEBUG"):
                log.exception("traceback")
            return _json(500, {"error": f"internal error ({type(err).__name__}); see the server's log"})

    return run


def _top_k(request) -> int:
    text = request.query_params.get("top_k", "5")
    if not text.isdigit() or int(text) < 1:
        raise HTTPError(400, f"top_k must be a whole number of at least 1, got {text!r}")
    return int(text)


def build_app(
    pool: InferencePool, config: ServeConfig, metrics: Metrics, token: str | None, camera=None, stopping=None
):
    """``camera``: a CameraService or None; ``stopping``: an asyncio.Event set on SIGTERM (ends
    the event streams, so the drain does not wait for them)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import HTMLResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def classify(request):
        t0 = time.perf_counter()
        served = pool.served
        if not served.ready:
            raise HTTPError(503, f"not ready: {served.reason}", {"Retry-After": "5"})
        top_k = _top_k(request)
        data = await image_bytes(request, config.max_body_bytes)
        try:
            future = pool.submit(data, top_k)
        except QueueFull as err:
            raise HTTPError(503, BUSY, {"Retry-After": "1"}) from err
        remaining = config.timeout_s - (time.perf_counter() - t0)
        answer = asyncio.wrap_future(future)  # a timer, not wait_for: no extra task per request
        late = []
        timer = asyncio.get_running_loop().call_later(max(remaining, 0.001), lambda: late.append(answer.cancel()))
        try:
            result = await answer
        except asyncio.CancelledError as err:
            if not late:  # the client went away: not ours to answer
                raise
            raise HTTPError(504, f"no answer within {config.timeout_s:g} s (--timeout-s)") from err
        except InputError as err:
            raise HTTPError(400, err.reason if err.path == "<image bytes>" else str(err)) from err
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - t0
        metrics.observe("request", elapsed)
        return _json(200, {**result, "end_to_end_ms": round(1000 * elapsed, 3)})

    async def models(request):
        served = pool.served
        clf = served.classifiers[0]
        meta = clf.metadata
        golden = served.golden
        return _json(
            200,
            {
                "model_name": meta.model_name,
                "path": str(served.path),
                "sha256": served.sha256,
                "format": meta.format,
                "labels": list(clf.labels),
                "input": {"height": clf.input_size[0], "width": clf.input_size[1], "dtype": str(clf.input_dtype)},
                "preprocessing": meta.preprocessing,
                "output": str(meta.output),
                "digest_checked": clf.sealed,
                "golden_check": None
                if golden is None
                else {"ok": golden.ok, "max_diff": golden.max_diff, "allowed": golden.atol, "inputs": golden.inputs},
                "ready": served.ready,
                "loaded_at": served.loaded_at,
                "workers": config.workers,
                "threads_per_worker": config.threads,
            },
        )

    async def reload(request):
        body = await read_body(request, 64 * 1024)
        path = None
        if body.strip():
            try:
                path = json.loads(body).get("path")
            except (ValueError, AttributeError) as err:
                raise HTTPError(400, 'reload takes an empty body or {"path": "model file"}') from err
        try:
            served = await reload_served(pool, path, config, metrics, camera)
        except ModelError as err:
            raise HTTPError(422, f"reload failed, still serving {pool.served.path}: {err}") from err
        return _json(200, {"reloaded": str(served.path), "sha256": served.sha256})

    async def healthz(request):
        return _json(200, {"status": "alive"})

    async def readyz(request):
        served = pool.served
        if not served.ready:
            return _json(503, {"ready": False, "error": served.reason})
        if camera is not None and camera.error is not None:
            return _json(503, {"ready": False, "error": f"camera {camera.device}: {camera.error}"})
        return _json(200, {"ready": True, "model": str(served.path)})

    def _camera():
        if camera is None:
            raise HTTPError(404, "no camera here (start the server with --camera DEVICE)")
        return camera

    async def camera_latest(request):
        return _json(200, _camera().latest())

    async def camera_events(request):
        cam = _camera()
        q = cam.subscribe()

        async def stream():
            try:
                latest = cam.latest()
                if "label" in latest:  # where things stand, then every change
                    now = {k: latest[k] for k in ("label", "score", "frame_t_s")}
                    yield f"event: label\ndata: {json.dumps(now)}\n\n"
                while stopping is None or not stopping.is_set():
                    try:
                        event = await asyncio.wait_for(q.get(), 1.0)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: label\ndata: {json.dumps(event)}\n\n"
            finally:
                cam.unsubscribe(q)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def prometheus(request):
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def page(request):
        return HTMLResponse(PAGE)

    async def openapi(request):
        return _json(200, OPENAPI)

    async def starlette_error(request, exc: HTTPException):
        text = {404: f"no such endpoint: {request.method} {request.url.path}", 405: "method not allowed here"}
        return _json(exc.status_code, {"error": text.get(exc.status_code, str(exc.detail))})

    routes = [
        Route("/", answered(page)),
        Route("/healthz", answered(healthz)),
        Route("/readyz", answered(readyz)),
        Route("/metrics", answered(prometheus)),
        Route("/openapi.json", answered(openapi)),
        Route("/v1/models", answered(models)),
        Route("/v1/models/reload", answered(reload), methods=["POST"]),
        Route(CLASSIFY, answered(classify), methods=["POST"]),
        Route("/v1/camera/latest", answered(camera_latest)),
        Route("/v1/camera/events", answered(camera_events)),
    ]
    handlers: dict[Any, Any] = {HTTPException: starlette_error}  # Starlette types handlers by Exception
    app = Starlette(routes=routes, exception_handlers=handlers)
    return _Counted(_Guarded(_Refused(app, pool), token), metrics, {r.path for r in routes})


class _Refused:
    """A classify request that finds the queue full, answered 503 before any routing: under
    overload the event loop shares its core with inference, and keep-alive clients that retry at
    once send thousands of these a second, so each one's cost is taken from the admitted ones."""

    BODY = json.dumps({"error": BUSY}).encode()
    HEADERS = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"retry-after", b"1"),
    ]

    def __init__(self, app, pool: InferencePool):
        self.app, self.pool = app, pool

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == CLASSIFY and scope["method"] == "POST" and self.pool.full():
            await send({"type": "http.response.start", "status": 503, "headers": self.HEADERS})
            return await send({"type": "http.response.body", "body": self.BODY})
        return await self.app(scope, receive, send)


class _Guarded:
    """Bearer-token auth on every path but OPEN (ASGI middleware)."""

    def __init__(self, app, token: str | None):
        self.app, self.expected = app, None if token is None else f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.expected is not None and scope["path"] not in OPEN:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = _json(
                    401, {"error": "missing or wrong token (Authorization: Bearer ...)"}, {"WWW-Authenticate": "Bearer"}
                )
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class _Counted:
    """Counts every answer by endpoint (the route template; others as "other") and status."""

    def __init__(self, app, metrics: Metrics, paths: set[str]):
        self.app, self.metrics, self.paths = app, metrics, paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        endpoint = scope["path"] if scope["path"] in self.paths else "other"

        async def counted(message):
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(endpoint, str(message["status"])).inc()
            await send(message)

        return await self.app(scope, receive, counted)
