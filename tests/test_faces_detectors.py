"""Face detector back-ends on a real face (scikit-image's astronaut): detection, eyes,
alignment of a rotated photo measured independently in the output crop, face-free images,
and the registry (names, availability, DetectorUnavailable messages)."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import pytest

from trainer.faces import (DetectorUnavailable, Face, FaceAligner, FaceDetector, FacePipeline,
                           available_detectors, create_detector)
from conftest import ASTRONAUT_EYES
from trainer.faces.geometry import rotate_padded

BACKENDS = ("haar", "mtcnn", "dlib", "blazeface")
AVAILABLE = available_detectors()


@functools.lru_cache(maxsize=None)
def detector(name: str, **options) -> FaceDetector:
    return create_detector(name, **options)


def needs(name: str):
    return pytest.mark.skipif(AVAILABLE.get(name) is not None, reason=f"{name}: {AVAILABLE.get(name)}")


backends = pytest.mark.parametrize("name", [pytest.param(n, marks=needs(n)) for n in BACKENDS])


# The astronaut's hand-measured eye centres (tests/conftest.py). Detectors differ from these by
# their own convention (dlib's contour mean sits ~1.3 px lower, mid eye opening) and their error.
HAND_EYES = np.array(ASTRONAUT_EYES)
# How far a back-end's eyes may be from the hand-measured ones, in the input's pixels, and how
# much their line may tilt: MTCNN's 5 points are regressed from a 48x48 window, so its roll
# is off by 1.6 degrees on average on SFEW faces turned 15-20 degrees (docs/detectors.md).
EYE_TOLERANCE_PX = 4.0
LEVEL_TOLERANCE_DEG = {"haar": 2.0, "dlib": 2.0, "mtcnn": 3.0, "blazeface": 3.0}


def test_available_detectors_lists_every_name():
    assert set(AVAILABLE) == {"auto", "haar", "mtcnn", "dlib", "face-alignment", "blazeface"}
    assert AVAILABLE["haar"] is None  # OpenCV is a dependency
    assert AVAILABLE["auto"] is None
    for reason in AVAILABLE.values():
        assert reason is None or "pip install" in reason or "missing" in reason


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown face detector 'nope'.*haar"):
        create_detector("nope")


def test_auto_picks_the_first_available_in_the_measured_order():
    from trainer.faces.detectors.registry import AUTO_ORDER

    expected = next(n for n in AUTO_ORDER if AVAILABLE[n] is None)
    assert create_detector("auto").name == expected
    assert create_detector("AUTO", device="cpu").name == expected  # options another back-end lacks are dropped


@backends
def test_backend_finds_the_astronaut_and_her_eyes(name, astronaut_bgr):
    det = detector(name)
    assert isinstance(det, FaceDetector) and det.name == name
    for image in (astronaut_bgr, cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)):
        faces = det.detect(image)
        assert len(faces) == 1, faces
        f = faces[0]
        x, y, w, h = f.box
        assert 150 < x + w / 2 < 300 and 70 < y + h / 2 < 180  # her face, not the flag or the helmet
        found = np.array([f.left_eye, f.right_eye])
        assert np.hypot(*(found - HAND_EYES).T).max() < EYE_TOLERANCE_PX, found.round(1)
        assert f.eye_source == "landmarks"
        assert f.score > 0


@backends
def test_rotated_photo_comes_out_level_with_the_eyes_on_target(name, astronaut_bgr):
    rotated, m = rotate_padded(astronaut_bgr, 15.0)
    pipeline = FacePipeline(detector(name))
    aligned = pipeline.process(rotated)
    assert len(aligned) == 1
    a = aligned[0]
    # The photo's eye line is at +2.9 degrees; rotated by 15 it is about -12.
    assert -15 < a.face.eye_angle() < -9
    targets = np.array(pipeline.aligner.eye_targets())
    # The recorded affine sends the detected eyes where the ratio math says: exactly onto
    # the target height, and sideways exactly too unless measured eye corners (dlib) set
    # the crop's sides, which moves them by how much this face's corners differ from the
    # typical ones ...
    mapped = np.array([[*a.face.left_eye, 1.0], [*a.face.right_eye, 1.0]]) @ a.matrix.T
    np.testing.assert_allclose(mapped[:, 1], targets[:, 1], atol=1e-6)
    np.testing.assert_allclose(mapped[:, 0], targets[:, 0], atol=1e-6 if a.face.eye_corners is None else 2.0)
    # ... and the TRUE eyes (hand-measured, carried by the known rotation and the recorded
    # crop transform) land on the targets and level: no detector measures its own output.
    true_rotated = np.c_[HAND_EYES, np.ones(2)] @ m.T
    in_crop = np.c_[true_rotated, np.ones(2)] @ a.matrix.T
    scale = math.sqrt(abs(np.linalg.det(a.matrix[:, :2])))  # crop pixels per input pixel
    angle = math.degrees(math.atan2(*(in_crop[1] - in_crop[0])[::-1]))
    assert abs(angle) <= LEVEL_TOLERANCE_DEG[name], f"true eye line at {angle:.2f} degrees in the crop"
    off = np.hypot(*(in_crop - targets).T) / scale
    assert off.max() <= EYE_TOLERANCE_PX, f"true eyes {off.round(2)} input px from the targets"


def test_a_wrong_rotation_would_be_caught(astronaut_bgr):
    """The check above can fail: eyes from the photo before it was turned, aligned as if they
    were the turned photo's, leave the true eyes 15 degrees off level in the crop."""
    rotated, m = rotate_padded(astronaut_bgr, 15.0)
    stale = Face((150.0, 50.0, 150.0, 150.0), 1.0, tuple(HAND_EYES[0]), tuple(HAND_EYES[1]))
    _, matrix = FaceAligner().align_with_matrix(cv2.cvtColor(rotated, cv2.COLOR_BGR2GRAY), stale)
    in_crop = np.c_[np.c_[HAND_EYES, np.ones(2)] @ m.T, np.ones(2)] @ matrix.T
    angle = math.degrees(math.atan2(*(in_crop[1] - in_crop[0])[::-1]))
    assert abs(angle) > 10


