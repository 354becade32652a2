"""Exact copies (trainer.evaluation.duplicates) on arrays made to hold known copies."""

from __future__ import annotations

import numpy as np

from trainer.evaluation.duplicates import UNIQUE, across_splits, copy_groups, disagreeing, group_members


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
