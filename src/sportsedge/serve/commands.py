"""Handler of `sportsedge serve`: load and check the model, then run uvicorn until SIGTERM/Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sportsedge.core.errors import ModelError, UsageError, in_words
from sportsedge.serve import require_serve
from sportsedge.serve.config import ServeConfig

log = logging.getLogger("sportsedge.serve")


def read_token(path: str | None) -> str | None:
    """The bearer token: the first line of ``path`` (at least 16 characters), or None without a file."""
    if path is None:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: cannot read the token file: not UTF-8 text") from err
    except OSError as err:
        raise UsageError(f"{path}: cannot read the token file: {in_words(err)}") from err
    token = lines[0].strip() if lines else ""
    if len(token) < 16:
        raise UsageError(f"{path}: the token (its first line) must be at least 16 characters")
    return token


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything else is loaded: a port that is taken,
    or an address that is not this machine's, is one line naming it (uvicorn would log an ERROR
    line and exit by itself)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as err:
        raise UsageError(f"cannot listen on {host}:{port}: not an address of this machine ({err.strerror})") from err
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts bind at once
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            why = "the port is taken by another program (choose another with --port)"
        else:  # EADDRNOTAVAIL and the like: the address, not the port
            why = f"{err.strerror} (give an address of this machine with --host, or 0.0.0.0 for all)"
        raise UsageError(f"cannot listen on {host}:{port}: {why}") from err
    return sock


def serve_cmd(args: argparse.Namespace) -> int:
    """`sportsedge serve`: load and check the model, then serve until SIGTERM (exit 0)."""
    require_serve()
    from sportsedge.core.options import from_args

    config = from_args(ServeConfig, args)
    token = read_token(config.token_file)
    sock = listen(config.host, config.port)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if config.access_log:
        logging.getLogger("sportsedge.access").setLevel(logging.INFO)
    if not config.loopback and token is None:
        print(
            f"warning: serving on {config.host} without --token-file: anyone who reaches port {config.port} "
            "can use and reload the model",
            file=sys.stderr,
            flush=True,
        )
    return _run(_serve(config, token, sock))


def _run(main: Coroutine[Any, Any, int]) -> int:
    """asyncio.run on uvloop when installed (the serve extra has it). uvicorn picks uvloop only
    for a loop it starts itself; this process starts its own loop, so it chooses here."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result: int = loop.run_until_complete(main)
        return result
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _first_model(config: ServeConfig, state: Any) -> tuple[Any, Path]:
    """(the Served to start with, the file it stands for), recorded in ``state`` when it passed."""
    from sportsedge.serve.state import first_served

    served, source = first_served(config, state, _say)
    if state is not None and served.ready:
        state.remember(served, source, config.model)
    if not served.ready:
        _say(f"warning: {served.reason}; /readyz answers 503 until a reload passes")
    return served, source


async def _serve(config: ServeConfig, token: str | None, sock: socket.socket) -> int:
    import uvicorn

    from sportsedge.serve.uvicorn_private import server_class

    _Server = server_class()
    from sportsedge.serve.app import build_app, reload_served
    from sportsedge.serve.guard import guarded_protocol
    from sportsedge.serve.pool import InferencePool
    from sportsedge.serve.prometheus import make_metrics
    from sportsedge.serve.state import StateDir
    from sportsedge.util.memory import return_large_allocations

    return_large_allocations()  # a large image's memory goes back when its request ends

    state = StateDir(config.state_dir) if config.state_dir else None
    served, source = await asyncio.to_thread(_first_model, config, state)
    holder: list[InferencePool] = []
    metrics = make_metrics(lambda: holder[0].depth() if holder else 0)
    pool = InferencePool(served, config, observe=metrics.observe)
    pool.home = source  # a fallback copy stands in for the file: a reload without a path tries the file
    holder.append(pool)
    camera = None
    if config.camera is not None:
        from sportsedge.serve.camera_service import CameraService

        camera = CameraService(config.camera, served.path, config.threads, config.camera_smooth)
        camera.start()
    stopping = asyncio.Event()
    protocol = guarded_protocol(config, lambda reason: metrics.cuts.labels(reason).inc())
    server = _Server(
        uvicorn.Config(
            build_app(pool, config, metrics, token, camera, stopping, state),
            host=config.host,
            port=config.port,
            http=protocol,
            timeout_keep_alive=config.keep_alive_s,  # type: ignore[arg-type]  # uvicorn waits float seconds
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=config.drain_s,  # type: ignore[arg-type]  # uvicorn waits float seconds
        )
    )

    async def reload_on_sighup() -> None:
        with contextlib.suppress(ModelError):  # reload_served logged why; the old model keeps serving
            await reload_served(pool, None, config, metrics, camera, state_dir=state)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload_on_sighup()))

    def stop() -> None:
        stopping.set()  # event streams end; in-flight requests drain
        server.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):  # stop accepting, drain (bounded by --drain-s), exit 0
        loop.add_signal_handler(sig, stop)

    async def announce() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.05)
        if server.started:
            ready = "ready" if served.ready else "NOT ready"
            print(
                f"serving {served.path} on http://{config.host}:{config.port} ({config.workers} workers, "
                f"{config.threads} thread(s) each; {ready})",
                file=sys.stderr,
                flush=True,
            )

    announcer = loop.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()
        if camera is not None:
            camera.stop()
        pool.close()
    if not server.started:
        raise UsageError(f"could not listen on {config.host}:{config.port} (in use, or not an address of this machine)")
    print("stopped", file=sys.stderr, flush=True)
    return 0