@backends
@pytest.mark.parametrize("kind", ["coffee", "noise", "gradient", "black"])
def test_face_free_images_give_no_faces(name, kind):
    from skimage import data

    rng = np.random.default_rng(0)
    image = {
        "coffee": lambda: np.ascontiguousarray(data.coffee()[:, :, ::-1]),
        "noise": lambda: rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
        "gradient": lambda: np.tile(np.linspace(0, 255, 320).astype(np.uint8), (240, 1)),
        "black": lambda: np.zeros((100, 100, 3), np.uint8),
    }[kind]()
    assert detector(name).detect(image) == []


@backends
def test_bad_inputs_are_value_errors(name):
    with pytest.raises(ValueError):
        detector(name).detect(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError):
        detector(name).detect(np.zeros((0, 10), np.uint8))


@needs("haar")
def test_haar_finds_profiles_both_ways_and_merges_duplicates(astronaut_bgr):
    det = create_detector("haar", eyes="prior")
    grey = cv2.equalizeHist(cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY))
    boxes = det.raw_boxes(grey)
    assert len(boxes) == 1  # frontal and any profile hits on the same face are merged
    mirrored = det.detect(astronaut_bgr[:, ::-1])
    assert len(mirrored) == 1
    x, _, w, _ = mirrored[0].box
    assert abs((x + w / 2) - (astronaut_bgr.shape[1] - 1 - 223)) < 20
    assert mirrored[0].eye_source == "prior"


@needs("haar")
def test_haar_eye_sources(astronaut_bgr):
    cascade = create_detector("haar", eyes="cascade").detect(astronaut_bgr)[0]
    assert cascade.eye_source in ("cascade", "prior")
    assert cascade.left_eye[0] < cascade.right_eye[0]
    if AVAILABLE["dlib"] is None:
        landmarks = create_detector("haar", eyes="landmarks").detect(astronaut_bgr)[0]
        assert landmarks.eye_source == "landmarks" and landmarks.eye_corners is not None


