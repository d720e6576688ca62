"""uvicorn's private entry point, behind one door: ``Server.capture_signals``, which the server
overrides so that SIGTERM drains and exits 0 (uvicorn's own re-raises the signal after the drain,
ending the process by the signal). Checked at first use: a uvicorn without it fails in one line
naming it and the version this was tested with, instead of silently exiting by the signal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sportsedge.core.errors import PrivateApiError, version_of

TESTED_WITH = "uvicorn 0.54.0"


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
