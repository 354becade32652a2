"""The inference thread: turns the newest captured frame into a result.

It owns the torch model, the detector and the tracker; the GUI thread never touches them.
Models load in a helper thread of their own (seconds: torch, the weights, the detector), so
frames keep flowing meanwhile: an opened image or the first video frame is shown at once,
its faces and probabilities when the model is ready."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from fer_desktop.mailbox import LatestSlot
from fer_desktop.results import FramePacket, FrameResult

# The app's live view: detection in a background thread, so the view never stalls on it.
DEFAULT_LIVE_OPTIONS: dict[str, Any] = {"async_detect": True}


class InferenceWorker(QObject):
    resultReady = Signal()  # the result mailbox went from empty to full
    modelLoaded = Signal(object)  # ModelInfo
    modelFailed = Signal(str)
    failed = Signal(str)
    # From the loader thread to this worker's own thread (queued: the receiver lives there).
    _engineReady = Signal(object, int)
    _engineFailed = Signal(str, int)

    def __init__(self, frames: LatestSlot[FramePacket], results: LatestSlot[FrameResult],
                 live_options: dict[str, Any] | None = None, detector: str | None = None, *,
                 backend: str = "auto") -> None:
        super().__init__()
        self.frames = frames
        self.results = results
        # LiveConfig fields; the config itself is built in this thread, with the model:
        # importing the engine pulls in torch, which must not delay the window.
        self.live_options = dict(DEFAULT_LIVE_OPTIONS if live_options is None else live_options)
        self.detector = detector
        self.backend = backend
        # Mirror-image averaging doubles the classifier's cost; the live view's temporal
        # smoothing already averages over frames, so it is kept for still images only.
        self.flip_live = False
        # What still images are (trainer.faces.prepare): auto, or crop ("These are face crops").
        self.input_kind = "auto"
        self.engine = None  # fer_desktop.engine.Engine
        self.loading = False
        self._generation: int | None = None
        self._failed_generation: int | None = None
        self._load_request = 0  # the newest load_model call: an older load that ends later is dropped
        self._loaders: list[threading.Thread] = []
        self._last_packet: FramePacket | None = None  # re-run when a model arrives (a still, a paused video)
        self._engineReady.connect(self._install_engine)
        self._engineFailed.connect(self._load_failed)

    @Slot(str)
    def load_model(self, path: str) -> None:
        """Load ``path`` ("" for the default) in a helper thread; the current model (or none:
        frames are shown unprocessed) serves until then, and stays if the load fails."""
        self._load_request += 1
        self.loading = True
        self._loaders = [t for t in self._loaders if t.is_alive()]
        loader = threading.Thread(target=self._load, args=(path, self._load_request), name="model-load",
                                  daemon=True)
        self._loaders.append(loader)
        loader.start()

    def _load(self, path: str, request: int) -> None:
        """The loader thread: build the engine, hand it to the inference thread."""
        try:
            from fer_desktop.engine import load_engine
            from trainer.inference.live import LiveConfig

            engine = load_engine(path or None, LiveConfig(**self.live_options), detector=self.detector,
                                 backend=self.backend)
        except Exception as exc:  # ModelLoadError, DetectorUnavailable, a torch error: all for the user
            self._emit_from_loader(self._engineFailed, str(exc) or type(exc).__name__, request)
            return
        if not self._emit_from_loader(self._engineReady, engine, request):
            engine.live.close()

    @staticmethod
    def _emit_from_loader(signal, *args) -> bool:
        try:
            signal.emit(*args)
            return True
        except RuntimeError:  # the window closed while the model loaded: nobody to tell
            return False

    @Slot(object, int)
    def _install_engine(self, engine, request: int) -> None:
        if request != self._load_request:  # a newer model was asked for meanwhile
            engine.live.close()
            return
        old, self.engine = self.engine, engine
        if old is not None:
            old.live.close()
        self._generation = None
        self.loading = False
        self.modelLoaded.emit(engine.info)
        self._rerun_last()

    @Slot(str, int)
    def _load_failed(self, message: str, request: int) -> None:
        if request != self._load_request:
            return
        self.loading = False
        self.modelFailed.emit(message)
        if self.engine is None:  # the frame on screen said "loading": now it says there is no model
            self._rerun_last()

    def _rerun_last(self) -> None:
        """A new model: the still image or paused video frame on screen gets its faces now,
        timed from now (the wait for the model is not the frame's latency)."""
        packet = self._last_packet
        if packet is None or packet.kind == "camera" or self.frames.peek() is not None:
            self.drain()
            return
        self.frames.put(dataclasses.replace(packet, timestamp=time.perf_counter()))
        self.drain()

    @Slot(str)
    def set_input_kind(self, kind: str) -> None:
        """What still images are from now on; the one on screen is made again that way."""
        if kind == self.input_kind:
            return
        self.input_kind = kind
        if self._last_packet is not None and self._last_packet.still:
            self._rerun_last()

    def close(self, wait_s: float = 60.0) -> None:
        """After the thread has stopped: let a model load that is under way end (a process
        that exits while torch loads in another thread dies in C++'s terminate), then end
        the engine's background detection thread."""
        for loader in self._loaders:
            loader.join(wait_s)
        if self.engine is not None:
            self.engine.live.close()

    @Slot()
    def drain(self) -> None:
        """Process the newest frame, if any. Called on each capture wake-up: the mailbox
        holds one frame, so a slow step drops frames instead of queueing them."""
        packet = self.frames.take()
        if packet is None:
            return
        self._last_packet = packet
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
        if engine is None:  # shown as it is; the faces follow when a model is ready
            return FrameResult(packet, [], [], None, 0.0, (time.perf_counter() - packet.timestamp) * 1000,
                               model_loading=self.loading)
        if packet.generation != self._generation:
            engine.live.reset()
            self._generation = packet.generation
        engine.predictor.tta_flip = packet.still or self.flip_live
        if packet.still:  # the path predict and evaluate take: the same image, the same probabilities
            from trainer.inference.prepared import still_faces

            faces = still_faces(engine.predictor, engine.live, packet.frame, self.input_kind)
        else:
            faces = engine.live.process(packet.frame)
        now = time.perf_counter()
        return FrameResult(packet, faces, engine.info.classes, engine.info.name, (now - t0) * 1000,
                           (now - packet.timestamp) * 1000, engine.live.timings)
