"""Exact copies inside a dataset: the same image under several ids.

FER-2013 holds 1,514 groups of identical faces (3,365 images); 568 of its PublicTest and
PrivateTest faces have a copy in Training, and 57 groups carry more than one label. A copy in
the training split inflates a test score, and copies labelled differently are label errors
by construction. Functions of (images[, labels, splits]), Qt-free, for the review window and
``bench/leakage.py``.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

UNIQUE = -1  # the group of an image with no copy


def copy_groups(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """(N,) int: the same number for every image with the same pixels (and shape), numbered
    in order of first appearance; UNIQUE where an image has no copy."""
    first: dict[bytes, int] = {}
    keys = np.empty(len(images), np.int64)
    for i, image in enumerate(images):
        array = np.ascontiguousarray(image)
        h = hashlib.blake2b(f"{array.shape}{array.dtype}".encode(), digest_size=16)  # 48x48 is not 24x96
        h.update(array.tobytes())
        keys[i] = first.setdefault(h.digest(), i)
    counts = np.bincount(keys, minlength=len(keys))
    shared = counts[keys] > 1
    groups = np.full(len(keys), UNIQUE, np.int64)
    _, groups[shared] = np.unique(keys[shared], return_inverse=True)
    return groups


def group_members(groups: np.ndarray) -> list[np.ndarray]:
    """Per group number, the indices of its samples (one pass, for looking up many samples)."""
    copied = np.flatnonzero(groups != UNIQUE)
    if not len(copied):
        return []
    order = copied[np.argsort(groups[copied], kind="stable")]
    bounds = np.cumsum(np.bincount(groups[copied]))
    return np.split(order, bounds[:-1])


def disagreeing(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) bool: the sample has a copy with another label (labels < 0, unlabelled or
    excluded, take no part)."""
    return _spread(groups, np.asarray(labels), valid=np.asarray(labels) >= 0)


def across_splits(groups: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """(N,) bool: the sample has a copy in another split."""
    splits = np.asarray(splits)
    return _spread(groups, np.unique(splits, return_inverse=True)[1], valid=np.ones(len(splits), bool))


def _spread(groups: np.ndarray, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N,) bool: the sample's group holds more than one distinct value among its valid members."""
    out = np.zeros(len(groups), bool)
    copied = (groups != UNIQUE) & valid
    if not copied.any():
        return out
    pairs = np.unique(np.stack([groups[copied], values[copied]], axis=1), axis=0)
    per_group = np.bincount(pairs[:, 0], minlength=int(groups.max()) + 1)
    return (groups != UNIQUE) & valid & (per_group[np.maximum(groups, 0)] > 1)
