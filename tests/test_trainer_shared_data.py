"""The readers on the real datasets in ../shared/data (skipped when they are absent)."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES, FERPLUS_CLASSES
from trainer.data.crops import FaceOptions
from trainer.data.datasets import LoadOptions, load_samples
from trainer.data.fer2013 import read_fer2013
from trainer.data.ferplus import read_ferplus

pytestmark = pytest.mark.shared_data


def test_fer2013_and_ferplus_rows(shared_data):
    fer = read_fer2013(shared_data / "fer2013" / "fer2013.csv.gz", limit=300)["Training"]
    assert len(fer) == 300 and fer.images.shape[1:] == (48, 48) and fer.classes == BASIC_CLASSES
    plus = read_ferplus(shared_data / "ferplus" / "fer2013new.csv", limit=300)["Training"]
    assert plus.classes == FERPLUS_CLASSES and 200 < len(plus) < 300
    # Same row, same pixels: the two files line up.
    row = int(plus.meta["rows"][0])
    np.testing.assert_array_equal(plus.images[0], fer.images[row])
    # FER+ majority agrees with FER-2013 on most happy faces (README: about 87% of votes).
    happy = plus.labels == FERPLUS_CLASSES.index("happy")
    agree = fer.labels[plus.meta["rows"][happy]] == BASIC_CLASSES.index("happy")
    assert agree.mean() > 0.7


def test_sfew_folders(shared_data, tmp_path):
    options = LoadOptions(faces=FaceOptions(mode="none", crop_size=64), cache_dir=tmp_path)
    val = load_samples(f"{shared_data / 'sfew2'}#Val", options)
    assert len(val) == 431 and val.name == "sfew2/Val" and val.images.shape[1:] == (64, 64)
    assert list(val.class_counts()) == [77, 23, 46, 72, 73, 56, 84]  # README's table, in our class order
    assert val.ids[0].startswith("Val/Angry/")
