"""The BlazeFace back-end (MediaPipe's model on LiteRT): the decoder against hand-worked
numbers, the astronaut's face and eyes against hand-measured points, face-free images, a
tight crop through FacePipeline.process_crop, several and small faces, threads, bad input,
and that it runs without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT_EYES
from trainer.faces import FacePipeline, available_detectors, create_detector
from trainer.faces.detectors.blazeface import MODELS, decode, ssd_anchors, weighted_nms
from trainer.faces.detectors.registry import canonical_name

REASON = available_detectors()["blazeface"]
needs_blazeface = pytest.mark.skipif(REASON is not None, reason=f"blazeface: {REASON}")
HAND_EYES = np.array(ASTRONAUT_EYES)
# BlazeFace's keypoints are coarse: on SFEW Val 0.065 e2e from dlib's eye centres on average
# for "both" (MTCNN 0.072). Here (e2e 44 px) the full-range model is within 2.5 px of the
# hand-measured eyes, "both" within 5 (the mirrored photo), the short-range one within 8 (the
# grey photo).
EYE_TOLERANCE_PX = {"both": 5.5, "full": 4.0, "short": 8.0}


@pytest.fixture(scope="module")
def blaze():
    return create_detector("blazeface")


# -- decoder (no model needed) --------------------------------------------------------------

def test_anchors_match_mediapipes_layout():
    short, full = ssd_anchors(MODELS["short"]), ssd_anchors(MODELS["full"])
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # short: a 16x16 grid with 2 anchors a cell, then an 8x8 grid with 6 (three stride-16 layers).
    np.testing.assert_allclose(short[0], short[1])
    np.testing.assert_allclose(short[:2], [[0.5 / 16, 0.5 / 16]] * 2)
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])  # x runs fastest
    np.testing.assert_allclose(short[512:518], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(short[-1], [7.5 / 8, 7.5 / 8])
    np.testing.assert_allclose(full[48], [0.5 / 48, 1.5 / 48])  # one anchor a cell, 48 a row


def test_decode_scales_offsets_by_the_input_size():
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    raw = np.zeros((1, 2, 16), np.float32)
    raw[0, 0, :4] = [12.8, -6.4, 32.0, 64.0]  # centre moved by (0.1, -0.05), 0.25 x 0.5 of the input
    raw[0, 0, 4:6] = [-12.8, 0.0]  # first keypoint 0.1 left of the anchor
    scores = np.array([[[0.0], [-3.0]]], np.float32)  # sigmoid: 0.5 and 0.047
    boxes, s, pts = decode(raw, scores, anchors, 128, min_score=0.4)
    assert len(boxes) == 1 and s[0] == pytest.approx(0.5)
    np.testing.assert_allclose(boxes[0], [0.35 - 0.125, 0.45 - 0.25, 0.35 + 0.125, 0.45 + 0.25], atol=1e-6)
    np.testing.assert_allclose(pts[0, 0], [0.15, 0.5], atol=1e-6)
    np.testing.assert_allclose(pts[0, 1], [0.25, 0.5], atol=1e-6)


def test_weighted_nms_averages_overlaps_by_score_and_keeps_the_rest():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.3, 0.6])
    points = np.zeros((3, 6, 2))
    points[:, 0, 0] = [2.0, 6.0, 55.0]
    out = weighted_nms(boxes, scores, points)
    assert [round(s, 2) for _, s, _ in out] == [0.9, 0.6]  # the best one's score
    np.testing.assert_allclose(out[0][0], [0.25, 0, 10.25, 10])  # (0 * 0.9 + 1 * 0.3) / 1.2
    assert out[0][2][0, 0] == pytest.approx(3.0)  # (2 * 0.9 + 6 * 0.3) / 1.2
    np.testing.assert_allclose(out[1][0], boxes[2])


def test_names_and_aliases():
    assert canonical_name("MediaPipe") == canonical_name("blaze") == canonical_name("blazeface") == "blazeface"


def test_unavailable_says_what_to_install(monkeypatch):
    from trainer.faces.detectors import blazeface

    monkeypatch.setattr(blazeface, "has_module", lambda name: False)
    assert "pip install ai-edge-litert" in blazeface.unavailable_reason()
    monkeypatch.setattr(blazeface, "has_module", lambda name: True)
    monkeypatch.setattr(blazeface, "model_dir", lambda: blazeface.Path("/nonexistent"))
    assert "face_detection_short_range.tflite" in blazeface.unavailable_reason("short")


def test_auto_goes_on_without_litert(monkeypatch):
    """Where ai-edge-litert has no wheel (macOS x86_64, 32-bit ARM ...), blazeface says what is
    missing and ``auto`` takes the next back-end in its order."""
    from trainer.faces.detectors import blazeface

    monkeypatch.setattr(blazeface, "has_module", lambda name: False)
    assert "pip install ai-edge-litert" in available_detectors()["blazeface"]
    assert create_detector("auto").name != "blazeface"


# -- the model ------------------------------------------------------------------------------

@needs_blazeface
@pytest.mark.parametrize("model", ["both", "short", "full"])
def test_finds_the_astronaut_and_her_eyes(model, astronaut_bgr):
    det = create_detector("blazeface", model=model)
    assert det.name == "blazeface"
    for image in (astronaut_bgr, cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)):
        faces = det.detect(image)
        assert len(faces) == 1, faces
        f = faces[0]
        x, y, w, h = f.box
        assert 150 < x + w / 2 < 300 and 70 < y + h / 2 < 180 and 60 < w < 160
        found = np.array([f.left_eye, f.right_eye])
        assert np.hypot(*(found - HAND_EYES).T).max() < EYE_TOLERANCE_PX[model], found.round(1)
        # left_eye is the eye on the image's left, and both lie inside the box.
        assert x < f.left_eye[0] < f.right_eye[0] < x + w and y < f.left_eye[1] < y + h
        assert f.eye_source == "landmarks" and f.landmarks.shape == (6, 2) and 0.5 < f.score <= 1.0


@needs_blazeface
def test_mirrored_photo_keeps_image_left_first(blaze, astronaut_bgr):
    f = blaze.detect(astronaut_bgr[:, ::-1])[0]
    assert f.left_eye[0] < f.right_eye[0]
    width = astronaut_bgr.shape[1]
    mirrored_true = np.array([[width - 1 - HAND_EYES[1, 0], HAND_EYES[1, 1]], [width - 1 - HAND_EYES[0, 0], HAND_EYES[0, 1]]])
    assert np.hypot(*(np.array([f.left_eye, f.right_eye]) - mirrored_true).T).max() < EYE_TOLERANCE_PX["both"]


@needs_blazeface
def test_a_one_pixel_image_gives_no_face(blaze):
    # coffee, noise, gradient and black: tests/test_faces_detectors.py, for every back-end
    assert blaze.detect(np.full((1, 1), 128, np.uint8)) == []


@needs_blazeface
def test_tight_crop_is_found_through_process_crop(blaze, astronaut_bgr):
    """An SFEW-like crop (140x180, the face filling it) padded by FacePipeline: the face and
    its eyes come back in the crop's own coordinates."""
    x0, y0 = 155, 40
    crop = np.ascontiguousarray(astronaut_bgr[y0:y0 + 180, x0:x0 + 140])
    aligned = FacePipeline(blaze).process_crop(crop)
    assert aligned is not None and not aligned.fallback
    eyes = np.array([aligned.face.left_eye, aligned.face.right_eye])
    assert np.hypot(*(eyes - (HAND_EYES - [x0, y0])).T).max() < EYE_TOLERANCE_PX["both"], eyes.round(1)
    x, y, w, h = aligned.face.box
    assert x >= -0.5 * 140 and x + w <= 1.5 * 140  # near the crop, not in the far border


