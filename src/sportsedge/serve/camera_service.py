"""`serve --camera DEV`: the camera loop of `predict --camera` in a background thread, its newest
label for GET /v1/camera/latest and its label changes for the event stream.

A camera that cannot be opened, or that disappears, is reported (GET /readyz, /v1/camera/latest)
and retried every RETRY_S seconds; the service never stops for it. The loop runs on an
interpreter of its own (interpreters are not shared), and restarts on the new model after a reload.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from sportsedge.core.errors import SportsedgeError, first_line

RETRY_S = 2.0  # wait before opening a camera again after it failed or ended


class CameraService:
    """The camera loop of `serve --camera`, in a thread: the newest label, and events on each change."""

    def __init__(self, device: str, model_path: str | Path, threads: int, smooth: float) -> None:
        self.device, self.threads, self.smooth = device, threads, smooth
        self._model_path = Path(model_path)
        self._stop = threading.Event()
        self._restart = threading.Event()  # stop the current run (a reload), then start again
        self._lock = threading.Lock()
        self._latest: dict[str, Any] | None = None
        self.error: str | None = "starting"  # why the camera is not delivering frames now, or None
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="sportsedge-camera-service")

    def start(self) -> None:
        """Start the loop's thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for its thread."""
        self._stop.set()
        self._restart.set()
        self._thread.join(timeout=10)

    def use_model(self, path: str | Path) -> None:
        """After a reload: the loop restarts on the new file."""
        self._model_path = Path(path)
        self._restart.set()

    def latest(self) -> dict[str, Any]:
        """The newest label, score and frame time (or the camera's error)."""
        with self._lock:
            return {"device": self.device, "running": self.error is None, "error": self.error, **(self._latest or {})}

    def subscribe(self) -> asyncio.Queue[Any]:
        """A queue that receives every label change from now on."""
        q: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
        self._subscribers.append((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue[Any]) -> None:
        """Stop sending changes to ``q``."""
        self._subscribers = [(loop, s) for loop, s in self._subscribers if s is not q]

    def _publish(self, event: dict[str, Any]) -> None:
        for loop, q in list(self._subscribers):
            loop.call_soon_threadsafe(_put_or_drop, q, event)

    def _on_frame(self, label: str, score: float, stats: Any) -> None:
        with self._lock:
            changed = self._latest is None or self._latest["label"] != label
            self._latest = {"label": label, "score": score, "frame_t_s": stats.last_t, "updated_at": time.time()}
            self.error = None
        if changed:
            self._publish({"label": label, "score": score, "frame_t_s": stats.last_t, "time": time.time()})

    def _run(self) -> None:
        from sportsedge.runtime import Classifier
        from sportsedge.runtime.camera import playback_source, run_camera, v4l2_source

        while not self._stop.is_set():
            self._restart.clear()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf = Classifier.load(self._model_path, threads=self.threads)
                opener = playback_source if Path(self.device).is_file() else v4l2_source
                run_camera(clf, opener(self.device, size=clf.input_size), smooth=self.smooth, on_frame=self._on_frame,
                           stop=self._restart)  # fmt: skip
                if self._restart.is_set():
                    continue  # a reload or a stop: no error, no wait
                self.error = "the camera stream ended; retrying"
            except SportsedgeError as err:
                self.error = f"{first_line(err)}; retrying every {RETRY_S:g} s"
            except Exception as err:  # a camera driver's own error types: reported, retried, never fatal
                self.error = f"{type(err).__name__}: {first_line(err)}; retrying every {RETRY_S:g} s"
            self._restart.wait(RETRY_S)


def _put_or_drop(q: asyncio.Queue[Any], event: dict[str, Any]) -> None:
    if q.full():  # a slow reader loses its oldest event, not the server its memory
        q.get_nowait()
    q.put_nowait(event)
