"""A training run as a :class:`~fer_desktop._qt.jobs.Job`: the status bar's jobs indicator
shows it like any other job, its Cancel stops the run cleanly (the last full epoch is kept).

The process itself is not a QProcess child: it is started in its own session with its output
in the run folder (:class:`fer_desktop.retrain.RunFolder`), so that it can go on training
after the app closes (a QProcess child dies with its parent, and a piped one at its next write
once the pipe is gone). The job follows it by polling that folder a few times a second.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from fer_desktop._qt.jobs import Job
from fer_desktop.retrain import EventReader, RunFolder, RunProgress

POLL_MS = 250


class TrainingJob(Job):
    """``returned(run)`` when the run saved its final model, ``aborted(text)`` when it was
    stopped (resumable) or left running in the background, ``errored(text)`` when it failed."""

    event = Signal(object)  # each trainer.training.progress event, in order

    def __init__(self, run: RunFolder, *, resume: bool = False, attach: bool = False,
                 parent: QObject | None = None) -> None:
        """``attach``: follow a run that is already going (started by an earlier session)."""
        super().__init__(f"Training {run.path.name}", parent)
        self.run = run
        self.resume = resume
        self.attach = attach
        self.progress_state = RunProgress()
        self.reader = EventReader(run.progress_path)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._ended = False

    def start(self) -> None:
        if self.running or self._ended:
            raise RuntimeError(f"job {self.title!r} was already started")
        # Replay what the run wrote so far (a resumed run's earlier epochs, an attached run's
        # progress) before this start, so curves and ETA pick up from there.
        for event in self.reader.read():
            self.progress_state.add(event)
        if not self.attach:
            self.run.start(resume=self.resume)
        self.running = True
        self.started_at = time.monotonic()
        self.started.emit()
        self.status.emit("starting (loading the data)" if not self.attach else "running in the background")
        self._timer.start()

    def cancel(self) -> None:
        """Stop after the current batch; the run keeps its last full epoch and can resume."""
        super().cancel()
        if self.running:
            self.run.request_stop()
            self.status.emit("stopping after this batch")

    def kill(self) -> None:
        if self.running:
            super().cancel()
            self.run.kill()

    def detach(self) -> None:
        """The app is closing and the run goes on: stop following it."""
        if self.running:
            self.run.detach()
            self._end()
            self.aborted.emit("left running in the background")
            self.finished.emit()

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the process ends (at shutdown, after cancel)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while self.run.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        ended = not self.run.running()
        if ended and self.running:
            self.poll()
        return ended

    def eta(self) -> str:
        from fer_desktop.retrain import format_duration

        left = self.progress_state.eta_seconds()
        return "" if left is None else f"{format_duration(left)} left"

    def poll(self) -> None:
        if not self.running:
            return
        alive = self.run.running()  # before reading: whatever it wrote before ending is read now
        for event in self.reader.read():
            self.progress_state.add(event)
            self.event.emit(event)
            self._report(event)
        if not alive:
            self._finish()

    def _report(self, event: object) -> None:
        p = self.progress_state
        if p.batches:
            self.progress.emit(p.batches_done(), p.batches_total())
        if p.epoch and p.done is None:
            self.status.emit(f"epoch {p.epoch}/{p.epochs}")

    def _finish(self) -> None:
        self._end()
        done = self.progress_state.done
        if done is not None and not done.interrupted and self.run.model_path.is_file():
            self.returned.emit(self.run)
        elif done is not None or (self.is_cancelled and self.run.can_resume()):
            epochs = done.epochs_run if done is not None and done.epochs_run else len(self.progress_state.history)
            self.aborted.emit(f"stopped after {epochs} full epoch(s); Resume continues from there")
        else:
            code = self.run.exit_code()
            line = self.run.error_line() or "no message (see train.log in the run folder)"
            self.errored.emit(f"training failed{f' (exit code {code})' if code not in (None, 0) else ''}: {line}")
        self.finished.emit()

    def _end(self) -> None:
        self._timer.stop()
        self.running = False
        self._ended = True
