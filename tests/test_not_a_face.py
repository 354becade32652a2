"""The not-a-face signals (trainer.evaluation.not_a_face) on data made to have a known answer:
blank crops, crops the detector found no face in, and one embedding far from a cluster."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data.samples import DataError
from trainer.evaluation.not_a_face import BLANK_SD, blank_crops, face_doubts, unusualness


def _faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 16), dtype=np.uint8)


def test_only_a_one_level_crop_is_blank():
    crops = _faces(4)
    crops[1] = 0  # SFEW's black frames
    crops[2] = 200
    crops[3] = 100
    crops[3, 0, 0] = 101  # two grey levels: stretched, a crop like this is not blank
    crops[3] = np.where(crops[3] == 101, 255, 0)
    assert blank_crops(crops).tolist() == [False, True, True, False]
    assert np.asarray(crops[3], np.float32).std() > BLANK_SD


def test_the_far_embedding_is_the_most_unusual():
    rng = np.random.default_rng(1)
    cluster = rng.normal([5.0] * 8, 0.3, (40, 8))
    odd = np.array([[5.0] * 4 + [-5.0] * 4])  # another direction: cosine distance is large
    embeddings = np.vstack([cluster[:17], odd, cluster[17:]]).astype(np.float32)
    unusual = unusualness(embeddings)
    assert unusual.shape == (41,) and 0 <= unusual.min() and unusual.max() <= 1
    assert int(np.argmax(unusual)) == 17
    assert unusual[17] > np.sort(unusual)[-2]  # not a tie broken by position


def test_blank_first_then_no_face_then_the_unusual():
    n = 30
    rng = np.random.default_rng(2)
    crops = _faces(n)
    crops[25] = 0
    methods = np.array(["crop"] * n, dtype=object)
    methods[[4, 25]] = "asis"  # the blank one also had no face found
    methods[9] = "noface"  # a photo without a face (folder datasets)
    embeddings = rng.normal([3.0] * 6, 0.2, (n, 6)).astype(np.float32)
    embeddings[14] = [-3.0, 3, -3, 3, -3, 3]  # found as a face, but unlike the others
    doubts = face_doubts(methods, crops, embeddings)
    assert doubts.blank.tolist() == [i == 25 for i in range(n)]
    assert np.flatnonzero(doubts.no_face).tolist() == [4, 9, 25]
    order = doubts.order.tolist()
    assert order[0] == 25 and set(order[1:3]) == {4, 9} and order[3] == 14
    assert doubts.reasons(25) == ["blank image", "no face found"]
    assert doubts.reasons(9) == ["no face found"] and doubts.reasons(14) == []


def test_without_methods_or_embeddings_only_blank_counts():
    crops = _faces(5)
    crops[3] = 0
    doubts = face_doubts(None, crops)
    assert not doubts.no_face.any() and not doubts.unusual.any()
    assert doubts.order[0] == 3 and doubts.scores.tolist() == [0, 0, 0, 2, 0]


def test_tiny_sets_and_mismatches():
    assert face_doubts(["crop", "asis"], _faces(2), np.ones((2, 4), np.float32)).unusual.tolist() == [0, 0]
    with pytest.raises(DataError, match="3 face methods for 2 crops"):
        face_doubts(["crop"] * 3, _faces(2))
    with pytest.raises(DataError, match="4 embeddings for 5 crops"):
        face_doubts(None, _faces(5), np.ones((4, 3), np.float32))
    bad = np.ones((5, 3), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        face_doubts(None, _faces(5), bad)
