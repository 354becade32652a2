"""trainer/inference/live.py: tracking between detections, downscaled detection, smoothing.

A fake detector that knows where the synthetic face is keeps these tests independent of the
real detectors (and fast)."""

from __future__ import annotations


import numpy as np
import pytest

from fer_desktop.fps import FpsMeter
from trainer.faces import Face
from trainer.faces.geometry import box_iou, match_boxes
from trainer.inference.live import LiveConfig, LivePipeline


FACE_BOX = (177, 66, 95, 95)  # the astronaut's face in scikit-image's 512x512 picture


def face_at(x: float, y: float, w: int = 95, h: int = 95) -> Face:
    return Face((round(x), round(y), w, h), 0.99, (x + 0.3 * w, y + 0.4 * h), (x + 0.7 * w, y + 0.4 * h))


class MovingFace:
    """640x480 frames with the astronaut's face patch sliding over a textured background."""

    def __init__(self, astronaut_bgr: np.ndarray, frames: int = 40, step: tuple[int, int] = (4, 2)) -> None:
        x, y, w, h = FACE_BOX
        self.patch = astronaut_bgr[y - 10:y + h + 10, x - 10:x + w + 10].copy()
        rng = np.random.default_rng(0)
        bg = rng.integers(60, 120, (480 // 8, 640 // 8, 3), dtype=np.uint8)
        self.background = np.kron(bg, np.ones((8, 8, 1), np.uint8))
        self.positions = [(100 + step[0] * i, 120 + step[1] * i) for i in range(frames)]

    def frame(self, i: int, with_face: bool = True) -> np.ndarray:
        img = self.background.copy()
        if with_face:
            px, py = self.positions[i]
            ph, pw = self.patch.shape[:2]
            img[py:py + ph, px:px + pw] = self.patch
        return img

    def true_face(self, i: int, scale: float = 1.0) -> Face:
        px, py = self.positions[i]
        return face_at(px + 10, py + 10).mapped(scale, scale)


class FakeDetector:
    """Returns the true face, in the coordinates of the (possibly downscaled) image it gets."""

    def __init__(self, scene: MovingFace) -> None:
        self.scene = scene
        self.current = 0
        self.visible = True
        self.calls = 0
        self.sizes: list[tuple[int, int]] = []

    def detect(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        self.sizes.append(image.shape[:2])
        if not self.visible:
            return []
        return [self.scene.true_face(self.current, image.shape[1] / 640)]


class FakeAligner:
    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        return np.zeros((48, 48), np.uint8)


def classify_alternating(crops) -> np.ndarray:
    """Probabilities that flip between two classes every call: smoothing should damp them."""
    classify_alternating.n += 1
    p = np.array([0.9, 0.1], np.float32) if classify_alternating.n % 2 else np.array([0.1, 0.9], np.float32)
    return np.stack([p] * len(crops))


classify_alternating.n = 0


@pytest.fixture
def scene(astronaut_bgr) -> MovingFace:
    return MovingFace(astronaut_bgr)


def run(scene: MovingFace, live: LivePipeline, det: FakeDetector, n: int):
    out = []
    for i in range(n):
        det.current = i
        out.append(live.process(scene.frame(i)))
    return out


def test_tracks_between_detections_and_detects_on_a_downscaled_frame(scene):
    det = FakeDetector(scene)
    live = LivePipeline(det, FakeAligner(), classify_alternating, LiveConfig(detect_every=10, detect_max_side=320))
    results = run(scene, live, det, 40)
    assert det.calls == 4  # frames 0, 10, 20, 30: tracking carried the rest
    assert all(size == (240, 320) for size in det.sizes)
    assert {faces[0].track_id for faces in results} == {1}  # one face, one id throughout
    for i, faces in enumerate(results):
        assert len(faces) == 1
        truth = scene.true_face(i)
        # Detected boxes come back from a half-size frame: within rounding; tracked ones follow.
        assert box_iou(faces[0].face.box, truth.box) > 0.85, (i, faces[0].face.box, truth.box)
        assert np.hypot(*np.subtract(faces[0].face.left_eye, truth.left_eye)) < 3.0
    assert [f[0].detected for f in results[:3]] == [True, False, False]


def test_lost_face_triggers_detection_at_once(scene):
    det = FakeDetector(scene)
    live = LivePipeline(det, FakeAligner(), classify_alternating, LiveConfig(detect_every=100))
    run(scene, live, det, 5)
    assert det.calls == 1
    det.current, det.visible = 5, False
    faces = live.process(scene.frame(5, with_face=False))
    assert faces == [] and det.calls == 2  # the flow failed, the detector confirmed: gone


def test_redetected_face_keeps_its_id_and_a_new_face_gets_another(scene):
    det = FakeDetector(scene)
    live = LivePipeline(det, FakeAligner(), classify_alternating, LiveConfig(detect_every=3))
    run(scene, live, det, 7)
    assert [t.track_id for t in live.tracks] == [1]
    live.reset()  # a new stream (another image, a seek): face numbers start at 1 again
    det.current = 7
    assert live.process(scene.frame(7))[0].track_id == 1
    assert next(live._ids) == 2  # ... and the next new face would be face 2


def test_smoothing_damps_flicker_and_still_mode_does_not_smooth(scene):
    det = FakeDetector(scene)
    live = LivePipeline(det, FakeAligner(), classify_alternating, LiveConfig(ema_alpha=0.3))
    results = run(scene, live, det, 12)
    raw = np.array([f[0].probs[0] for f in results[2:]])
    smooth = np.array([f[0].smoothed[0] for f in results[2:]])
    assert raw.max() - raw.min() == pytest.approx(0.8)
    assert smooth.max() - smooth.min() < 0.4
    assert np.allclose([f[0].smoothed.sum() for f in results], 1.0)
    still = live.process(scene.frame(0), still=True)
    assert np.array_equal(still[0].probs, still[0].smoothed)
    assert live.tracks == []


def test_no_faces_means_no_classifier_call(scene):
    det = FakeDetector(scene)
    det.visible = False
    calls = []
    live = LivePipeline(det, FakeAligner(), lambda crops: calls.append(len(crops)) or np.zeros((0, 2)))
    assert live.process(scene.frame(0, with_face=False)) == []
    assert calls == []


class ThreeFaces:
    """Three still copies of the astronaut's face on a textured frame, and a detector that knows them."""

    def __init__(self, astronaut_bgr: np.ndarray) -> None:
        scene = MovingFace(astronaut_bgr, frames=1)
        self.image = scene.background.copy()
        ph, pw = scene.patch.shape[:2]
        self.faces = []
        for x in (30, 240, 450):
            self.image[150:150 + ph, x:x + pw] = scene.patch
            self.faces.append(face_at(x + 10, 160))

    def detect(self, image: np.ndarray) -> list[Face]:
        scale = image.shape[1] / 640
        return [f.mapped(scale, scale) for f in self.faces]


def test_a_slow_classifier_sees_the_stalest_faces_first_and_the_view_does_not_wait(astronaut_bgr):
    """20 ms a face against a 33 ms budget: after the first frame (all three faces, to learn the
    cost) each frame classifies one face, the one seen longest ago; the others keep their last
    probabilities and their running average stands still. Without a budget every face, every frame."""
    import time

    scene = ThreeFaces(astronaut_bgr)
    calls: list[int] = []

    def slow(crops):  # call k answers [k/100, 1 - k/100]: which call saw a face is in its probabilities
        calls.append(len(crops))
        time.sleep(0.02 * len(crops))
        k = len(calls) / 100
        return np.tile(np.array([[k, 1 - k]], np.float32), (len(crops), 1))

    live = LivePipeline(scene, FakeAligner(), slow, LiveConfig(detect_every=100, classify_budget_ms=33.0))
    frames = [live.process(scene.image) for _ in range(7)]
    assert [len(f) for f in frames] == [3] * 7 and calls == [3, 1, 1, 1, 1, 1, 1]
    seen = [[face.track_id for face in f if np.isclose(face.probs[0], (n + 1) / 100)] for n, f in enumerate(frames)]
    assert seen[0] == [1, 2, 3] and all(len(ids) == 1 for ids in seen[1:])
    order = [ids[0] for ids in seen[1:]]
    assert sorted(order[:3]) == [1, 2, 3] and order[:3] == order[3:]  # round robin, stalest first
    stale = [f for f in frames[1] if f.track_id != order[0]]
    assert all(np.allclose(f.probs, [0.01, 0.99]) and np.allclose(f.smoothed, [0.01, 0.99]) for f in stale)

    calls.clear()
    every = LivePipeline(scene, FakeAligner(), slow, LiveConfig(detect_every=100, classify_budget_ms=None))
    for _ in range(3):
        every.process(scene.image)
    assert calls == [3, 3, 3]


def test_geometry_helpers():
    f = face_at(10, 20, 40, 40)
    s = f.mapped(2.0, 2.0)  # pixel centres: (22 + 0.5) * 2 - 0.5
    assert s.box == pytest.approx((20, 40, 80, 80)) and s.left_eye == pytest.approx((44.5, 72.5))
    m = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0]])
    t = f.transformed(m)
    assert t.box == pytest.approx((15, 17, 40, 40)) and t.right_eye == pytest.approx((f.right_eye[0] + 5, f.right_eye[1] - 3))
    lm = Face(f.box, 1.0, f.left_eye, f.right_eye, np.zeros((5, 2), np.float32))
    assert lm.transformed(m).landmarks[0].tolist() == [5.0, -3.0]
    r = f.transformed(np.array([[0.0, -2.0, 100.0], [2.0, 0.0, 0.0]]))  # rotate 90 degrees, scale 2
    assert r.box[2:] == pytest.approx((80, 80)) and r.left_eye == pytest.approx((100 - 2 * 36, 2 * 22))
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)
    assert match_boxes([(0, 0, 10, 10), (100, 100, 10, 10)], [(101, 99, 10, 10), (1, 1, 10, 10)], 0.3) == [(0, 1), (1, 0)] or \
        sorted(match_boxes([(0, 0, 10, 10), (100, 100, 10, 10)], [(101, 99, 10, 10), (1, 1, 10, 10)], 0.3)) == [(0, 1), (1, 0)]


