"""Exact and near copies (trainer.evaluation.duplicates) on images made to hold known copies."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluation.duplicates import (MIRRORED_COPY_SIMILARITY, NEAR_COPY_SIMILARITY, UNIQUE, across_splits, copy_groups, disagreeing,
                                           group_members, likeness, near_copy_groups, near_copy_pairs,
                                           similarity)


def _images() -> np.ndarray:
    images = np.random.default_rng(0).integers(0, 256, (8, 6, 6), dtype=np.uint8)
    images[5] = images[1]  # a copy
    images[7] = images[1]  # and another
    images[6] = images[2]
    images[3] = images[2].copy()
    images[3][0, 0] ^= 1  # one grey level off: not an exact copy
    return images


def test_copies_share_a_group_and_the_rest_are_unique():
    groups = copy_groups(_images())
    assert groups.tolist() == [UNIQUE, 0, 1, UNIQUE, UNIQUE, 0, 1, 0]
    assert [m.tolist() for m in group_members(groups)] == [[1, 5, 7], [2, 6]]
    assert group_members(copy_groups(_images()[[0, 3, 4]])) == []


def test_the_same_bytes_in_another_shape_are_not_a_copy():
    flat = np.arange(16, dtype=np.uint8)
    assert copy_groups([flat.reshape(4, 4), flat.reshape(2, 8)]).tolist() == [UNIQUE, UNIQUE]
    assert copy_groups([flat.reshape(4, 4), flat.reshape(4, 4).copy()]).tolist() == [0, 0]


def test_label_conflicts_and_splits():
    groups = copy_groups(_images())
    labels = np.array([0, 2, 1, 1, 0, 2, 3, 2])  # group 0 agrees (2, 2, 2); group 1 does not (1, 3)
    assert np.flatnonzero(disagreeing(groups, labels)).tolist() == [2, 6]
    labels[7] = -1  # excluded: takes no part
    labels[5] = 4
    assert np.flatnonzero(disagreeing(groups, labels)).tolist() == [1, 2, 5, 6]
    splits = np.array(["Training"] * 6 + ["PrivateTest"] * 2)
    assert np.flatnonzero(across_splits(groups, splits)).tolist() == [1, 2, 5, 6, 7]
    assert not across_splits(groups, np.full(8, "Training")).any()


# --- near copies: the same photo cropped a little differently, brighter, re-encoded ---------

def _face(astronaut_bgr, x0: int = 170, y0: int = 60, side: int = 110) -> np.ndarray:
    """Eileen Collins's face, grey, 48x48 (box (x0, y0, side) in the 512x512 photo)."""
    import cv2

    grey = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey[y0:y0 + side, x0:x0 + side], (48, 48), interpolation=cv2.INTER_AREA)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def _near_copies_and_others(astronaut_bgr) -> tuple[np.ndarray, list[int], list[int], list[int]]:
    """(images, near copies of images[0], its mirrored copies, other pictures)."""
    from skimage import data

    face = _face(astronaut_bgr)
    near = [_face(astronaut_bgr, 173, 62),  # the box 3 px over: another crop of the same photo
            _face(astronaut_bgr, 166, 56, 118),  # a looser crop
            np.clip(face.astype(int) * 0.8 + 40, 0, 255).astype(np.uint8),  # less contrast, brighter
            _jpeg(face, 40)]
    mirrored = [face[:, ::-1].copy(),  # the same photo mirrored: what flip augmentation trains on
                _jpeg(_face(astronaut_bgr, 173, 62)[:, ::-1], 60)]  # mirrored, moved and re-encoded
    others = [_face(astronaut_bgr, 320, 260),  # her suit, from the same photo
              _face(astronaut_bgr, 20, 20),  # the flag
              np.ascontiguousarray(data.camera()[60:220, 180:340][::3, ::3][:48, :48]),  # another person
              np.full((48, 48), 128, np.uint8)]  # blank
    images = np.stack([face, *near, *mirrored, *others])
    first_mirrored, first_other = 1 + len(near), 1 + len(near) + len(mirrored)
    return (images, list(range(1, first_mirrored)), list(range(first_mirrored, first_other)),
            list(range(first_other, len(images))))