def test_haar_eye_prior_mirrors_for_right_profiles():
    from trainer.faces.detectors.haar import prior_eyes

    left, right = prior_eyes((0.0, 0.0, 100.0, 100.0), "profile-left")
    m_left, m_right = prior_eyes((0.0, 0.0, 100.0, 100.0), "profile-right")
    assert m_left[0] == pytest.approx(99 - right[0]) and m_right[0] == pytest.approx(99 - left[0])


@needs("dlib")
def test_dlib_gives_outer_eye_corners(astronaut_bgr):
    for points in (5, 68):
        f = detector("dlib", landmarks=points).detect(astronaut_bgr)[0]
        assert f.landmarks.shape == (points, 2)
        (lc, rc) = f.eye_corners
        assert lc[0] < f.left_eye[0] < f.right_eye[0] < rc[0]


@needs("mtcnn")
def test_mtcnn_five_points():
    det = detector("mtcnn")
    assert det.device in ("cpu", "cuda")
    from skimage import data

    f = det.detect(np.ascontiguousarray(data.astronaut()[:, :, ::-1]))[0]
    assert f.landmarks.shape == (5, 2) and 0.9 <= f.score <= 1.0
    assert f.left_eye == tuple(f.landmarks[0]) and f.right_eye == tuple(f.landmarks[1])


