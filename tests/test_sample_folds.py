"""SampleSet.split_fold: the held-out folds partition the set, keep its class mix and depend on
the sample ids alone."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import DataError, SampleSet


def _set(order: np.ndarray) -> SampleSet:
    labels = np.repeat(np.arange(7), [50, 10, 20, 90, 40, 30, 60])[order]
    ids = [f"img{i:03d}" for i in order]
    return SampleSet(ids, np.zeros((len(ids), 8, 8), np.uint8), labels.astype(np.int64), BASIC_CLASSES, name="s")


def test_folds_partition_the_set_stratified_and_fixed_by_id():
    n = 300
    s = _set(np.arange(n))
    held = [s.split_fold(k, 5)[1] for k in range(5)]
    assert sorted(i for h in held for i in h.ids) == sorted(s.ids)  # every sample held out exactly once
    for h in held:
        assert np.array_equal(np.bincount(h.labels, minlength=7), [10, 2, 4, 18, 8, 6, 12])
    rest, fold = s.split_fold(2, 5)
    assert not set(rest.ids) & set(fold.ids) and len(rest) + len(fold) == n
    shuffled = _set(np.random.default_rng(0).permutation(n))  # the same samples in another order
    assert sorted(shuffled.split_fold(2, 5)[1].ids) == sorted(fold.ids)


@pytest.mark.parametrize("fold, folds", [(5, 5), (-1, 5), (0, 1)])
def test_impossible_folds_are_refused(fold, folds):
    with pytest.raises(DataError):
        _set(np.arange(300)).split_fold(fold, folds)