@needs_blazeface
def test_boxes_are_clipped_to_the_image(blaze, astronaut_bgr):
    # The face cut by the image's top-left corner: the box may not reach outside.
    cut = np.ascontiguousarray(astronaut_bgr[95:, 190:])
    faces = blaze.detect(cut)
    assert faces
    for f in faces:
        x, y, w, h = f.box
        assert x >= 0 and y >= 0 and x + w <= cut.shape[1] and y + h <= cut.shape[0]


@needs_blazeface
def test_several_faces_and_a_small_one(astronaut_bgr):
    pair = np.concatenate([astronaut_bgr, astronaut_bgr[:, ::-1]], axis=1)  # 1024x512, two faces
    faces = create_detector("blazeface").detect(pair)
    assert len(faces) == 2
    assert sorted(int((f.box[0] + f.box[2] / 2) // 512) for f in faces) == [0, 1]  # one in each half
    # The face about 60 px wide in a 640x480 frame: under the short-range model's smallest
    # anchor, found by the full-range one, so "both" finds it.
    small = cv2.resize(astronaut_bgr, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[100:100 + small.shape[0], 200:200 + small.shape[1]] = small[:380, :440]
    assert create_detector("blazeface", model="short").detect(frame) == []
    found = create_detector("blazeface").detect(frame)
    assert len(found) == 1
    expected = (HAND_EYES[0] + 0.5) * 0.6 - 0.5 + [200, 100]
    assert np.hypot(*(np.array(found[0].left_eye) - expected)) < EYE_TOLERANCE_PX["both"]


@needs_blazeface
def test_options(astronaut_bgr):
    assert create_detector("blazeface", min_score=0.999).detect(astronaut_bgr) == []
    pair = np.concatenate([astronaut_bgr, astronaut_bgr], axis=1)
    assert len(create_detector("blazeface", max_faces=1).detect(pair)) == 1
    with pytest.raises(ValueError, match="short, full or both"):
        create_detector("blazeface", model="medium")


@needs_blazeface
def test_one_instance_from_several_threads(blaze, astronaut_bgr):
    """Calls on one instance are serialised (a LiteRT interpreter is not thread-safe): every
    thread gets what a lone call gets."""
    images = [astronaut_bgr, astronaut_bgr[:, ::-1], cv2.resize(astronaut_bgr, (320, 320))]
    expected = [[f.box for f in blaze.detect(im)] for im in images]
    results: list = [None] * 12
    errors = []

    def work(i: int) -> None:
        try:
            results[i] = [[f.box for f in blaze.detect(images[(i + k) % 3])] for k in range(20)]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, got in enumerate(results):
        for k, boxes in enumerate(got):
            assert boxes == expected[(i + k) % 3]


@needs_blazeface
def test_bad_inputs_are_value_errors(blaze):
    with pytest.raises(ValueError):
        blaze.detect(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError):
        blaze.detect(np.zeros((0, 10), np.uint8))
    with pytest.raises(ValueError):
        blaze.detect("not an image")  # type: ignore[arg-type]
    assert FacePipeline(blaze).process_crop(None) is None


@needs_blazeface
def test_runs_without_torch_and_prints_nothing():
    """The torch-free path: detect a face with no torch, torchvision, timm or TensorFlow
    loaded, and no LiteRT banner on stderr."""
    probe = (
        "import sys, json\n"
        "import numpy as np\n"
        "from skimage import data\n"
        "from trainer.faces import create_detector\n"
        "faces = create_detector('blazeface').detect(np.ascontiguousarray(data.astronaut()[:, :, ::-1]))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm', 'tensorflow'))\n"
        "print(json.dumps({'faces': len(faces), 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"faces": 1, "heavy": []}
    assert "XNNPACK" not in out.stderr, out.stderr
