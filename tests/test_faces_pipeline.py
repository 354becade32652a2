"""FacePipeline: several faces largest first, pre-cropped inputs (tight crops, 48x48),
the no-face fallback, coordinate mapping, and the tilt refinement."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import pytest

from trainer.faces import AlignConfig, Face, FaceAligner, FacePipeline, available_detectors, create_detector

AVAILABLE = available_detectors()
BACKENDS = [pytest.param(n, marks=pytest.mark.skipif(AVAILABLE[n] is not None, reason=str(AVAILABLE[n])))
            for n in ("haar", "mtcnn", "dlib")]
# Her eyes in the full photo, measured with dlib's 68 points.
EYES = np.array([(203.2, 101.5), (246.8, 104.0)])
TIGHT = (172, 66, 112, 126)  # x, y, w, h: a tight crop like SFEW's, forehead to chin


@functools.lru_cache(maxsize=None)
def detector(name: str):
    return create_detector(name)


def tight_crop(image: np.ndarray) -> np.ndarray:
    x, y, w, h = TIGHT
    return np.ascontiguousarray(image[y:y + h, x:x + w])


@pytest.mark.parametrize("name", BACKENDS)
def test_several_faces_come_out_largest_first(name, astronaut_bgr):
    head = astronaut_bgr[20:260, 120:360]  # her head and shoulders, 240x240
    canvas = np.full((560, 900, 3), 90, np.uint8)
    canvas[300:540, 30:270] = head  # the smaller face comes first left to right and top to bottom
    canvas[20:404, 420:804] = cv2.resize(head, (384, 384), interpolation=cv2.INTER_CUBIC)  # 1.6x
    aligned = FacePipeline(detector(name)).process(canvas)
    assert len(aligned) == 2, [a.face.box for a in aligned]
    big, little = aligned
    assert big.face.area > 2 * little.face.area
    # coordinates are the canvas's: the eyes are the photo's, moved and scaled
    np.testing.assert_allclose(np.array([little.face.left_eye, little.face.right_eye]), EYES - [120, 20] + [30, 300],
                               atol=4)
    np.testing.assert_allclose(np.array([big.face.left_eye, big.face.right_eye]),
                               (EYES - [120, 20] + 0.5) * 1.6 - 0.5 + [420, 20], atol=6)
    for a in aligned:
        assert a.crop.shape == (256, 256) and a.crop.dtype == np.uint8


@pytest.mark.parametrize("name", BACKENDS)
def test_process_crop_on_a_tight_crop(name, astronaut_bgr):
    crop = tight_crop(astronaut_bgr)
    out = FacePipeline(detector(name)).process_crop(crop)
    assert out is not None and not out.fallback
    # the face is in the crop's own coordinates
    eyes = np.array([out.face.left_eye, out.face.right_eye])
    np.testing.assert_allclose(eyes, EYES - TIGHT[:2], atol=5)
    assert out.crop.shape == (256, 256)


def test_process_crop_on_a_48x48_image(astronaut_bgr):
    """FER-2013's size: the face is found after padding and enlarging, in 48x48 coordinates."""
    tiny = cv2.resize(tight_crop(astronaut_bgr), (48, 48), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(tiny, cv2.COLOR_BGR2GRAY)  # FER-2013 is grey
    pipeline = FacePipeline(create_detector("auto"), FaceAligner(AlignConfig(size=96)))
    out = pipeline.process_crop(grey)
    assert out is not None and not out.fallback
    expected = (EYES - TIGHT[:2] + 0.5) * [48 / TIGHT[2], 48 / TIGHT[3]] - 0.5
    np.testing.assert_allclose(np.array([out.face.left_eye, out.face.right_eye]), expected, atol=2.0)
    assert out.crop.shape == (96, 96) and out.crop.max() == 255 and out.crop.min() == 0


def test_process_crop_without_a_face_falls_back_to_the_whole_image():
    # A smooth ramp: nothing face-like. (Blurred noise is not safe with BlazeFace, the `auto`
    # detector: padded and enlarged, 2 of 5 such blobs score as faces, docs/detectors.md.)
    image = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (48, 1))
    aligner = FaceAligner()
    out = FacePipeline(create_detector("auto"), aligner).process_crop(image)
    assert out is not None and out.fallback and out.matrix is None
    assert out.face.box == (0.0, 0.0, 40.0, 48.0) and out.face.score == 0.0 and out.face.eye_source == "prior"
    (tlx, tly), (trx, try_) = aligner.eye_targets()
    assert out.face.left_eye == pytest.approx(((tlx + 0.5) * 40 / 256 - 0.5, (tly + 0.5) * 48 / 256 - 0.5))
    assert out.face.right_eye == pytest.approx(((trx + 0.5) * 40 / 256 - 0.5, (try_ + 0.5) * 48 / 256 - 0.5))
    np.testing.assert_array_equal(out.crop, aligner.whole_image(image))
    assert out.crop.shape == (256, 256) and out.crop.min() == 0 and out.crop.max() == 255


