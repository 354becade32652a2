"""Copies inside a dataset: the same image under several ids, exactly or nearly.

FER-2013 holds 1,514 groups of identical faces (3,365 images); 568 of its PublicTest and
PrivateTest faces have a copy in Training, and 57 groups carry more than one label. It holds
more near copies: the same photo cropped a little differently, brighter, re-encoded or with
another watermark, or mirrored. With them, 9,092 images fall in 3,397 groups, 1,671 test faces
have a copy in Training and 407 groups carry more than one label (bench/near_copies.py). A copy
in the training split inflates a test score (a mirrored one too: training flips faces), and
copies labelled differently are label errors by construction. Functions of (images[, labels,
splits]), Qt-free, for the review window, ``fer-train issues`` and ``bench/leakage.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import cv2
import numpy as np

UNIQUE = -1  # the group of an image with no copy

# Near copies: the correlation of two faces' pixels where they line up best (shifted up to 1/12
# of the side, scaled by 0.92 to 1.08, turned up to 3 degrees). The threshold was chosen by eye
# on FER-2013's pairs (bench/near_copies.py --montage, 16 random pairs a band): from 0.93 up, 47
# of 48 were one photo twice (the other: one woman in two photos); 0.91-0.93, 30 of 32; 0.89-0.91,
# 6 of 16. Changed copies of 1,000 Training faces are found among the rest 91% of the time.
NEAR_COPY_SIMILARITY = 0.93
# Mirrored, a face lines up with other people's more easily (faces are nearly symmetric, and
# each face gets twice the candidates): on the same pictures, 32 of 32 mirrored pairs from 0.95
# up were one photo, about 11 of 16 at 0.93-0.95 (two different men among them) and 2 of 16 at
# 0.92-0.93.
MIRRORED_COPY_SIMILARITY = 0.95
COPIES_VERSION = 2  # bump when what near_copy_groups finds changes: caches of groups go stale
_THUMB = 16  # side of the thumbnails whose correlation proposes candidates (cheap, brightness-free)
_SIDE = 48  # side at which candidates are compared (FER-2013's own)
_SHIFT = 4  # pixels of _SIDE each way
_SCALES = (0.92, 0.96, 1.0, 1.04, 1.08)
_ANGLES = (-3.0, 0.0, 3.0)  # degrees


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
    return _numbered(keys)


def _numbered(first: np.ndarray) -> np.ndarray:
    """Groups from each image's first look-alike (its own index when it is the first): numbered
    in order of first appearance, UNIQUE for an image alone."""
    counts = np.bincount(first, minlength=len(first))
    shared = counts[first] > 1
    groups = np.full(len(first), UNIQUE, np.int64)
    _, groups[shared] = np.unique(first[shared], return_inverse=True)
    return groups


def group_members(groups: np.ndarray) -> list[np.ndarray]:
    """Per group number, the indices of its samples (one pass, for looking up many samples)."""
    copied = np.flatnonzero(groups != UNIQUE)
    if not len(copied):
        return []
    order = copied[np.argsort(groups[copied], kind="stable")]
    bounds = np.cumsum(np.bincount(groups[copied]))
    return np.split(order, bounds[:-1])


def copies_of(groups: np.ndarray, members: list[np.ndarray], i: int) -> np.ndarray:
    """The other members of sample ``i``'s group (``members``: group_members(groups))."""
    if groups[i] == UNIQUE:
        return np.zeros(0, np.int64)
    same = members[groups[i]]
    return same[same != i]


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


