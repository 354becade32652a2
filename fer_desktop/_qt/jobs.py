"""Long work off the GUI thread: one helper for a function in a thread, one for a process.

:class:`ThreadJob` runs a plain function in its own ``QThread`` (napari's ``thread_worker``):
the function may take ``progress(done, total)`` and ``cancelled() -> bool`` keyword arguments,
and the job emits ``progress`` / ``returned`` / ``errored`` / ``aborted`` and always ``finished``
last. :class:`ProcessJob` runs a command out of process (training) with the same signals, one
``line`` per line of output and a JSON object per ``{...}`` line.

Every public signal is emitted from the GUI thread: a job's worker hands its results to the job
object (a QObject living in the GUI thread) through queued signals, so whatever is connected,
lambdas included, runs in the GUI thread (PySide runs a plain callable in the *emitting* thread).
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

PROGRESS_INTERVAL_S = 0.05  # at most 20 progress updates a second reach the GUI


class JobCancelled(Exception):
    """Raised by a job's function when it stops early because it was cancelled; the message
    says what was kept (e.g. "120 rows written")."""


def eta_text(done: int, total: int, elapsed_s: float) -> str:
    """"3 min 20 s left" from the rate so far; "" until there is a rate to go by."""
    if total <= 0 or done <= 0 or done >= total or elapsed_s < 0.5:
        return ""
    left = elapsed_s * (total - done) / done
    if left < 60:
        return f"{left:.0f} s left"
    if left < 3600:
        return f"{int(left // 60)} min {int(left % 60):02d} s left"
    return f"{int(left // 3600)} h {int(left % 3600 // 60):02d} min left"


class Job(QObject):
    """What every job offers the window: a title, start, cancel, and these signals."""

    started = Signal()
    progress = Signal(int, int)  # done, total (total 0: unknown)
    status = Signal(str)  # a line of text about the current phase
    returned = Signal(object)  # the result
    errored = Signal(object)  # the exception (ThreadJob) or a message (ProcessJob)
    aborted = Signal(str)  # cancelled: what was kept
    finished = Signal()  # always, after one of returned / errored / aborted

    def __init__(self, title: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.done = 0
        self.total = 0
        self.phase = ""
        self.started_at: float | None = None
        self.running = False
        self._cancel = threading.Event()
        self.progress.connect(self._remember_progress)
        self.status.connect(self._remember_status)

    def start(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Ask the job to stop (thread-safe; it stops at its next check)."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout_ms: int = 10000) -> bool:
        return True

    def eta(self) -> str:
        if self.started_at is None:
            return ""
        return eta_text(self.done, self.total, time.monotonic() - self.started_at)

    def _remember_progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _remember_status(self, text: str) -> None:
        self.phase = text


class _Runner(QObject):
    """Lives in the job's thread; calls the function and reports through queued signals."""

    progressed = Signal(int, int)
    said = Signal(str)
    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, cancel: threading.Event) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs, self.cancel = fn, args, kwargs, cancel
        self._last = 0.0

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self.progressed.emit(int(done), int(total))

    @Slot()
    def run(self) -> None:
        kwargs = dict(self.kwargs)
        params = _parameters(self.fn)
        if "progress" in params:
            kwargs["progress"] = self._progress
        if "cancelled" in params:
            kwargs["cancelled"] = self.cancel.is_set
        if "status" in params:
            kwargs["status"] = self.said.emit
        try:
            result = self.fn(*self.args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, which decides
            self.failed.emit(exc)
            return
        self.succeeded.emit(result)


def _parameters(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


class ThreadJob(Job):
    """``fn(*args, **kwargs)`` in a new QThread. A function that raises :class:`JobCancelled`
    (or any exception after :meth:`cancel`, e.g. the engine's ``Cancelled``) ends with
    ``aborted``; any other exception with ``errored``. A job cancelled after its function
    could no longer stop ends with ``aborted`` too: the result is dropped (a newer request
    replaced it)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, title: str = "", parent: QObject | None = None,
                 **kwargs: Any) -> None:
        super().__init__(title or getattr(fn, "__name__", "job"), parent)
        self._thread = QThread(self)
        self._thread.setObjectName(f"job:{self.title}")
        self._runner = _Runner(fn, args, kwargs, self._cancel)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Methods of this QObject: queued into the GUI thread.
        self._runner.progressed.connect(self._on_progress)
        self._runner.said.connect(self._on_said)
        self._runner.succeeded.connect(self._on_succeeded)
        self._runner.failed.connect(self._on_failed)
        self._thread.finished.connect(self._runner.deleteLater)

    def start(self) -> None:
        if self.running or self._thread.isFinished():
            raise RuntimeError(f"job {self.title!r} was already started")
        self.running = True
        self.started_at = time.monotonic()
        self.started.emit()
        self._thread.start()

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the thread ends (shutdown); True when it did."""
        return self._thread.wait(timeout_ms) if self._thread.isRunning() else True

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    @Slot(str)
    def _on_said(self, text: str) -> None:
        self.status.emit(text)

    @Slot(object)
    def _on_succeeded(self, result: Any) -> None:
        self._end()
        if self.is_cancelled:  # finished after all, but its caller no longer wants the result
            self.aborted.emit("cancelled")
        else:
            self.returned.emit(result)
        self.finished.emit()

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        self._end()
        if isinstance(exc, JobCancelled) or self.is_cancelled:
            self.aborted.emit(str(exc) or "cancelled")
        else:
            self.errored.emit(exc)
        self.finished.emit()

    def _end(self) -> None:
        self.running = False
        self._thread.quit()
        self._thread.wait(5000)


class ProcessJob(Job):
    """A command in a child process (``QProcess``): ``line`` per line of its stdout and stderr,
    ``jsonObject`` per stdout line that is a JSON object (``--progress json``), ``progress`` when such
    an object has ``done`` and ``total`` (or ``epoch`` and ``epochs``). Exit code 0 ends with
    ``returned(0)``; another code with ``errored(message)`` carrying the last lines of stderr;
    :meth:`cancel` terminates the process (then kills it after ``kill_after_ms``) and ends
    with ``aborted``."""

    line = Signal(str, str)  # text, "stdout" | "stderr"
    jsonObject = Signal(dict)

    def __init__(self, program: str, arguments: list[str], *, title: str = "", cwd: str | None = None,
                 env: dict[str, str] | None = None, kill_after_ms: int = 5000, parent: QObject | None = None) -> None:
        super().__init__(title or program, parent)
        self.program, self.arguments = program, list(arguments)
        self.kill_after_ms = kill_after_ms
        self.stderr_tail: list[str] = []
        self.process = QProcess(self)
        if cwd:
            self.process.setWorkingDirectory(cwd)
        if env:
            penv = QProcessEnvironment.systemEnvironment()
            for k, v in env.items():
                penv.insert(k, v)
            self.process.setProcessEnvironment(penv)
        self._buffers = {"stdout": b"", "stderr": b""}
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._ended = False

    def start(self) -> None:
        if self.running or self._ended:
            raise RuntimeError(f"job {self.title!r} was already started")
        self.running = True
        self.started_at = time.monotonic()
        self.started.emit()
        self.process.start(self.program, self.arguments)

    def cancel(self) -> None:
        super().cancel()
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.terminate()
            QTimer.singleShot(self.kill_after_ms, self._kill_if_running)

    def _kill_if_running(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()

    def wait(self, timeout_ms: int = 10000) -> bool:
        if self.process.state() == QProcess.ProcessState.NotRunning:
            return True
        return self.process.waitForFinished(timeout_ms)

    def _read_stdout(self) -> None:
        self._read("stdout", bytes(self.process.readAllStandardOutput()))

    def _read_stderr(self) -> None:
        self._read("stderr", bytes(self.process.readAllStandardError()))

    def _read(self, stream: str, data: bytes, flush: bool = False) -> None:
        buffer = self._buffers[stream] + data
        *complete, rest = buffer.split(b"\n")
        if flush and rest:
            complete, rest = complete + [rest], b""
        self._buffers[stream] = rest
        for raw in complete:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            self.line.emit(text, stream)
            if stream == "stderr":
                self.stderr_tail = (self.stderr_tail + [text])[-20:]
            elif text.startswith("{"):
                self._parse_json(text)

    def _parse_json(self, text: str) -> None:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        self.jsonObject.emit(obj)
        for done_key, total_key in (("done", "total"), ("epoch", "epochs")):
            done, total = obj.get(done_key), obj.get(total_key)
            if isinstance(done, (int, float)) and isinstance(total, (int, float)):
                self.progress.emit(int(done), int(total))
                break

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._ended:
            self._ended = True
            self.running = False
            self.errored.emit(f"could not start {self.program}: {self.process.errorString()}")
            self.finished.emit()

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._ended:
            return
        self._read("stdout", bytes(self.process.readAllStandardOutput()), flush=True)
        self._read("stderr", bytes(self.process.readAllStandardError()), flush=True)
        self._ended = True
        self.running = False
        if self.is_cancelled:
            self.aborted.emit("cancelled")
        elif status == QProcess.ExitStatus.NormalExit and code == 0:
            self.returned.emit(0)
        else:
            how = f"exit code {code}" if status == QProcess.ExitStatus.NormalExit else "crashed"
            tail = next((t for t in reversed(self.stderr_tail) if t.strip()), "")
            self.errored.emit(f"{self.title} failed ({how})" + (f": {tail}" if tail else ""))
        self.finished.emit()


class JobsIndicator(QWidget):
    """For a status bar: the newest running job's title, phase, progress, ETA and a Cancel
    button; hidden while nothing runs. Older jobs stay listed in the tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[Job] = []
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_current)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self._timer = QTimer(self)
        self._timer.setInterval(500)  # the ETA moves even when progress does not
        self._timer.timeout.connect(self._refresh)
        self.hide()

    def track(self, job: Job) -> None:
        if job in self.jobs:
            return
        self.jobs.append(job)
        job.progress.connect(self._refresh)
        job.status.connect(self._refresh)
        job.finished.connect(self._forget)
        self._refresh()

    @property
    def current(self) -> Job | None:
        return self.jobs[-1] if self.jobs else None

    def cancel_current(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.cancel_button.setEnabled(False)

    def _forget(self) -> None:
        self.jobs = [j for j in self.jobs if j.running]
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        job = self.current
        if job is None:
            self._timer.stop()
            self.hide()
            return
        if not self._timer.isActive():
            self._timer.start()
        self.cancel_button.setEnabled(not job.is_cancelled)
        if job.total > 0:
            self.bar.setRange(0, job.total)
            self.bar.setValue(min(job.done, job.total))
            self.bar.setFormat("%p%")
        else:
            self.bar.setRange(0, 0)  # busy indicator: no total known yet
        parts = [job.title] + [p for p in (job.phase, job.eta()) if p]
        self.label.setText(" · ".join(parts))
        self.setToolTip("\n".join(f"{j.title}: {j.phase or 'running'}" for j in self.jobs))
        self.show()
