"""trainer.faces.align: the paper's crop geometry, on synthetic images (no detector)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import cv2
import numpy as np
import pytest

from trainer.faces import AlignConfig, Face, FaceAligner


def _rotate(p, centre, deg):
    a = math.radians(deg)
    x, y = p[0] - centre[0], p[1] - centre[1]
    return (centre[0] + x * math.cos(a) - y * math.sin(a), centre[1] + x * math.sin(a) + y * math.cos(a))


def _dots_image(left, right, shape=(400, 500), radius=5):
    """A textured background with two bright dots where the eyes are."""
    rng = np.random.default_rng(1)
    img = rng.integers(40, 120, shape, dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    for x, y in (left, right):
        cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), radius * 16, 255, -1, cv2.LINE_AA, shift=4)
    return img


def _blob_centres(crop, thresh=200):
    n, labels, stats, centroids = cv2.connectedComponentsWithStats((crop >= thresh).astype(np.uint8))
    blobs = sorted((stats[i, cv2.CC_STAT_AREA], tuple(centroids[i])) for i in range(1, n))[-2:]
    return sorted(c for _, c in blobs)


def test_config_is_json_serialisable_and_round_trips():
    cfg = AlignConfig(size=128, side=0.5)
    data = json.loads(json.dumps(asdict(cfg)))
    assert AlignConfig(**data) == cfg
    assert cfg.to_dict() == data
    assert AlignConfig.from_dict({**data, "from_the_future": 1}) == cfg
    assert AlignConfig() == AlignConfig(size=256, side=0.62, top=0.9, bottom=1.35, stretch=True)


@pytest.mark.parametrize("bad", [{"size": 4}, {"side": -0.1}, {"top": float("nan")}])
def test_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        AlignConfig(**bad)


def test_eye_targets_follow_the_paper_ratios():
    cfg = AlignConfig()
    (lx, ly), (rx, ry) = FaceAligner(cfg).eye_targets()
    width_units = 1 + 2 * (cfg.eye_corner + 0.62)
    e2e_px = cfg.size / width_units
    assert rx - lx == pytest.approx(e2e_px)
    assert ly == ry == pytest.approx(256 * 0.9 / 2.25 - 0.5)
    # Outer corner + 0.62 e2e = the crop's edge, on both sides (pixel-edge coordinates).
    assert lx + 0.5 - (cfg.eye_corner + 0.62) * e2e_px == pytest.approx(0)
    assert rx + 0.5 + (cfg.eye_corner + 0.62) * e2e_px == pytest.approx(256)


@pytest.mark.parametrize("angle", [-30.0, 0.0, 15.0, 50.0])
def test_matrix_sends_the_eyes_to_their_targets(angle):
    centre = (250.0, 200.0)
    left = _rotate((210.0, 180.0), centre, angle)
    right = _rotate((290.0, 180.0), centre, angle)
    face = Face((150.0, 100.0, 200.0, 200.0), 1.0, left, right)
    aligner = FaceAligner()
    m = aligner.matrix(face)
    got = np.array([[*left, 1.0], [*right, 1.0]]) @ m.T
    np.testing.assert_allclose(got, np.array(aligner.eye_targets()), atol=1e-6)


@pytest.mark.parametrize("angle", [-20.0, 15.0])
def test_aligned_crop_has_the_eyes_level_and_on_target(angle):
    centre = (250.0, 200.0)
    left = _rotate((215.0, 185.0), centre, angle)
    right = _rotate((285.0, 185.0), centre, angle)
    img = _dots_image(left, right)
    aligner = FaceAligner()
    crop = aligner.align(img, Face((180.0, 130.0, 140.0, 140.0), 1.0, left, right))
    assert crop.shape == (256, 256) and crop.dtype == np.uint8
    found = _blob_centres(crop)
    targets = aligner.eye_targets()
    for (fx, fy), (tx, ty) in zip(found, targets):
        assert abs(fx - tx) < 0.5 and abs(fy - ty) < 0.5
    assert abs(math.degrees(math.atan2(found[1][1] - found[0][1], found[1][0] - found[0][0]))) < 0.5


def test_output_is_grey_stretched_and_sized():
    img = np.full((300, 300, 3), 100, np.uint8)
    img[100:200, 100:200] = (140, 150, 160)
    face = Face((100.0, 100.0, 100.0, 100.0), 1.0, (130.0, 140.0), (170.0, 140.0))
    crop = FaceAligner(AlignConfig(size=96)).align(img, face)
    assert crop.shape == (96, 96) and crop.dtype == np.uint8
    assert crop.min() == 0 and crop.max() == 255
    raw = FaceAligner(AlignConfig(size=96, stretch=False)).align(img, face)
    assert raw.min() >= 99 and raw.max() <= 152


def test_flat_image_does_not_divide_by_zero():
    img = np.full((120, 120), 77, np.uint8)
    crop = FaceAligner().align(img, Face((20.0, 20.0, 80.0, 80.0), 1.0, (45.0, 50.0), (75.0, 50.0)))
    assert crop.shape == (256, 256)
    assert np.all(crop == 77)


def test_face_at_the_border_is_padded_not_dropped():
    rng = np.random.default_rng(2)
    img = rng.integers(100, 156, (200, 200), dtype=np.uint8)
    face = Face((-20.0, -30.0, 80.0, 80.0), 1.0, (5.0, 5.0), (40.0, 5.0))
    black = FaceAligner(AlignConfig(border="constant")).align(img, face)
    assert black.shape == (256, 256)
    (lx, ly), _ = FaceAligner().eye_targets()
    assert black[: int(ly) - 60, :].max() == 0  # above the image: black padding
    raw = FaceAligner(AlignConfig(stretch=False, border="constant")).align(img, face)
    from_image = raw >= 100  # the image's own pixels (its values are 100-155)
    assert from_image.mean() > 0.3
    # The range is stretched over the image's pixels only, not pinned at 0 by the padding:
    # its darkest pixel becomes 0 (pinned, 100 would only become ~164).
    assert black[from_image].min() <= 2 and black[from_image].max() == 255
    # The default fills the outside with the edge pixels: no black, same stretch inside.
    filled = FaceAligner().align(img, face)
    assert filled[: int(ly) - 60, :].min() > 0
    inside = cv2.erode(from_image.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)  # not blended
    assert np.array_equal(filled[inside], black[inside])
    # Row 0 of the source above the face is repeated upwards: every pixel above the image
    # equals one of row 0's stretched values.
    top_row = set(np.unique(filled[int(ly) - 61, :]))
    assert top_row <= set(np.unique(filled[from_image]))


def test_unknown_border_is_refused():
    with pytest.raises(ValueError, match="border"):
        AlignConfig(border="mirror")


def test_large_faces_are_shrunk_without_aliasing_or_offset():
    rng = np.random.default_rng(3)
    small = cv2.GaussianBlur(rng.integers(0, 256, (150, 200), dtype=np.uint8), (0, 0), 1.5)
    big = cv2.resize(small, (1600, 1200), interpolation=cv2.INTER_CUBIC)  # 8x larger
    f_small = Face((40.0, 30.0, 100.0, 100.0), 1.0, (70.0, 60.0), (110.0, 66.0))
    f_big = f_small.mapped(8.0, 8.0)
    aligner = FaceAligner(AlignConfig(size=64, stretch=False))
    a = aligner.align(small, f_small).astype(float)
    b = aligner.align(big, f_big).astype(float)
    assert np.abs(a - b).mean() < 6.0  # same content, same place


def test_measured_eye_corners_widen_the_crop():
    base = Face((100.0, 100.0, 100.0, 100.0), 1.0, (130.0, 140.0), (170.0, 140.0))
    wide = Face(base.box, 1.0, base.left_eye, base.right_eye, eye_corners=((114.0, 140.0), (186.0, 140.0)))
    aligner = FaceAligner()
    p = np.array([[*base.left_eye, 1.0], [*base.right_eye, 1.0]])
    e_base = np.diff((p @ aligner.matrix(base).T)[:, 0])[0]
    e_wide = np.diff((p @ aligner.matrix(wide).T)[:, 0])[0]
    # corners 0.4 e2e out instead of eye_corner: the crop spans 1 + 2 * (0.4 + 0.62) e2e
    assert e_wide == pytest.approx(256 / (1 + 2 * (0.4 + 0.62)))
    assert e_wide < e_base
    off = FaceAligner(AlignConfig(use_landmark_corners=False))
    assert np.diff((p @ off.matrix(wide).T)[:, 0])[0] == pytest.approx(e_base)
    # A corner on the wrong side of its eye (a bad fit) is ignored.
    bad = Face(base.box, 1.0, base.left_eye, base.right_eye, eye_corners=((150.0, 140.0), (190.0, 140.0)))
    lin = aligner.matrix(bad)
    assert (p @ lin.T)[0, 0] == pytest.approx(aligner.eye_targets()[0][0])


def test_coincident_eyes_are_rejected():
    with pytest.raises(ValueError, match="eyes coincide"):
        FaceAligner().matrix(Face((0.0, 0.0, 10.0, 10.0), 1.0, (5.0, 5.0), (5.0, 5.0)))