def test_fps_meter():
    meter = FpsMeter(window=5)
    for i in range(10):
        meter.tick(i * 0.04)
    assert meter.fps == pytest.approx(25.0)


def test_engine_faces_keep_eye_corners_and_pixel_centres_through_tracking_maths():
    from trainer.faces import Face as EngineFace

    f = EngineFace((10.0, 20.0, 40.0, 40.0), 0.9, (22.0, 36.0), (38.0, 36.0),
                   np.array([[22.0, 36.0], [38.0, 36.0]]), ((18.0, 36.0), (42.0, 36.0)), "landmarks")
    moved = f.transformed(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]))
    assert isinstance(moved, EngineFace) and moved.eye_source == "landmarks"
    assert moved.eye_corners == ((20.0, 37.0), (44.0, 37.0))
    assert moved.landmarks[1].tolist() == [40.0, 37.0]


class TemplateDetector:
    """Finds the face patch by template matching (so it works on whatever frame it gets,
    whenever it runs), slowly: like a real detector, it takes longer than a tracked frame."""

    def __init__(self, scene: MovingFace, delay: float = 0.03) -> None:
        self.scene = scene
        self.delay = delay
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        import time

        import cv2

        self.calls += 1
        time.sleep(self.delay)
        s = image.shape[1] / 640
        patch = cv2.resize(self.scene.patch, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        res = cv2.matchTemplate(image, patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (px, py) = cv2.minMaxLoc(res)
        if best < 0.6:
            return []
        return [face_at(px / s + 10, py / s + 10).mapped(s, s)]


def test_async_detection_tracks_without_waiting_for_the_detector(scene):
    import time

    det = TemplateDetector(scene, delay=0.08)
    live = LivePipeline(det, FakeAligner(), classify_alternating,
                        LiveConfig(detect_every=10, async_detect=True))
    try:
        results, durations = [], []
        for i in range(40):
            t0 = time.perf_counter()
            results.append(live.process(scene.frame(i)))
            durations.append(time.perf_counter() - t0)
            time.sleep(0.01)  # the stream's pace
        # Nothing to track on the first frame: it waits for the detector (that later frames
        # never do is shown without a clock below: the times of a loaded machine prove nothing).
        assert durations[0] >= 0.08
        for i in range(40):
            assert len(results[i]) == 1 and results[i][0].track_id == 1
            assert box_iou(results[i][0].face.box, scene.true_face(i).box) > 0.8, i
        assert 3 <= det.calls <= 8
        # The face goes: the flow loses it at once (not shown), the detector confirms.
        gone = [live.process(scene.frame(39, with_face=False))]
        for _ in range(20):
            time.sleep(0.01)
            gone.append(live.process(scene.frame(39, with_face=False)))
        assert all(g == [] for g in gone) and live.tracks == []
    finally:
        live.close()


def test_frames_keep_coming_while_the_background_detector_is_stuck(scene):
    import threading

    det = TemplateDetector(scene, delay=0.0)
    entered, gate, released = threading.Event(), threading.Event(), threading.Event()
    detect = det.detect

    def stuck_after_the_first(image):
        if det.calls >= 1:  # the first detection (nothing to track yet) goes through
            entered.set()
            gate.wait(timeout=10)
            released.set()
        return detect(image)

    det.detect = stuck_after_the_first
    live = LivePipeline(det, FakeAligner(), classify_alternating, LiveConfig(detect_every=5, async_detect=True))
    try:
        assert len(live.process(scene.frame(0))) == 1
        i = 1
        while not entered.is_set() and i < 20:  # until a background detection is under way
            live.process(scene.frame(i))
            i += 1
        entered.wait(timeout=5)
        shown = [live.process(scene.frame(j)) for j in range(i, i + 12)]
        # Twelve frames tracked while the detector had not come back: had process() waited for
        # it, these frames would only have come after the gate's timeout released it.
        assert not released.is_set()
        assert all(len(faces) == 1 and faces[0].track_id == 1 for faces in shown)
    finally:
        gate.set()
        live.close()


def test_async_still_images_detect_synchronously(scene):
    det = TemplateDetector(scene, delay=0.0)
    live = LivePipeline(det, FakeAligner(), classify_alternating, LiveConfig(async_detect=True))
    try:
        assert len(live.process(scene.frame(3), still=True)) == 1
    finally:
        live.close()