def test_large_images_are_searched_at_a_working_size(astronaut_bgr):
    name = "dlib" if AVAILABLE["dlib"] is None else "haar"
    big = cv2.resize(astronaut_bgr, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    f = create_detector(name, max_side=1024).detect(big)[0]
    # Coordinates come back in the big image's pixels (pixel centres: (p + 0.5) * 4 - 0.5).
    big_eye = (HAND_EYES[0] + 0.5) * 4 - 0.5
    assert np.hypot(f.left_eye[0] - big_eye[0], f.left_eye[1] - big_eye[1]) < 4 * EYE_TOLERANCE_PX


# -- face-alignment (optional) ------------------------------------------------------------

def test_face_alignment_unavailable_message(monkeypatch, tmp_path):
    import torch.hub

    from trainer.faces.detectors import fan

    if AVAILABLE["face-alignment"] is None:
        pytest.skip("face-alignment is installed with its weights here")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(DetectorUnavailable) as info:
        create_detector("face-alignment")
    msg = str(info.value)
    assert "pip install face-alignment" in msg
    if fan.has_module("face_alignment"):  # installed, weights missing: names the files and folder
        assert str(tmp_path / "hub" / "checkpoints") in msg and ".pth" in msg
    else:
        assert "not installed" in msg and "network" in msg


def test_face_alignment_real_package_if_installed(astronaut_bgr):
    if AVAILABLE["face-alignment"] is not None:
        pytest.skip(f"face-alignment not usable here: {AVAILABLE['face-alignment']}")
    f = create_detector("face-alignment", device="cpu").detect(astronaut_bgr)[0]
    assert np.hypot(f.left_eye[0] - HAND_EYES[0][0], f.left_eye[1] - HAND_EYES[0][1]) < EYE_TOLERANCE_PX


FAKE_FA = '''
import enum
import numpy as np

class LandmarksType(enum.IntEnum):
    TWO_D = 1

class FaceAlignment:
    def __init__(self, landmarks_type, device="cpu", face_detector="sfd", flip_input=False):
        assert landmarks_type == LandmarksType.TWO_D
        self.device = device

    def get_landmarks_from_image(self, image, return_bboxes=False, return_landmark_score=False):
        assert image.ndim == 3 and image.shape[2] == 3
        pts = np.zeros((68, 2), np.float32)
        pts[36:42] = [[10, 20], [12, 18], [14, 18], [16, 20], [14, 22], [12, 22]]  # mean (13, 20)
        pts[42:48] = [[30, 20], [32, 18], [34, 18], [36, 20], [34, 22], [32, 22]]  # mean (33, 20)
        return [pts], [np.ones(68)], [np.array([5.0, 6.0, 45.0, 56.0, 0.99])]
'''


def _fake_face_alignment(tmp_path, monkeypatch, request, with_weights: bool):
    """A stand-in face_alignment package on sys.path, and a private torch hub folder."""
    import sys

    import torch.hub

    def forget() -> None:  # the fake must not leak into later tests
        for mod in [m for m in sys.modules if m == "face_alignment" or m.startswith("face_alignment.")]:
            del sys.modules[mod]

    request.addfinalizer(forget)

    pkg = tmp_path / "fake" / "face_alignment"
    (pkg / "detection" / "sfd").mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_FA)
    (pkg / "api.py").write_text("default_model_urls = {'2DFAN-4': 'https://example.invalid/2DFAN4-test.zip'}\n"
                                "models_urls = {}\n")
    (pkg / "detection" / "__init__.py").write_text("")
    (pkg / "detection" / "sfd" / "__init__.py").write_text("")
    (pkg / "detection" / "sfd" / "sfd_detector.py").write_text(
        "models_urls = {'s3fd': 'https://example.invalid/s3fd-test.pth'}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    for mod in [m for m in sys.modules if m == "face_alignment" or m.startswith("face_alignment.")]:
        monkeypatch.delitem(sys.modules, mod)
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    if with_weights:
        (hub / "checkpoints").mkdir(parents=True)
        (hub / "checkpoints" / "2DFAN4-test.zip").write_bytes(b"x")
        (hub / "checkpoints" / "s3fd-test.pth").write_bytes(b"x")
    return hub / "checkpoints"


def test_face_alignment_missing_weights_names_the_files(tmp_path, monkeypatch, request):
    folder = _fake_face_alignment(tmp_path, monkeypatch, request, with_weights=False)
    assert "2DFAN4-test.zip" in available_detectors()["face-alignment"]
    with pytest.raises(DetectorUnavailable) as info:
        create_detector("face-alignment")
    msg = str(info.value)
    assert str(folder) in msg and "2DFAN4-test.zip" in msg and "s3fd-test.pth" in msg
    assert "allow_download=True" in msg and "network" in msg and "pip install face-alignment" in msg
    # Opting in to the download lets it through (the fake package downloads nothing).
    assert create_detector("face-alignment", allow_download=True, device="cpu").name == "face-alignment"


def test_face_alignment_landmarks_become_a_face(tmp_path, monkeypatch, request):
    _fake_face_alignment(tmp_path, monkeypatch, request, with_weights=True)
    assert available_detectors()["face-alignment"] is None
    faces = create_detector("fan", device="cpu").detect(np.zeros((60, 50), np.uint8))
    assert len(faces) == 1
    f = faces[0]
    assert f.box == (5.0, 6.0, 40.0, 50.0) and f.score == pytest.approx(0.99)
    assert f.left_eye == pytest.approx((13.0, 20.0)) and f.right_eye == pytest.approx((33.0, 20.0))
    assert f.eye_corners == ((10.0, 20.0), (36.0, 20.0))
    assert f.landmarks.shape == (68, 2)


def test_fake_face_alignment_does_not_leak():
    import sys

    assert "face_alignment" not in sys.modules or AVAILABLE["face-alignment"] is None


def test_face_type_helpers():
    f = Face((10.0, 20.0, 30.0, 40.0), 0.5, (15.0, 30.0), (25.0, 40.0))
    assert f.area == 1200 and f.eye_angle() == pytest.approx(45.0)
    g = f.mapped(2.0, 2.0, 1.0, 1.0)
    assert g.box == (21.0, 41.0, 60.0, 80.0)
    assert g.left_eye == (31.5, 61.5)  # pixel centres: (15 + 0.5) * 2 - 0.5 + 1
    assert set(f.to_dict()) == {"box", "score", "left_eye", "right_eye"}
