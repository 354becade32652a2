"""The inference thread: loads models, and turns the newest captured frame into a result.

It owns the torch model, the detector and the tracker; the GUI thread never touches them."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from fer_desktop.mailbox import LatestSlot
from fer_desktop.results import FramePacket, FrameResult

# The app's live view: detection in a background thread, so the view never stalls on it.
DEFAULT_LIVE_OPTIONS: dict[str, Any] = {"async_detect": True}


class InferenceWorker(QObject):
    resultReady = Signal()  # the result mailbox went from empty to full
    modelLoading = Signal(str)
    modelLoaded = Signal(object)  # ModelInfo
    modelFailed = Signal(str)
    failed = Signal(str)

    def __init__(self, frames: LatestSlot[FramePacket], results: LatestSlot[FrameResult],
                 live_options: dict[str, Any] | None = None, detector: str | None = None) -> None:
        super().__init__()
        self.frames = frames
        self.results = results
        # LiveConfig fields; the config itself is built in this thread, with the model:
        # importing the engine pulls in torch, which must not delay the window.
        self.live_options = dict(DEFAULT_LIVE_OPTIONS if live_options is None else live_options)
        self.detector = detector
        # Mirror-image averaging doubles the classifier's cost; the live view's temporal
        # smoothing already averages over frames, so it is kept for still images only.
        self.flip_live = False
        self.engine = None  # fer_desktop.engine.Engine
        self.loading = False
        self._generation: int | None = None
        self._failed_generation: int | None = None

    @Slot(str)
    def load_model(self, path: str) -> None:
        """Load ``path`` ("" for the default); on failure the previous model stays."""
        self.loading = True
        self.modelLoading.emit(path)
        try:
            from fer_desktop.engine import load_engine
            from trainer.inference.live import LiveConfig

            engine = load_engine(path or None, LiveConfig(**self.live_options), detector=self.detector)
        except Exception as exc:  # ModelLoadError, DetectorUnavailable, a torch error: all for the user
            self.loading = False
            self.modelFailed.emit(str(exc) or type(exc).__name__)
            self.drain()  # frames waiting for a model go through without one
            return
        old, self.engine = self.engine, engine
        if old is not None:
            old.live.close()
        self._generation = None
        self.loading = False
        self.modelLoaded.emit(engine.info)
        self.drain()

    def close(self) -> None:
        """After the thread has stopped: end the engine's background detection thread."""
        if self.engine is not None:
            self.engine.live.close()

    @Slot()
    def reset_tracking(self) -> None:
        if self.engine is not None:
            self.engine.live.reset()

    @Slot(int)
    def set_detect_every(self, n: int) -> None:
        self.live_options["detect_every"] = max(1, n)
        if self.engine is not None:
            self.engine.live.config.detect_every = max(1, n)

    @Slot()
    def drain(self) -> None:
        """Process the newest frame, if any. Called on each capture wake-up: the mailbox
        holds one frame, so a slow step drops frames instead of queueing them."""
        if self.loading:
            return  # the frame waits in the mailbox for the model (the first result has faces)
        packet = self.frames.take()
        if packet is None:
            return
        try:
            result = self._process(packet)
        except Exception as exc:  # one bad frame must not stop the stream
            if packet.generation != self._failed_generation:  # once per source, not per frame
                self._failed_generation = packet.generation
                self.failed.emit(f"Could not process {packet.kind} frame: {type(exc).__name__}: {exc}")
            return
        if self.results.put(result):
            self.resultReady.emit()

    def _process(self, packet: FramePacket) -> FrameResult:
        t0 = time.perf_counter()
        engine = self.engine
        if engine is None:
            return FrameResult(packet, [], [], None, 0.0, (time.perf_counter() - packet.timestamp) * 1000)
        if packet.generation != self._generation:
            engine.live.reset()
            self._generation = packet.generation
        engine.predictor.tta_flip = packet.still or self.flip_live
        faces = engine.live.process(packet.frame, still=packet.still)
        now = time.perf_counter()
        return FrameResult(packet, faces, engine.info.classes, engine.info.name, (now - t0) * 1000,
                           (now - packet.timestamp) * 1000, engine.live.timings)
