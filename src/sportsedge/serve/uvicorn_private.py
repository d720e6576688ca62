"""uvicorn's private entry points, behind one door:

- ``Server.capture_signals``, which the server overrides so that SIGTERM drains and exits 0
  (uvicorn's own re-raises the signal after the drain, ending the process by the signal);
- its HTTP/1.1 protocol class and the hooks serve/guard.py extends (``data_received``, the parser
  callbacks, ``send_400_response``, ``transport``, the server's set of ``connections``): uvicorn has
  no header size limit with httptools, no header or body timeout or minimum body rate, refuses
  connections past a limit instead of reclaiming idle ones, and answers malformed HTTP in plain text.

Checked at first use: a uvicorn without them fails in one line naming what is missing and the
version this was tested with, instead of silently serving without the guard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sportsedge.core.errors import PrivateApiError, version_of

TESTED_WITH = "uvicorn 0.55.0"
# What serve/guard.py overrides or calls on the protocol class.
PROTOCOL_HOOKS = ("connection_made", "connection_lost", "data_received", "on_headers_complete", "on_body",
                  "on_message_complete", "on_response_complete", "send_400_response")  # fmt: skip


def server_class() -> Any:
    """uvicorn.Server with our signal handling (serve/commands.py installs the handlers)."""
    import uvicorn

    if not callable(getattr(uvicorn.Server, "capture_signals", None)):
        raise PrivateApiError("uvicorn.Server.capture_signals", version_of("uvicorn"), TESTED_WITH)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def stop(self) -> None:
            if self.should_exit:  # a second Ctrl-C/SIGTERM: stop waiting for the drain
                self.force_exit = True
            self.should_exit = True

    return Server


def protocol_class() -> Any:
    """uvicorn's httptools protocol (the serve extra installs httptools; h11's has no parser
    callbacks to hook)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError as err:
        raise PrivateApiError("uvicorn.protocols.http.httptools_impl", version_of("uvicorn"), TESTED_WITH) from err
    missing = [hook for hook in PROTOCOL_HOOKS if not callable(getattr(HttpToolsProtocol, hook, None))]
    if missing:
        raise PrivateApiError(f"HttpToolsProtocol.{missing[0]}", version_of("uvicorn"), TESTED_WITH)
    return HttpToolsProtocol
