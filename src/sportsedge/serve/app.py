"""The HTTP application: the route table and the middleware for auth, overload and counting
(Starlette). The token is compared in constant time and never logged or counted.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from sportsedge.serve import endpoints as ep
from sportsedge.serve.config import ServeConfig
from sportsedge.serve.endpoints import ServeState, reload_served
from sportsedge.serve.http import BUSY, CLASSIFY, OPEN, BodyBudget, answered, json_response
from sportsedge.serve.pool import InferencePool
from sportsedge.serve.prometheus import Metrics

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["build_app", "reload_served"]
access = logging.getLogger("sportsedge.access")

# path -> (endpoint, methods): the whole API (docs/serve.md and serve/openapi.py describe it).
ROUTES = {
    "/": (ep.page, ("GET",)),
    "/favicon.ico": (ep.favicon, ("GET",)),
    "/healthz": (ep.healthz, ("GET",)),
    "/readyz": (ep.readyz, ("GET",)),
    "/metrics": (ep.prometheus, ("GET",)),
    "/openapi.json": (ep.openapi, ("GET",)),
    "/v1/models": (ep.models, ("GET",)),
    "/v1/models/reload": (ep.reload, ("POST",)),
    CLASSIFY: (ep.classify, ("POST",)),
    "/v1/camera/latest": (ep.camera_latest, ("GET",)),
    "/v1/camera/events": (ep.camera_events, ("GET",)),
}


def build_app(
    pool: InferencePool,
    config: ServeConfig,
    metrics: Metrics,
    token: str | None,
    camera: Any = None,
    stopping: Any = None,
    state: Any = None,
) -> Any:
    """The ASGI application of `sportsedge serve`.

    Args:
        pool: the inference workers and the model they serve.
        config: the server's settings (limits, timeouts).
        metrics: the Prometheus instruments every answer is counted in.
        token: the bearer token every path but /healthz and / requires; None = no auth.
        camera: a CameraService for the /v1/camera endpoints, or None.
        stopping: an asyncio.Event set on SIGTERM (ends the event streams, so the drain does not
            wait for them).
        state: a StateDir (--state-dir) that every successful reload is recorded in, or None.

    Returns:
        The app, wrapped in the overload, auth and counting middleware.
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    routes = [Route(path, answered(endpoint), methods=list(methods)) for path, (endpoint, methods) in ROUTES.items()]
    handlers: dict[Any, Any] = {HTTPException: ep.starlette_error}  # Starlette types handlers by Exception
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.serve = ServeState(pool, config, metrics, camera, stopping, state, BodyBudget(config.max_bodies_bytes))
    counted = _Counted(_NoWebSocket(_Guarded(_Refused(app, pool), token)), metrics, set(ROUTES))
    return _AccessLog(counted) if config.access_log else counted


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

    def __init__(self, app: ASGIApp, pool: InferencePool) -> None:
        self.app, self.pool = app, pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CLASSIFY and scope["method"] == "POST" and self.pool.full():
            await send({"type": "http.response.start", "status": 503, "headers": self.HEADERS})
            return await send({"type": "http.response.body", "body": self.BODY})
        return await self.app(scope, receive, send)


class _Guarded:
    """Bearer-token auth on every path but OPEN (ASGI middleware)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.expected = app, None if token is None else f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.expected is not None and scope["path"] not in OPEN:
            given = [value for name, value in scope["headers"] if name == b"authorization"]
            # two headers are refused, whichever holds the token: proxies and frameworks disagree on which one counts
            if len(given) != 1 or not hmac.compare_digest(given[0], self.expected):
                error = "missing or wrong token (Authorization: Bearer ...)"
                if len(given) > 1:
                    error = f"{len(given)} Authorization headers: send one (Authorization: Bearer ...)"
                response = json_response(401, {"error": error}, {"WWW-Authenticate": "Bearer"})
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class _NoWebSocket:
    """A WebSocket handshake answered in JSON like any refusal (uvicorn's own is a 403 with an
    empty body): the API is plain HTTP. Where uvicorn has a WebSocket library it hands the
    handshake over as a "websocket" scope (answered through the denial-response extension);
    without one (the runtime install) it arrives as plain HTTP with an Upgrade header."""

    BODY = json.dumps({"error": "no WebSocket here: this API is plain HTTP (docs/serve.md)"}).encode()
    HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _upgrade(scope) == b"websocket":
            await send({"type": "http.response.start", "status": 400, "headers": self.HEADERS})
            return await send({"type": "http.response.body", "body": self.BODY})
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        await receive()  # websocket.connect
        if "websocket.http.response" not in scope.get("extensions", {}):
            return await send({"type": "websocket.close", "code": 1008})
        await send({"type": "websocket.http.response.start", "status": 400, "headers": self.HEADERS})
        return await send({"type": "websocket.http.response.body", "body": self.BODY})


def _upgrade(scope: Scope) -> bytes:
    """The request's Upgrade header, lowercased (empty without one)."""
    return next((v.lower() for k, v in scope.get("headers", ()) if k == b"upgrade"), b"")


class _Counted:
    """Counts every answer by endpoint (the route template; others as "other") and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, paths: set[str]) -> None:
        self.app, self.metrics, self.paths = app, metrics, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # a refused WebSocket handshake is an answer too
            return await self.app(scope, receive, send)
        endpoint = scope["path"] if scope["path"] in self.paths else "other"

        async def counted(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                self.metrics.requests.labels(endpoint, str(message["status"])).inc()
            await send(message)

        return await self.app(scope, receive, counted)


class _AccessLog:
    """--access-log: one line per answer on stderr: method, path, status, milliseconds, body bytes.
    Never the query string, a header (the token) or a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status, size = time.perf_counter(), 0, 0

        async def logged(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged)
        finally:
            ms = 1000 * (time.perf_counter() - t0)
            access.info("%s %s %d %.1fms %dB", scope["method"], scope["path"], status, ms, size)
