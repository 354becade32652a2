"""The capture thread: reads the webcam, a video or images and posts frames to the
inference mailbox. Opening, reading and seeking all happen here, off the GUI thread."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from fer_desktop.mailbox import LatestSlot
from fer_desktop.results import FramePacket
from fer_desktop.sources import CameraSource, ImageFolder, SourceError, VideoSource


class CaptureWorker(QObject):
    frameReady = Signal()  # the mailbox went from empty to full: wake the consumer
    opened = Signal(str, str, int)  # kind ("camera" | "video" | "image"), name, count (frames or files; 0: live)
    failed = Signal(str)
    position = Signal(int, int)  # index, count: the video frame or folder file shown
    playingChanged = Signal(bool)
    closed = Signal()

    def __init__(self, mailbox: LatestSlot[FramePacket]) -> None:
        super().__init__()
        self.mailbox = mailbox
        self.source: CameraSource | VideoSource | ImageFolder | None = None
        self.generation = 0
        self.playing = False
        # Parented, so moveToThread takes it along and it fires in the capture thread.
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)

    # -- opening --

    def _replace(self, source) -> None:
        self._stop_timer()
        if self.source is not None:
            self.source.close()
        self.source = source
        self.generation += 1
        self.mailbox.clear()

    @Slot(int, int, int)
    def open_camera(self, index: int, width: int, height: int) -> None:
        try:
            cam = CameraSource(index, (width, height) if width > 0 else None)
        except SourceError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a driver error: the user still gets words
            self.failed.emit(f"Camera {index}: {exc}")
            return
        self._replace(cam)
        self.opened.emit("camera", cam.name, 0)
        self.timer.setInterval(0)  # read() waits for the camera's next frame itself
        self._start_timer()

    @Slot(str)
    def open_video(self, path: str) -> None:
        try:
            video = VideoSource(path)
        except SourceError as exc:
            self.failed.emit(str(exc))
            return
        self._replace(video)
        self.opened.emit("video", video.name, video.frame_count)
        self.timer.setInterval(max(1, round(1000 / video.fps)))
        self._send_video_frame()  # show the first frame at once, paused
        self.position.emit(0, video.frame_count)

    @Slot(str)
    def open_images(self, path: str) -> None:
        try:
            folder = ImageFolder(path)
            frame = folder.load()
        except SourceError as exc:
            self.failed.emit(str(exc))
            return
        self._replace(folder)
        self.opened.emit("image", folder.name, len(folder.files))
        self._send_image(frame)

    @Slot()
    def close(self) -> None:
        self._replace(None)
        self.closed.emit()

    # -- playback --

    @Slot()
    def play(self) -> None:
        if isinstance(self.source, VideoSource):
            if self.source.position >= self.source.frame_count > 0:
                self.source.seek(0)  # play again from the start
                self.generation += 1
            self._start_timer()

    @Slot()
    def pause(self) -> None:
        if isinstance(self.source, VideoSource):
            self._stop_timer()

    @Slot()
    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    @Slot(int)
    def seek(self, index: int) -> None:
        if isinstance(self.source, VideoSource):
            self.source.seek(index)
            self.generation += 1
            self._send_video_frame()

    @Slot(int)
    def step(self, delta: int) -> None:
        """Next/previous: a file in a folder, a frame in a paused video."""
        if isinstance(self.source, ImageFolder):
            if self.source.step(delta):
                try:
                    self._send_image(self.source.load())
                except SourceError as exc:
                    self.failed.emit(str(exc))
                    self.position.emit(self.source.index, len(self.source.files))
        elif isinstance(self.source, VideoSource):
            self._stop_timer()
            # position is the next frame to read: the shown one is position - 1
            target = self.source.position - 1 + delta
            if 0 <= target < max(1, self.source.frame_count):
                self.seek(target)

    # -- internals --

    def _start_timer(self) -> None:
        self.timer.start()
        if not self.playing:
            self.playing = True
            self.playingChanged.emit(True)

    def _stop_timer(self) -> None:
        self.timer.stop()
        if self.playing:
            self.playing = False
            self.playingChanged.emit(False)

    def _post(self, packet: FramePacket) -> None:
        if self.mailbox.put(packet):
            self.frameReady.emit()

    def _send_image(self, frame) -> None:
        folder = self.source
        assert isinstance(folder, ImageFolder)
        self.generation += 1
        self._post(FramePacket(frame, time.perf_counter(), "image", str(folder.current), self.generation,
                               index=folder.index, count=len(folder.files), still=True, path=folder.current))
        self.position.emit(folder.index, len(folder.files))

    def _send_video_frame(self) -> bool:
        video = self.source
        assert isinstance(video, VideoSource)
        index = video.position
        frame = video.read()
        if frame is None:
            return False
        self._post(FramePacket(frame, time.perf_counter(), "video", video.name, self.generation,
                               index=index, count=video.frame_count))
        self.position.emit(index, video.frame_count)
        return True

    def _tick(self) -> None:
        try:
            if isinstance(self.source, CameraSource):
                frame = self.source.read()
                if frame is not None:
                    self._post(FramePacket(frame, time.perf_counter(), "camera", self.source.name, self.generation,
                                           index=self.source.frames))
            elif isinstance(self.source, VideoSource):
                if not self._send_video_frame():
                    self._stop_timer()
                    self.position.emit(max(0, self.source.frame_count - 1), self.source.frame_count)
            else:
                self._stop_timer()
        except SourceError as exc:
            self._replace(None)
            self.failed.emit(str(exc))
            self.closed.emit()
        except Exception as exc:  # never let a driver error kill the capture thread
            self._replace(None)
            self.failed.emit(f"Capture stopped: {type(exc).__name__}: {exc}")
            self.closed.emit()
