"""Where frames come from: a webcam, a video file, image files in a folder. OpenCV only
(the headless build: no cv2.imshow, no Qt of its own), no Qt; the capture thread drives these."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from trainer.errors import UserError
from trainer.faces.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

IMAGE_SUFFIXES = set(IMAGE_EXTENSIONS)  # the engine's lists: what trains is what opens
VIDEO_SUFFIXES = set(VIDEO_EXTENSIONS)
RESOLUTIONS: list[tuple[int, int]] = [(640, 480), (1280, 720), (1920, 1080), (320, 240)]


class SourceError(UserError, RuntimeError):
    """A source that cannot be opened or stopped delivering; the message is for the user."""


def kind_of_path(path: str | Path) -> str:
    """"folder", "video" or "image" (anything else is tried as an image)."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"


def read_image(path: str | Path) -> np.ndarray:
    """The engine's reader (EXIF orientation, clear errors) as a SourceError."""
    from trainer.faces import ImageReadError, read_image as engine_read

    try:
        return engine_read(path)
    except ImageReadError as exc:
        raise SourceError(str(exc)) from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None


class CameraSource:
    # Consecutive failed reads before the camera counts as gone (a USB hiccup is one or two).
    MAX_FAILURES = 10

    def __init__(self, index: int, size: tuple[int, int] | None = (640, 480)) -> None:
        self.index = index
        self.name = f"camera {index}"
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"No camera at index {index}: check that it is plugged in and not used "
                              "by another program, or choose another index.")
        if size is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
        self._cap = cap
        self._failures = 0
        self.frames = 0

    @property
    def size(self) -> tuple[int, int]:
        return int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def read(self) -> np.ndarray | None:
        """The next frame; None for a dropped one; SourceError once the camera is gone."""
        ok, frame = self._cap.read()
        if ok and frame is not None and frame.size:
            self._failures = 0
            self.frames += 1
            return frame
        self._failures += 1
        if self._failures >= self.MAX_FAILURES:
            raise SourceError(f"Camera {self.index} stopped delivering frames (unplugged?).")
        return None

    def close(self) -> None:
        self._cap.release()


class VideoSource:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise SourceError(f"Video not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"Cannot open video {self.path.name}: not a video OpenCV can read.")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and 1 <= fps <= 240 else 25.0
        self.frame_count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self._cap = cap
        self.position = 0  # index of the next frame read() returns
        first = self.read()
        if first is None:
            cap.release()
            raise SourceError(f"Cannot read any frame from {self.path.name}.")
        self.seek(0)

    def read(self) -> np.ndarray | None:
        """The next frame, None at the end."""
        ok, frame = self._cap.read()
        if not ok or frame is None:
            if self.position > self.frame_count:
                self.frame_count = self.position  # containers without a count learn it at the end
            return None
        self.position += 1
        return frame

    def seek(self, index: int) -> None:
        index = max(0, min(index, max(0, self.frame_count - 1)))
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self.position = index

    def close(self) -> None:
        self._cap.release()


class ImageFolder:
    """The image files of one folder, in name order, with a current one: next/previous."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir():
            folder, current = path, None
        elif path.is_file():
            folder, current = path.parent, path
        else:
            raise SourceError(f"Not found: {path}")
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                       key=lambda p: p.name.lower())
        if current is not None and current not in files:
            files.insert(0, current)  # an image with an unusual suffix still opens
        if not files:
            raise SourceError(f"No images in {folder}")
        self.folder = folder
        self.files = files
        self.index = files.index(current) if current is not None else 0
        self.name = str(folder)

    @property
    def current(self) -> Path:
        return self.files[self.index]

    def step(self, delta: int) -> bool:
        """Move by ``delta`` files (clamped); False when already at that end."""
        new = max(0, min(len(self.files) - 1, self.index + delta))
        moved = new != self.index
        self.index = new
        return moved

    def load(self) -> np.ndarray:
        return read_image(self.current)

    def close(self) -> None:
        pass
