"""`sportsedge serve`: the classifier as a long-running HTTP service on the device (TF-free).

Starlette on uvicorn (the `serve` extra); inference in a pool of worker threads, one interpreter
each, behind a bounded queue. See docs/serve.md.
"""

from __future__ import annotations

import importlib.util

from sportsedge.core.errors import MissingDependencyError

# module -> package name of what the serve extra installs
REQUIRED = {
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "prometheus_client": "prometheus-client",
    "multipart": "python-multipart",
}


def require_serve() -> None:
    """One line naming the extra when any of its packages is missing."""
    for module, package in REQUIRED.items():
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(package, "serve", "needed for `sportsedge serve`")
