"""The service's endpoints, one function each, reading what they serve from ``app.state.serve``
(a ServeState) so that each can be called, and tested, on its own."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sportsedge.core.errors import ImageTooLarge, InputError, ModelError, UsageError
from sportsedge.runtime.decoder import DecoderCrashed, DecodeTimeout
from sportsedge.serve.config import ServeConfig
from sportsedge.serve.http import BUSY, BodyBudget, HTTPError, image_bytes, json_response, printable, read_body
from sportsedge.serve.modelfile import check_model_file
from sportsedge.serve.openapi import OPENAPI
from sportsedge.serve.page import PAGE
from sportsedge.serve.pool import InferencePool, QueueFull
from sportsedge.serve.prometheus import Metrics
from sportsedge.util.memory import trim_soon

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from sportsedge.serve.pool import Served

log = logging.getLogger("sportsedge.serve")

TRIM_FROM_BYTES = 1 << 20  # a body this large gets its heap pages handed back after it (util/memory.py)
# What an image the decoders refused answers (any other bad image: 400).
DECODE_STATUS: dict[type[InputError], int] = {ImageTooLarge: 413, DecoderCrashed: 422, DecodeTimeout: 504}


@dataclass(frozen=True)
class ServeState:
    """What the endpoints serve: set once on ``app.state.serve`` by build_app."""

    pool: InferencePool  # the workers and the served model (swapped on reload)
    config: ServeConfig  # the server's settings
    metrics: Metrics  # the Prometheus registry and its instruments
    camera: Any = None  # a CameraService, or None without --camera
    stopping: asyncio.Event | None = None  # set on SIGTERM: the event streams end
    state: Any = None  # a StateDir with --state-dir (serve/state.py), else None
    bodies: BodyBudget | None = None  # request body bytes held across connections (--max-bodies-mb)


def state(request: Any) -> ServeState:
    """What the app serves (build_app put it on ``app.state.serve``)."""
    served: ServeState = request.app.state.serve
    return served


async def reload_served(
    pool: InferencePool,
    path: str | Path | None,
    config: ServeConfig,
    metrics: Metrics,
    camera: Any = None,
    state_dir: Any = None,
) -> Served:
    """Reload (POST /v1/models/reload and SIGHUP): swap in ``path`` (default: the served file)
    if its golden check passes, count the result, move the camera to it and log one line;
    ModelError when it failed, the old model still serving."""
    try:
        # the file's stat and first bytes first: a client's 3 GB file or device is never read
        await asyncio.to_thread(check_model_file, path or pool.home)
        served = await asyncio.to_thread(pool.reload, path, config)
    except ModelError as err:
        metrics.reloads.labels("failed").inc()
        log.error("reload failed, still serving %s: %s", pool.served.path, printable(str(err)))  # one log line
        raise
    finally:
        trim_soon()  # the old interpreters' and the file reads' memory back to the system
    metrics.reloads.labels("swapped").inc()
    # announced before the state dir records it: a restart after a kill serves only announced models
    log.warning("reloaded %s (sha256 %s)", served.path, served.sha256[:12])
    if state_dir is not None:  # --state-dir: a restart serves this file, or this copy of it
        try:
            await asyncio.to_thread(state_dir.remember, served, served.path, config.model)
        except UsageError as err:  # the swap stands; only the restart's memory of it is lost
            log.error("%s", err)
    if camera is not None:
        camera.use_model(served.path)
    return served


async def classify(request: Request) -> Response:
    """POST /v1/classify: the image's top-k classes (503 busy or not ready, 504 past --timeout-s)."""
    s = state(request)
    served = s.pool.served
    if not served.ready:
        raise HTTPError(503, f"not ready: {served.reason}", {"Retry-After": "5"})
    top_k = _top_k(request)
    data, held = await image_bytes(request, s.config.max_body_bytes, s.bodies)
    try:
        return await _answer(s, data, top_k)
    finally:
        if s.bodies is not None:
            s.bodies.give(held)
        if held >= TRIM_FROM_BYTES:  # its 64 KB chunks sit in the heap, free but resident, until trimmed
            trim_soon()


async def _answer(s: ServeState, data: bytes, top_k: int) -> Response:
    """The classify answer for one image's bytes, within --timeout-s of now."""
    pool, config, metrics = s.pool, s.config, s.metrics
    t0 = time.perf_counter()  # --timeout-s counts from the complete body: a slow upload is answered
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
    except InputError as err:  # refused from its header, or by its decoder process (runtime/decoder.py)
        status = next((code for kind, code in DECODE_STATUS.items() if isinstance(err, kind)), 400)
        raise HTTPError(status, err.reason if err.path == "<image bytes>" else str(err)) from err
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - t0
    metrics.observe("request", elapsed)
    return json_response(200, {**result, "end_to_end_ms": round(1000 * elapsed, 3)})