def near_copy_groups(images: np.ndarray | Sequence[np.ndarray], threshold: float = NEAR_COPY_SIMILARITY,
                     neighbours: int = 4, progress: Callable[[int, int], None] | None = None,
                     exact: np.ndarray | None = None) -> np.ndarray:
    """(N,) int like copy_groups, over exact and near copies: images linked by a chain of
    pairs at least ``threshold`` alike (near_copy_pairs) share a group. ``exact``: the images'
    copy_groups, when the caller has them already."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(images)
    pairs = near_copy_pairs(images, threshold, neighbours, progress).pairs
    exact = copy_groups(images) if exact is None else exact
    members = group_members(exact)  # exact copies join even where the candidates missed one
    chained = [np.stack([m[:-1], m[1:]], axis=1) for m in members]
    edges = np.concatenate([pairs.reshape(-1, 2), *chained]) if chained else pairs.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    first = np.full(n, n, np.int64)
    np.minimum.at(first, component, np.arange(n))  # each component's first image
    return _numbered(first[component])


def cached_near_copy_groups(images: np.ndarray | Sequence[np.ndarray], beside: Path | None,
                            progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """near_copy_groups, kept next to the file ``beside`` (a cached pass of a model over these
    crops, whose name changes when they do) and read back from there; None: not kept."""
    from trainer.data.cache import expect, load_entry, save_entry

    where = None if beside is None else beside.with_suffix(f".copies{COPIES_VERSION}.npz")

    def read(arrays: dict[str, np.ndarray]) -> np.ndarray:
        expect(len(arrays["groups"]) == len(images), "for another number of images")
        return arrays["groups"]

    groups = None if where is None else load_entry(where, read)
    if groups is None:
        groups = near_copy_groups(images, progress=progress)
        if where is not None:
            save_entry(where, {"groups": groups})
    return groups


class NearCopies(NamedTuple):
    """Pairs of images found alike: (P, 2) indices i < j, (P,) similarity, (P,) bool whether
    they line up best with one of them mirrored."""

    pairs: np.ndarray
    alike: np.ndarray
    mirrored: np.ndarray


def near_copy_pairs(images: np.ndarray | Sequence[np.ndarray], threshold: float = NEAR_COPY_SIMILARITY,
                    neighbours: int = 4, progress: Callable[[int, int], None] | None = None,
                    mirrored_threshold: float = MIRRORED_COPY_SIMILARITY) -> NearCopies:
    """Pairs of images at least ``threshold`` alike as they are, or ``mirrored_threshold`` with
    one mirrored. Each image's ``neighbours`` most correlated thumbnails, and its mirror image's,
    are the candidates; each candidate pair is compared at full size the way it was proposed.
    ``progress(done, total)`` after each block of images searched (all of FER-2013 takes two
    to four minutes)."""
    if len(images) < 2:
        return NearCopies(np.empty((0, 2), np.int64), np.empty(0), np.empty(0, bool))
    thumbs = np.stack([_resized(im, _THUMB) for im in images])
    rows = _unit_rows(thumbs.reshape(len(images), -1))
    mirrors = _unit_rows(thumbs[:, :, ::-1].reshape(len(images), -1))
    k = min(neighbours, len(images) - 1)
    candidates = []
    for flag, queries in ((0, rows), (1, mirrors)):
        report = None if progress is None else (lambda done, total, f=flag: progress(f * total + done, 2 * total))
        found = _most_correlated(queries, rows, k, report)
        candidates.append(np.column_stack([np.sort(found, axis=1), np.full(len(found), flag)]))
    proposed = np.unique(np.concatenate(candidates), axis=0)  # (i, j, mirrored), i < j
    faces = [_resized(im, _SIDE) for im in images]
    alike = np.array([similarity(faces[i], faces[j], mirrored=bool(m)) for i, j, m in proposed])
    passed = alike >= np.where(proposed[:, 2] == 1, mirrored_threshold, threshold)
    proposed, alike = proposed[passed], alike[passed]
    # a pair that passes both ways keeps the way it lines up best
    best = np.lexsort((-alike, proposed[:, 1], proposed[:, 0]))
    proposed, alike = proposed[best], alike[best]
    first = np.ones(len(proposed), bool)
    first[1:] = (np.diff(proposed[:, :2], axis=0) != 0).any(axis=1)
    return NearCopies(proposed[first, :2], alike[first], proposed[first, 2].astype(bool))


def _most_correlated(queries: np.ndarray, rows: np.ndarray, k: int,
                     progress: Callable[[int, int], None] | None) -> np.ndarray:
    """(N*k, 2) pairs (query, row): each query's ``k`` most correlated rows, itself left out."""
    out = []
    for start in range(0, len(queries), 1024):  # blocks of queries: memory stays at 1024 x N
        c = queries[start:start + 1024] @ rows.T
        index = np.arange(len(c))
        c[index, index + start] = -np.inf  # not itself (nor its own mirror image)
        nearest = np.argpartition(-c, k - 1, axis=1)[:, :k]
        out.append(np.stack([np.repeat(index + start, k), nearest.ravel()], axis=1))
        if progress is not None:
            progress(start + len(c), len(queries))
    return np.concatenate(out)


def likeness(a: np.ndarray, b: np.ndarray) -> tuple[float, bool]:
    """(similarity, mirrored): how alike two faces are as they are or with one mirrored: the
    way that makes them copies (near_copy_pairs' thresholds), else whichever lines up better."""
    direct, mirrored = similarity(a, b), similarity(a, b, mirrored=True)
    copy_as_is, copy_mirrored = direct >= NEAR_COPY_SIMILARITY, mirrored >= MIRRORED_COPY_SIMILARITY
    if copy_as_is != copy_mirrored:
        return (mirrored, True) if copy_mirrored else (direct, False)
    return (mirrored, True) if mirrored > direct else (direct, False)


def similarity(a: np.ndarray, b: np.ndarray, mirrored: bool = False) -> float:
    """The correlation of two faces' pixels (-1 to 1) where they line up best: ``a`` (its mirror
    image when ``mirrored``) scaled (0.92 to 1.08), turned (-3 to 3 degrees) and shifted up to
    1/12 of the side over ``b``. An image of one grey level is like nothing (0) but its exact
    copy, which copy_groups finds."""
    a, b = _resized(a, _SIDE).astype(np.float32), _resized(b, _SIDE).astype(np.float32)
    if mirrored:
        a = np.ascontiguousarray(a[:, ::-1])
    if a.std() < 1 or b.std() < 1:
        return 1.0 if np.array_equal(a, b) else 0.0
    centre = ((_SIDE - 1) / 2, (_SIDE - 1) / 2)
    best = -1.0
    for scale in _SCALES:
        for angle in _ANGLES:
            moved = cv2.warpAffine(a, cv2.getRotationMatrix2D(centre, angle, scale), (_SIDE, _SIDE),
                                   borderMode=cv2.BORDER_REPLICATE)
            middle = moved[_SHIFT:-_SHIFT, _SHIFT:-_SHIFT]  # the template slides _SHIFT px each way over b
            if middle.std() < 1:
                continue
            best = max(best, float(cv2.matchTemplate(b, middle, cv2.TM_CCOEFF_NORMED).max()))
    return best


def _resized(image: np.ndarray, side: int) -> np.ndarray:
    """A grey ``side`` x ``side`` copy (area averaging shrinks without aliasing)."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.shape == (side, side):
        return image
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row less its mean, over its length: dot products are correlations."""
    rows = rows.astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)
