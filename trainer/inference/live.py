"""Live-view logic for a stream of frames, free of Qt: detect faces now and then on a
downscaled frame, follow them in between with optical flow, classify every frame and
smooth each face's probabilities over time.

Why: a detector costs 20-40 ms per 640x480 frame on two cores, the classifier ~5 ms. Running
the detector every ``detect_every`` frames (or at once when a track is lost) and moving each
face with pyramidal Lucas-Kanade flow (~1 ms) in between keeps the view above 30 fps. The
aligner needs the eye points, so the flow moves those too (a similarity transform fitted to
the points tracked inside the face box).

Usage::

    live = LivePipeline(detector, aligner, predictor.predict_crops)
    for frame in frames:
        faces = live.process(frame)          # list[LiveFace], largest first
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import cv2
import numpy as np

from trainer.faces.geometry import match_boxes
from trainer.faces.prepare import clip_face
from trainer.faces.types import check_image


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Any]: ...


class Aligner(Protocol):
    def align(self, image: np.ndarray, face: Any) -> np.ndarray: ...


Classify = Callable[[Sequence[np.ndarray]], np.ndarray]


@dataclass
class LiveConfig:
    detect_every: int = 8  # frames between detections while every track is healthy
    detect_max_side: int = 320  # the frame is downscaled so its longer side is at most this
    ema_alpha: float = 0.35  # weight of the newest probabilities in the running average
    iou_match: float = 0.3  # a detection continues a track when their boxes overlap this much
    keep_unmatched: int = 1  # detection rounds a healthy track may go unconfirmed
    min_points: int = 6  # fewer tracked points than this and the track is lost
    max_points: int = 40
    fb_error_px: float = 1.5  # forward-backward flow error above which a point is dropped
    max_scale_step: float = 1.25  # a box growing/shrinking more than this in one frame is lost
    flow_window: int = 21
    flow_levels: int = 3
    # Detect in a background thread and keep tracking meanwhile: no stall on detection
    # frames (a detector costs several tracked frames). Its faces are carried by the flow
    # from the frame they were found in to the current one.
    async_detect: bool = False
    # Classifier time a frame may take (a 30-fps webcam's period). A model too slow to see every
    # face in it (one with test views, many faces) sees the faces it saw longest ago first; the
    # others keep their last probabilities for a frame or two, so the view never waits for it.
    # None: every face every frame (exports, which are for analysis).
    classify_budget_ms: float | None = 33.0


@dataclass
class LiveFace:
    """One face in one frame: where it is, what the model saw, what it said."""

    track_id: int
    face: Any  # trainer.faces.Face, in full-frame coordinates
    crop: np.ndarray
    probs: np.ndarray  # this frame's probabilities
    smoothed: np.ndarray  # exponential moving average over the track's frames
    detected: bool  # True when the box came from the detector this frame, False when tracked
    method: str = "detect"  # how the crop was made (trainer.faces.prepare: detect | crop | asis)

    def probabilities(self, smoothed: bool) -> np.ndarray:
        return self.smoothed if smoothed else self.probs


@dataclass
class LiveTimings:
    detect_ms: float = 0.0
    track_ms: float = 0.0
    align_ms: float = 0.0
    classify_ms: float = 0.0
    detected: bool = False
    background_detect_ms: float = 0.0  # async mode: the detection whose faces arrived this frame

    @property
    def total_ms(self) -> float:
        return self.detect_ms + self.track_ms + self.align_ms + self.classify_ms


# --- tracking ---------------------------------------------------------------------------------

@dataclass
class Track:
    track_id: int
    face: Any
    points: np.ndarray  # (N, 1, 2) float32 feature points inside the face, current frame
    smoothed: np.ndarray | None = None
    unconfirmed: int = 0  # detection rounds since the detector last saw this face
    seeded_with: int = 0
    lost: bool = False  # the flow lost it this frame: only a detection can continue it
    crop: np.ndarray | None = None  # what the classifier last saw of it, and what it said
    probs: np.ndarray | None = None
    classified_at: int = -1  # the frame number of that


def _seed_points(grey: np.ndarray, face: Any, max_points: int) -> np.ndarray:
    """Corners inside the inner face box, plus the eyes: what the flow will follow."""
    h, w = grey.shape
    x, y, bw, bh = face.box
    # The inner 70%: the box border often lies on background or hair that moves differently.
    x0, y0 = max(0, int(x + 0.15 * bw)), max(0, int(y + 0.15 * bh))
    x1, y1 = min(w, int(x + 0.85 * bw)), min(h, int(y + 0.85 * bh))
    pts = []
    if x1 - x0 >= 8 and y1 - y0 >= 8:
        # On the region only: corner detection over the whole frame costs several ms.
        min_dist = max(2.0, 0.06 * min(bw, bh))
        corners = cv2.goodFeaturesToTrack(grey[y0:y1, x0:x1], max_points, 0.01, min_dist, blockSize=5)
        if corners is not None:
            pts.append(corners.reshape(-1, 2) + np.array([x0, y0], np.float32))
    pts.append(np.array([face.left_eye, face.right_eye], dtype=np.float32))
    return np.concatenate(pts).astype(np.float32).reshape(-1, 1, 2)


class LivePipeline:
    """Faces and smoothed probabilities for consecutive frames of one stream.

    Not thread-safe: one instance per stream, used from one thread. Call :meth:`reset` when
    the stream jumps (a seek, another source)."""

    def __init__(self, detector: Detector, aligner: Aligner, classify: Classify,
                 config: LiveConfig | None = None) -> None:
        self.detector = detector
        self.aligner = aligner
        self.classify = classify
        self.config = config or LiveConfig()
        self.tracks: list[Track] = []
        self.timings = LiveTimings()
        self._ids = itertools.count(1)
        self._prev_grey: np.ndarray | None = None
        self._since_detect = 0
        self._frame_no = 0
        self._face_ms: float | None = None  # the classifier's time a face, a running average
        # Async mode: one worker, so the detector is never used by two threads at once.
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._pending_grey: np.ndarray | None = None

    def reset(self) -> None:
        """A new stream (a source, a seek, a still image): no tracks, and face numbers start
        at 1 again, so the one face of an image is face 1, not the 13th seen in a folder."""
        self.tracks = []
        self._ids = itertools.count(1)
        self._prev_grey = None
        self._since_detect = 0
        self._pending = None  # a detection still running finishes unseen

    def close(self) -> None:
        """Stop the background detection thread (async mode); the pipeline still works after."""
        self._pending = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def exclusive(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` where the detector is never used by two threads at once: on the
        background detection worker in async mode, else here (a still image detects with the
        same detector as the stream)."""
        if self._executor is None:
            return fn(*args)
        return self._executor.submit(fn, *args).result()

    def _detect_now(self, frame: np.ndarray) -> list[Any]:
        """A synchronous detection; in async mode through the worker (never two at once)."""
        if self._executor is None:
            return self.detect(frame)
        return self._executor.submit(self.detect, frame).result()

    def _submit(self, frame: np.ndarray, grey: np.ndarray) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="live-detect")
        started = time.perf_counter()

        def job() -> tuple[list[Any], float]:
            faces = self.detect(frame)
            return faces, (time.perf_counter() - started) * 1000

        self._pending = self._executor.submit(job)
        self._pending_grey = grey

    # -- detection --

    def detect(self, frame: np.ndarray) -> list[Any]:
        """Detector faces in full-frame coordinates, found on a downscaled copy."""
        h, w = frame.shape[:2]
        scale = min(1.0, self.config.detect_max_side / max(h, w)) if self.config.detect_max_side > 0 else 1.0
        if scale >= 0.999:
            return list(self.detector.detect(frame))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))  # a 1x10000 frame stays 1 px high
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        return [f.mapped(w / size[0], h / size[1]) for f in self.detector.detect(small)]

    # -- the per-frame step --

    def process(self, frame: np.ndarray, *, still: bool = False) -> list[LiveFace]:
        """Faces in ``frame``, largest first. ``still``: a lone image (detect, no smoothing,
        no tracking state carried to the next call). Any grey, BGR or BGRA array of any
        numeric type is taken (as the detectors take it); others raise ValueError."""
        frame = check_image(frame)
        timings = LiveTimings()
        if still:
            self.reset()
        # A copy for grey input: the flow compares against it next frame, and callers reuse buffers.
        grey = frame.copy() if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self._prev_grey is not None and grey.shape != self._prev_grey.shape:
            self.reset()  # a new resolution is a new stream

        lost = self._track(grey, timings)
        self._since_detect += 1
        due = still or lost or not self.tracks or self._since_detect >= self.config.detect_every
        detected_ids: set[int] = set()
        if self.config.async_detect and not still:
            due, detected_ids = self._collect_background(frame, grey, due, timings)
        if due:
            detected_ids = self._detect_here(frame, grey, timings)
        if not still:
            self._prev_grey = grey
        self.tracks.sort(key=lambda t: -t.face.box[2] * t.face.box[3])
        # Lost tracks wait (async mode) for the detector to continue or drop them: not shown.
        shown = [t for t in self.tracks if not t.lost]
        fresh = self._classify(frame, shown, timings, still)
        self._frame_no += 1
        self.timings = timings
        out = [self._smoothed(track, seen, track.track_id in detected_ids, still)
               for track, seen in zip(shown, fresh)]
        h, w = frame.shape[:2]
        for face in out:  # tracks keep their whole box (the flow checks how much is in view); shown, it is cut
            face.face = clip_face(face.face, w, h)
        if still:
            self.tracks = []
        return out

    def _track(self, grey: np.ndarray, timings: LiveTimings) -> bool:
        """Follow the tracks into ``grey``; True when one was lost (detect at once)."""
        t0 = time.perf_counter()
        lost = False
        if self.tracks and self._prev_grey is not None:
            lost = self._follow(grey)
        elif self.tracks:  # no previous frame to flow from (cannot happen after reset): detect
            lost = True
        timings.track_ms = (time.perf_counter() - t0) * 1000
        return lost

    def _collect_background(self, frame: np.ndarray, grey: np.ndarray, due: bool,
                            timings: LiveTimings) -> tuple[bool, set[int]]:
        """Async mode: take a finished background detection, start the next one when due.
        Returns (detect on this frame now, ids the detector confirmed)."""
        detected_ids: set[int] = set()
        active = any(not t.lost for t in self.tracks)
        # Collect a finished detection; with nothing left to follow, wait for it.
        if self._pending is not None and (self._pending.done() or not active):
            pending, old_grey = self._pending, self._pending_grey
            self._pending = self._pending_grey = None
            detections, timings.background_detect_ms = pending.result()  # re-raises the detector's error
            t2 = time.perf_counter()
            self._associate(self._carry(detections, old_grey, grey), grey)
            timings.track_ms += (time.perf_counter() - t2) * 1000
            timings.detected = True
            detected_ids = {t.track_id for t in self.tracks if t.unconfirmed == 0}
            active = any(not t.lost for t in self.tracks)
        if not active:
            # Nothing to track, so nothing to keep smooth: detect on this very frame, as
            # the sync mode does (a paused video or a new stream shows its faces at once).
            return True, detected_ids
        if due and self._pending is None:
            self._submit(frame.copy(), grey)  # a copy: the caller may reuse its buffer meanwhile
            self._since_detect = 0
        return False, detected_ids

    def _detect_here(self, frame: np.ndarray, grey: np.ndarray, timings: LiveTimings) -> set[int]:
        """Detect on this frame and update the tracks; the ids the detector confirmed."""
        t_detect = time.perf_counter()
        detections = self._detect_now(frame)
        t2 = time.perf_counter()
        timings.detect_ms = (t2 - t_detect) * 1000
        timings.detected = True
        self._since_detect = 0
        self._associate(detections, grey)
        timings.track_ms += (time.perf_counter() - t2) * 1000  # seeding points is tracking work
        return {t.track_id for t in self.tracks if t.unconfirmed == 0}

    def _classify(self, frame: np.ndarray, shown: list[Track], timings: LiveTimings, still: bool) -> list[bool]:
        """Align and classify the faces due this frame (all of them, unless the budget says
        otherwise); each track keeps its crop and probabilities. Returns which were seen now."""
        due = self._due(shown, still)
        t2 = time.perf_counter()
        crops = [self.aligner.align(frame, t.face) for t, d in zip(shown, due) if d]
        t3 = time.perf_counter()
        probs = np.asarray(self.classify(crops), dtype=np.float32) if crops else np.zeros((0, 0), np.float32)
        timings.align_ms = (t3 - t2) * 1000
        timings.classify_ms = (time.perf_counter() - t3) * 1000
        if crops:
            per_face = timings.classify_ms / len(crops)
            self._face_ms = per_face if self._face_ms is None else 0.7 * self._face_ms + 0.3 * per_face
        seen = iter(zip(crops, probs))
        for track, d in zip(shown, due):
            if d:
                track.crop, track.probs = next(seen)
                track.classified_at = self._frame_no
        return due

    def _due(self, shown: list[Track], still: bool) -> list[bool]:
        """Which faces the classifier sees this frame: every one while they fit the budget;
        else as many as fit, those seen longest ago first, and always a face never seen."""
        budget = self.config.classify_budget_ms
        if still or budget is None or self._face_ms is None:
            return [True] * len(shown)
        fit = max(1, int(budget // max(self._face_ms, 1e-3)))
        if fit >= len(shown):
            return [True] * len(shown)
        stalest = set(sorted(range(len(shown)), key=lambda i: shown[i].classified_at)[:fit])
        return [i in stalest or t.probs is None for i, t in enumerate(shown)]

    def _smoothed(self, track: Track, seen: bool, detected: bool, still: bool) -> LiveFace:
        """This frame's face; its running average takes the probabilities when they are new
        (restarted for a still image), and stays when the classifier did not see it this frame."""
        p = track.probs
        if track.smoothed is None or track.smoothed.shape != p.shape or still:
            track.smoothed = p.copy()
        elif seen:
            track.smoothed = self.config.ema_alpha * p + (1.0 - self.config.ema_alpha) * track.smoothed
        return LiveFace(track.track_id, track.face, track.crop, p.copy(), track.smoothed.copy(), detected=detected)

    # -- internals --

    def _follow(self, grey: np.ndarray) -> bool:
        """Move every track by the flow from the previous frame; drop the ones that cannot
        be followed. True when any track was lost (so the caller detects at once); lost tracks
        stay, flagged, so a detection in the same frame can continue them (same id, same
        running average)."""
        cfg = self.config
        prev = self._prev_grey
        followed = [t for t in self.tracks if not t.lost]
        if not followed:
            return False
        # All tracks in one flow call: per-call overhead dominates for a few dozen points.
        counts = [len(t.points) for t in followed]
        p0 = np.concatenate([t.points for t in followed]).astype(np.float32)
        p1, good_all = self._flow(prev, grey, p0)

        lost = False
        start = 0
        h, w = grey.shape
        for track, n in zip(followed, counts):
            sl = slice(start, start + n)
            start += n
            good = good_all[sl]
            a, b = p0[sl][good].reshape(-1, 2), p1[sl][good].reshape(-1, 2)
            moved = self._fit_motion(track.face, a, b, w, h)
            if moved is None:
                track.lost = lost = True
                continue
            track.face = moved
            track.points = b.reshape(-1, 1, 2)
            if len(track.points) < max(cfg.min_points, track.seeded_with // 2):
                track.points = _seed_points(grey, moved, cfg.max_points)
                track.seeded_with = len(track.points)
        return lost

    def _flow(self, prev: np.ndarray, grey: np.ndarray, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points moved from ``prev`` to ``grey``, and which of them survived the
        forward-backward check."""
        cfg = self.config
        win = (cfg.flow_window, cfg.flow_window)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, grey, p0, None, winSize=win, maxLevel=cfg.flow_levels,
                                              criteria=criteria)
        p0r, st2, _ = cv2.calcOpticalFlowPyrLK(grey, prev, p1, None, winSize=win, maxLevel=cfg.flow_levels,
                                               criteria=criteria)
        fb = np.linalg.norm((p0 - p0r).reshape(-1, 2), axis=1)
        return p1, (st1.ravel() == 1) & (st2.ravel() == 1) & (fb < cfg.fb_error_px)

    def _carry(self, detections: list[Any], old: np.ndarray | None, grey: np.ndarray) -> list[Any]:
        """Faces found in an earlier frame ``old``, moved into the current one by the flow
        (async mode: the stream went on while the detector ran). Faces the flow cannot
        carry are dropped; the next detection finds them again."""
        if old is None or old is grey or not detections:
            return detections
        h, w = grey.shape
        seeds = [_seed_points(old, d, self.config.max_points) for d in detections]
        p0 = np.concatenate(seeds).astype(np.float32)
        p1, good_all = self._flow(old, grey, p0)
        out, start = [], 0
        for det, pts in zip(detections, seeds):
            sl = slice(start, start + len(pts))
            start += len(pts)
            good = good_all[sl]
            moved = self._fit_motion(det, p0[sl][good].reshape(-1, 2), p1[sl][good].reshape(-1, 2), w, h)
            if moved is not None:
                out.append(moved)
        return out

    def _fit_motion(self, face: Any, a: np.ndarray, b: np.ndarray, w: int, h: int) -> Any | None:
        cfg = self.config
        if len(a) < cfg.min_points:
            return None
        m, inliers = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=2.0)
        if m is None or inliers is None or int(inliers.sum()) < cfg.min_points:
            return None
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        if not (1 / cfg.max_scale_step <= scale <= cfg.max_scale_step):
            return None
        moved = face.transformed(m)
        x, y, bw, bh = moved.box
        # Mostly off-frame: let the detector decide whether it is still there.
        vis_w = min(x + bw, w) - max(x, 0)
        vis_h = min(y + bh, h) - max(y, 0)
        if bw <= 0 or bh <= 0 or vis_w <= 0 or vis_h <= 0 or vis_w * vis_h < 0.5 * bw * bh:
            return None
        return moved

    def _associate(self, detections: list[Any], grey: np.ndarray) -> None:
        """Detections take over the tracks they overlap (keeping the track id and its
        running average); new ones start tracks; tracks the detector no longer sees are kept
        for ``keep_unmatched`` rounds while the flow still follows them."""
        cfg = self.config
        pairs = match_boxes([t.face.box for t in self.tracks], [d.box for d in detections], cfg.iou_match)
        matched_t = {i for i, _ in pairs}
        matched_d = {j for _, j in pairs}
        new_tracks: list[Track] = []
        for i, j in pairs:
            track = self.tracks[i]
            track.face = detections[j]
            track.unconfirmed = 0
            track.lost = False
            new_tracks.append(track)
        for i, track in enumerate(self.tracks):
            if i not in matched_t and not track.lost:
                track.unconfirmed += 1
                if track.unconfirmed <= cfg.keep_unmatched:
                    new_tracks.append(track)
        for j, det in enumerate(detections):
            if j not in matched_d:
                new_tracks.append(Track(next(self._ids), det, np.zeros((0, 1, 2), np.float32)))
        for track in new_tracks:
            if track.unconfirmed == 0:
                track.points = _seed_points(grey, track.face, cfg.max_points)
                track.seeded_with = len(track.points)
        self.tracks = new_tracks