async def models(request: Request) -> Response:
    """GET /v1/models: what is served, and how it was checked."""
    pool, config = state(request).pool, state(request).config
    served = pool.served
    clf = served.classifiers[0]
    meta = clf.metadata
    golden = served.golden
    return json_response(
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


async def reload(request: Request) -> Response:
    """POST /v1/models/reload: swap in the file (or another) if its golden check passes."""
    s = state(request)
    body = await read_body(request, RELOAD_BODY_BYTES, source="a reload body holds a path: 64 KB at most")
    path = None
    if body.strip():
        try:
            path = json.loads(body).get("path")
        except (ValueError, AttributeError, RecursionError) as err:  # RecursionError: [[[[...]]]] nested deep
            raise HTTPError(400, 'reload takes an empty body or {"path": "model file"}') from err
        if path is not None and (not isinstance(path, str) or not path.strip()):
            kind = "an empty string" if isinstance(path, str) else f"a JSON {_JSON_KINDS.get(type(path), 'value')}"
            raise HTTPError(422, f'reload failed: "path" must be a file name (a string), got {kind}')
    try:
        served = await reload_served(s.pool, path, s.config, s.metrics, s.camera, state_dir=s.state)
    except ModelError as err:
        raise HTTPError(422, f"reload failed, still serving {s.pool.served.path}: {err}") from err
    return json_response(200, {"reloaded": printable(str(served.path)), "sha256": served.sha256})


RELOAD_BODY_BYTES = 64 * 1024  # {"path": ...}: a path is at most 4 KB
_JSON_KINDS = {bool: "true or false", int: "number", float: "number", list: "array", dict: "object"}


async def healthz(request: Request) -> Response:
    """GET /healthz: the process answers (no token needed)."""
    return json_response(200, {"status": "alive"})


async def readyz(request: Request) -> Response:
    """GET /readyz: 200 once the model (and the camera, if any) work."""
    served, camera = state(request).pool.served, state(request).camera
    if not served.ready:
        return json_response(503, {"ready": False, "error": served.reason})
    if camera is not None and camera.error is not None:
        return json_response(503, {"ready": False, "error": f"camera {camera.device}: {camera.error}"})
    return json_response(200, {"ready": True, "model": str(served.path)})


def _camera(request: Request) -> Any:
    camera = state(request).camera
    if camera is None:
        raise HTTPError(404, "no camera here (start the server with --camera DEVICE)")
    return camera


async def camera_latest(request: Request) -> Response:
    """GET /v1/camera/latest: the camera's newest label."""
    return json_response(200, _camera(request).latest())


async def camera_events(request: Request) -> Response:
    """GET /v1/camera/events: server-sent events, one per label change, until SIGTERM."""
    from starlette.responses import StreamingResponse

    cam, stopping = _camera(request), state(request).stopping
    q = cam.subscribe()

    async def stream() -> AsyncIterator[str]:
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


async def prometheus(request: Request) -> Response:
    """GET /metrics: Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.responses import Response

    return Response(generate_latest(state(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def page(request: Request) -> Response:
    """GET /: the page (no token needed: it holds no data)."""
    from starlette.responses import HTMLResponse

    return HTMLResponse(PAGE)


async def favicon(request: Request) -> Response:
    """GET /favicon.ico: no icon (204), without the token, so a browser's page load logs no 401."""
    from starlette.responses import Response

    return Response(status_code=204)


async def openapi(request: Request) -> Response:
    """GET /openapi.json."""
    return json_response(200, OPENAPI)


async def starlette_error(request: Request, exc: Any) -> Response:
    """Starlette's own 404/405, as our JSON errors."""
    text = {404: f"no such endpoint: {request.method} {request.url.path}", 405: "method not allowed here"}
    return json_response(exc.status_code, {"error": text.get(exc.status_code, str(exc.detail))})


def _top_k(request: Request) -> int:
    text = request.query_params.get("top_k", "5")
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses; and few of them: int()
    # refuses over 4,300 digits (ValueError), and no model has a million classes
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > 6 or int(text) < 1:
        shown = text if len(text) <= 20 else f"{text[:20]}... ({len(text):,} characters)"
        raise HTTPError(400, f"top_k must be a whole number from 1 to {MAX_TOP_K:,}, got {shown!r}")
    return int(text)


MAX_TOP_K = 999_999  # six digits