@pytest.mark.parametrize("bad", [None, np.zeros((0, 0), np.uint8), np.zeros((5, 5, 2), np.uint8), "x.png"])
def test_process_crop_returns_none_only_for_unusable_input(bad):
    assert FacePipeline(create_detector("haar")).process_crop(bad) is None


class FixedDetector:
    """Reports one face at a fixed place in whatever image it is given; records the inputs."""

    name = "fixed"

    def __init__(self, face_in_input: Face):
        self.face = face_in_input
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, image):
        self.shapes.append(image.shape)
        return [self.face]


def test_process_crop_maps_coordinates_back_through_padding_and_enlarging():
    # 40x50 crop, 40% border: 16+40+16 = 72 wide, 20+50+20 = 90 high; enlarged by 224/72.
    image = np.full((50, 40), 128, np.uint8)
    s = 224 / 72
    in_padded = Face((16 * s, 20 * s, 40 * s, 50 * s), 0.9, ((16 + 10 + 0.5) * s - 0.5, (20 + 20 + 0.5) * s - 0.5),
                     ((16 + 30 + 0.5) * s - 0.5, (20 + 20 + 0.5) * s - 0.5))
    det = FixedDetector(in_padded)
    out = FacePipeline(det, refine_angle=None).process_crop(image)
    assert det.shapes[0][:2] == (280, 224)
    assert out.face.box == pytest.approx((0.0, 0.0, 40.0, 50.0), abs=0.02)
    assert out.face.left_eye == pytest.approx((10.0, 20.0), abs=0.02)
    assert out.face.right_eye == pytest.approx((30.0, 20.0), abs=0.02)


def test_process_crop_ignores_faces_in_the_border():
    image = np.full((50, 40), 128, np.uint8)
    in_border = Face((0.0, 0.0, 20.0, 20.0), 0.9, (5.0, 8.0), (15.0, 8.0))  # top-left corner: padding
    out = FacePipeline(FixedDetector(in_border), refine_angle=None, min_detect_side=0).process_crop(image)
    assert out.fallback


class DotEyes:
    """A 'landmark model' that sees two bright dots as eyes but, like real ones, pulls the
    eye line towards level: it reports 60% of the true tilt."""

    name = "dots"

    def detect(self, image):
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        n, _, stats, cents = cv2.connectedComponentsWithStats((grey > 200).astype(np.uint8))
        blobs = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])[:2]
        if len(blobs) < 2:
            return []
        a, b = sorted((cents[i] for i in blobs), key=lambda c: c[0])
        mid, d = (a + b) / 2, (b - a) / 2
        ang = math.atan2(d[1], d[0]) * 0.6  # report 60% of the tilt
        c, s = math.cos(ang), math.sin(ang)
        r = np.hypot(*d)
        left, right = mid - r * np.array([c, s]), mid + r * np.array([c, s])
        e2e = 2 * r
        box = (mid[0] - e2e, mid[1] - e2e, 2 * e2e, 2.2 * e2e)
        return [Face(tuple(map(float, box)), 1.0, tuple(map(float, left)), tuple(map(float, right)))]


def test_tilted_faces_are_refined_on_an_upright_patch():
    img = np.full((400, 400), 60, np.uint8)
    centre, half, tilt = np.array([200.0, 200.0]), 40.0, math.radians(25)
    true = [centre - half * np.array([math.cos(tilt), math.sin(tilt)]),
            centre + half * np.array([math.cos(tilt), math.sin(tilt)])]
    for p in true:
        cv2.circle(img, (int(round(p[0] * 16)), int(round(p[1] * 16))), 6 * 16, 255, -1, cv2.LINE_AA, shift=4)

    def roll_error(pipeline):
        f = pipeline.process(img)[0].face
        return abs(f.eye_angle() - 25.0)

    plain = roll_error(FacePipeline(DotEyes(), refine_angle=None))
    refined = roll_error(FacePipeline(DotEyes(), refine_angle=10.0))
    assert plain == pytest.approx(10.0, abs=0.5)  # the biased model alone: 15 of 25 degrees
    assert refined < 4.5  # the second look sees 10 degrees and reports 6: 21 of 25
    # Upright faces (tilt under refine_angle) are not looked at twice.
    assert roll_error(FacePipeline(DotEyes(), refine_angle=20.0)) == pytest.approx(plain)


def test_pipeline_accepts_grey_and_bgra(astronaut_bgr):
    pipeline = FacePipeline(create_detector("auto"))
    grey = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA)
    colour = pipeline.process(astronaut_bgr)
    np.testing.assert_allclose(np.array([colour[0].face.left_eye, colour[0].face.right_eye]), EYES, atol=6)
    out = pipeline.process(bgra)  # alpha dropped: exactly the colour result
    assert len(out) == 1
    np.testing.assert_allclose(np.array([out[0].face.left_eye, out[0].face.right_eye]),
                               [colour[0].face.left_eye, colour[0].face.right_eye], atol=0.5)
    out = pipeline.process(grey)
    # BlazeFace (auto) learnt on colour: on grey its eyes move by up to 5 px here (0.11 e2e).
    assert len(out) == 1
    np.testing.assert_allclose(np.array([out[0].face.left_eye, out[0].face.right_eye]), EYES, atol=6)