def test_a_photo_cropped_otherwise_brightened_or_re_encoded_is_a_near_copy(astronaut_bgr):
    images, near, mirrored, others = _near_copies_and_others(astronaut_bgr)
    for i in near:
        assert similarity(images[0], images[i]) >= NEAR_COPY_SIMILARITY, i
        alike, flipped = likeness(images[0], images[i])
        assert alike >= NEAR_COPY_SIMILARITY and not flipped, i
    for i in mirrored:  # alike only once one of the two is mirrored
        assert similarity(images[0], images[i]) < NEAR_COPY_SIMILARITY, i
        assert similarity(images[0], images[i], mirrored=True) >= MIRRORED_COPY_SIMILARITY, i
        assert similarity(images[i], images[0], mirrored=True) >= MIRRORED_COPY_SIMILARITY, i
        alike, flipped = likeness(images[i], images[0])
        assert alike >= MIRRORED_COPY_SIMILARITY and flipped, i
    for i in others:
        assert likeness(images[0], images[i])[0] < NEAR_COPY_SIMILARITY, i
    assert similarity(images[0], images[0]) == pytest.approx(1.0, abs=1e-5)
    assert similarity(np.full((48, 48), 7, np.uint8), np.full((48, 48), 7, np.uint8)) == 1.0  # blank and its copy
    assert similarity(np.full((48, 48), 7, np.uint8), images[0]) == 0.0


def test_near_copies_share_a_group_with_their_exact_copies(astronaut_bgr):
    images, near, mirrored, others = _near_copies_and_others(astronaut_bgr)
    blank = np.full((1, 48, 48), 128, np.uint8)
    images = np.concatenate([images, images[[1]], blank])  # an exact copy of a near copy; a second blank
    groups = near_copy_groups(images)
    copies = [0, *near, *mirrored, len(images) - 2]
    assert len(set(groups[copies].tolist())) == 1 and groups[0] != UNIQUE
    assert groups[[o for o in others if o != others[-1]]].tolist() == [UNIQUE] * (len(others) - 1)
    assert groups[others[-1]] == groups[-1] != groups[0]  # two blanks: exact copies of each other only
    found = near_copy_pairs(images)
    assert (found.pairs[:, 0] < found.pairs[:, 1]).all() and (found.alike >= NEAR_COPY_SIMILARITY).all()
    # the mirrored copies line up mirrored with the face and its near copies, and as they are with each other
    for (i, j), flipped in zip(found.pairs.tolist(), found.mirrored.tolist()):
        assert flipped == ((i in mirrored) != (j in mirrored)), (i, j)
    assert {(0, m) for m in mirrored} <= set(map(tuple, found.pairs.tolist()))
    # mirrored pairs answer to their own, stricter threshold: above every pair here, only the
    # pairs that line up as they are stay
    strict = near_copy_pairs(images, mirrored_threshold=1.01)
    assert not strict.mirrored.any() and len(strict.pairs) == (~found.mirrored).sum()
    # images of other sizes are compared on the same footing (a colour 96x96 copy of the face)
    import cv2

    big = cv2.cvtColor(cv2.resize(images[0], (96, 96), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    assert similarity(big, images[0]) >= NEAR_COPY_SIMILARITY


def test_groups_are_kept_beside_a_file_and_rebuilt_when_they_do_not_fit(tmp_path, monkeypatch, astronaut_bgr):
    import trainer.evaluation.duplicates as duplicates

    images, *_ = _near_copies_and_others(astronaut_bgr)
    beside = tmp_path / "pass.npz"
    groups = duplicates.cached_near_copy_groups(images, beside)
    kept = list(tmp_path.glob("pass.copies*.npz"))
    assert len(kept) == 1

    def not_again(*_args, **_kwargs):
        raise AssertionError("searched again although the groups were kept")

    monkeypatch.setattr(duplicates, "near_copy_groups", not_again)
    assert np.array_equal(duplicates.cached_near_copy_groups(images, beside), groups)
    monkeypatch.undo()
    # other images (fewer) or a damaged file: searched again, and the file rewritten
    assert len(duplicates.cached_near_copy_groups(images[:3], beside)) == 3
    kept[0].write_bytes(b"garbage")
    assert np.array_equal(duplicates.cached_near_copy_groups(images, beside), groups)
    assert np.array_equal(duplicates.cached_near_copy_groups(images, None), groups)  # nothing kept


def test_likeness_names_the_way_that_makes_two_faces_copies(monkeypatch):
    """The review lists a copy the way the finder found it: as it is when that passes 0.93 and
    the mirrored way does not pass 0.95, though it lines up a little better mirrored."""
    import trainer.evaluation.duplicates as duplicates

    cases = [((0.94, 0.945), (0.94, False)),  # a copy as it is only
             ((0.90, 0.96), (0.96, True)),  # a mirrored copy only
             ((0.95, 0.97), (0.97, True)),  # both: the better
             ((0.50, 0.60), (0.60, True))]  # neither: the better
    for (as_is, flipped), expected in cases:
        monkeypatch.setattr(duplicates, "similarity",
                            lambda a, b, mirrored=False, v=(as_is, flipped): v[1] if mirrored else v[0])
        assert duplicates.likeness(None, None) == expected, (as_is, flipped)
