"""Each format's conversion where a native crash cannot take the export down.

A converter that segfaults (litert-torch, TFLite's calibrating converter and quantizer, onnxruntime's
quantizer) kills the process it runs in; in the export's own process that was the whole export, with
no line and no manifest for the formats already done. So a source's formats are converted, checked
and written in a worker process: a crash kills the worker, the format is one FAILED line naming who
crashed, the worker is started again for the next format.

One worker per source, spawned (TensorFlow's and torch's thread pools do not survive a fork), kept
for all of that source's formats: it holds its own ExportContext, so the float models the formats
share (SavedModel, litert-torch's float file, the calibrated float model) are made once, as in one
process; its start (imports, loading the source again) is paid once per source, again only after a
crash. A source given already loaded (the Python API's nn.Module) or of a family registered at run
time cannot be loaded again in a fresh interpreter: it converts in this process, as before.
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import os
import pickle
import queue
import re
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from sportsedge.core.formats import Format, Status
from sportsedge.core.records import ManifestEntry, Parity
from sportsedge.export.families import BUILTIN_FAMILIES

# Who crashed, by the innermost frame of the dead worker's Python stack (faulthandler's dump) that
# lies in one of these packages: the first row that matches, in this order (most specific first).
CRASHERS: tuple[tuple[str, str], ...] = (
    ("litert_torch", "litert-torch"),
    ("ai_edge_quantizer", "ai-edge-quantizer"),
    ("tensorflow/lite", "the TFLite converter"),
    ("tensorflow/compiler/mlir/lite", "the TFLite converter"),
    ("ai_edge_litert", "the LiteRT interpreter"),
    ("onnxruntime", "onnxruntime"),
    ("torch/onnx", "torch.onnx"),
    ("tf2onnx", "tf2onnx"),
    ("torch", "PyTorch"),
    ("tensorflow", "TensorFlow"),
)
UNKNOWN_CRASHER = "the converter"
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+ in ')
POLL_S = 1.0  # how often the parent looks whether a silent worker is still alive


def crasher(trace: str) -> str:
    """Who crashed, from a faulthandler dump (most recent call first)."""
    for line in trace.splitlines():
        m = _FRAME.match(line)
        if m:
            where = m.group(1).replace("\\", "/")
            for fragment, name in CRASHERS:
                if f"/{fragment}/" in where:
                    return name
    return UNKNOWN_CRASHER


def crash_line(who: str, model: str, fmt: str, exitcode: int) -> str:
    """The one line a crashed conversion becomes."""
    if exitcode < 0:
        try:
            how = f"signal {-exitcode}, {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return f"{who} crashed converting {model} to {fmt} ({how})"


def crashed_entry(name: str, model: str, fmt: Format, line: str, seconds: float) -> ManifestEntry:
    """The manifest entry of a format whose conversion crashed: no file."""
    parity = cast(Parity, {"status": Status.FAILED, "loads": False, "message": line})  # no figures: no file
    return {
        "path": "",  # no file
        "model": model,
        "format": fmt.name,
        "status": Status.FAILED,
        "crashed": line,
        "parity": parity,
        "size_bytes": 0,
        "sha256": "",
        "seconds": round(seconds, 2),
    }


class FormatRunner:
    """Runs ``export_one(ctx, fmt, path, convert) -> entry`` for one source's formats: in a worker
    process when the source can be loaded there again, else here."""

    def __init__(self, ctx, config, export_one: Callable):
        self.ctx, self.export_one = ctx, export_one
        # A file or folder of a built-in family loads the same in a fresh interpreter; a model given
        # in memory, or a family registered at run time, does not. SPORTSEDGE_EXPORT_IN_PROCESS=1
        # converts here anyway: a debugger, or a test that patches a converter's insides, needs it.
        self.isolated = (
            Path(ctx.source.path).exists()
            and ctx.family.name in BUILTIN_FAMILIES
            and not os.environ.get("SPORTSEDGE_EXPORT_IN_PROCESS")
        )
        self._job = {"model": str(ctx.source.path), "config": config, "trace": str(ctx.work / "crash-{pid}.txt")}
        self._proc: Any = None

    def run(self, fmt: Format, path: Path, convert_spec) -> ManifestEntry:
        """The format's manifest entry (without fingerprint and settings)."""
        if not self.isolated:
            return self.export_one(self.ctx, fmt, path, _impl(convert_spec))
        if self._proc is None:
            self._start()
        self._jobs.put((fmt, convert_spec, str(path)))
        return self._wait(fmt)

    def _start(self) -> None:
        mp = multiprocessing.get_context("spawn")  # a fresh interpreter: no thread pool forked half-alive
        self._jobs, self._results = mp.Queue(), mp.Queue()
        self._proc = mp.Process(
            target=worker, args=(self._job, self._jobs, self._results), name="sportsedge-export", daemon=False
        )
        with _main_not_rerun():
            self._proc.start()

    def _wait(self, fmt: Format) -> ManifestEntry:
        import time

        t0 = time.monotonic()
        while True:
            try:
                kind, value = self._results.get(timeout=POLL_S)
            except queue.Empty:
                if self._proc.is_alive():
                    continue
                return self._crashed(fmt, time.monotonic() - t0)
            if kind == "entry":
                return value
            self.close()  # the worker is fine, but the error ends this export as it did in one process
            error, child_traceback = _rebuilt(*value)
            raise error from WorkerTraceback(child_traceback)

    def _crashed(self, fmt: Format, seconds: float) -> ManifestEntry:
        proc, self._proc = self._proc, None
        proc.join()
        trace_file = Path(self._job["trace"].format(pid=proc.pid))
        trace = trace_file.read_text(errors="replace") if trace_file.is_file() else ""
        line = crash_line(crasher(trace), self.ctx.model_name, fmt.name, proc.exitcode)
        _remove_left_by(proc.pid)
        name = fmt.artifact_name(self.ctx.model_name)
        return crashed_entry(name, self.ctx.model_name, fmt, line, seconds)

    def close(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if proc.is_alive():
            self._jobs.put(None)
            proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        self._jobs.close()
        self._results.close()


@contextlib.contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Spawn re-runs the parent's __main__ in the child, to find the target there: a user's script
    that calls export() without an ``if __name__ == "__main__"`` guard would then export again in
    the worker and fail at its start. The worker's target lives in this module, so the child needs
    no __main__: hidden from multiprocessing while the worker starts."""
    main = sys.modules.get("__main__")
    hidden: dict[str, Any] = {}
    for key in ("__file__", "__spec__"):
        if main is not None and key in main.__dict__:
            hidden[key] = main.__dict__.pop(key)
    if main is not None and "__spec__" in hidden:
        main.__spec__ = None  # spawn reads it with getattr: None, not missing
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(hidden)


def _remove_left_by(pid: int) -> None:
    """A crashed worker's temporary folder (its ExportContext's) and half-written files."""
    from sportsedge.export.context import WORK_PREFIX

    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}{pid}-*"):
        shutil.rmtree(folder, ignore_errors=True)


def _impl(spec):
    from sportsedge.export.sources.family import impl

    return impl(spec)


def worker(job: dict, jobs, results) -> None:
    """The worker's loop: its own ExportContext of the source, then one format per job until None."""
    from sportsedge.export.artifact import export_one, worker_context

    trace = open(job["trace"].format(pid=multiprocessing.current_process().pid), "w")  # noqa: SIM115
    faulthandler.enable(trace)  # on a crash, the Python stack says who crashed
    ctx = None
    try:
        while (item := jobs.get()) is not None:
            fmt, spec, path = item
            try:
                ctx = ctx or worker_context(job["model"], job["config"], Path(path).parent)
                results.put(("entry", export_one(ctx, fmt, Path(path), _impl(spec))))
            except BaseException as err:  # handed to the parent, which raises it as it would have here
                results.put(("error", _sendable(err)))
    finally:
        if ctx is not None:
            ctx.close()


class WorkerTraceback(Exception):
    """The worker's traceback of an error raised there: the cause of the same error raised here."""


def _sendable(err: BaseException) -> tuple:
    """(type, message, attributes, traceback text): what rebuilds ``err`` in the parent. Not the
    exception itself: ours take (path, reason) and would not unpickle from their one message."""
    attrs = {}
    for key, value in vars(err).items():
        try:
            pickle.dumps(value)
        except Exception:
            continue
        attrs[key] = value
    return type(err), str(err), attrs, "".join(traceback.format_exception(err))


def _rebuilt(kind: type[BaseException], message: str, attrs: dict, text: str) -> tuple[BaseException, str]:
    err = kind.__new__(kind)
    BaseException.__init__(err, message)
    vars(err).update(attrs)
    return err, text
