"""Packs: prepared sets that travel to a machine without the datasets (trainer/data/pack.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainer.data.datasets import TrainValData
from trainer.data.pack import load_pack, save_pack
from trainer.data.samples import DataError, SampleSet
from trainer.data.synthetic import pattern_set
from trainer.training.config import resolve_config
from trainer.training.runner import StageSpec, load_stage_data

CLASSES = ("angry", "happy", "sad", "neutral")


def _set(n: int, seed: int, name: str, size: int = 48) -> SampleSet:
    images, labels = pattern_set(n, len(CLASSES), size=size, seed=seed)
    soft = np.eye(len(CLASSES), dtype=np.float32)[labels] * 0.7 + 0.075
    return SampleSet(ids=[f"{name}:{i}" for i in range(n)], images=images, labels=labels.astype(np.int64),
                     classes=CLASSES, soft_labels=soft, name=name,
                     meta={"dataset": "synthetic", "preprocessing": {"faces": "align", "crop_size": size},
                           "face_methods": np.array(["crop"] * (n - 1) + ["asis"])})


def test_raw_pack_gives_back_every_set_exactly(tmp_path: Path) -> None:
    train, val = _set(40, 0, "train"), _set(12, 1, "val")
    val.soft_labels = None
    save_pack(tmp_path / "p.npz", {"a.train": train, "a.val": val}, notes={"a.train": {"description": {"k": 1}}})
    pack = load_pack(tmp_path / "p.npz")
    for name, original in (("a.train", train), ("a.val", val)):
        got = pack.sets[name]
        assert got.ids == original.ids and got.name == original.name and got.classes == original.classes
        np.testing.assert_array_equal(got.images, original.images)
        np.testing.assert_array_equal(got.labels, original.labels)
        np.testing.assert_array_equal(got.meta["face_methods"], original.meta["face_methods"])
        assert got.meta["preprocessing"] == original.meta["preprocessing"]
    np.testing.assert_allclose(pack.sets["a.train"].soft_labels, train.soft_labels)
    assert pack.sets["a.val"].soft_labels is None
    assert pack.notes["a.train"] == {"description": {"k": 1}}


def test_crops_shared_by_sets_are_stored_once(tmp_path: Path) -> None:
    votes = _set(60, 0, "votes")
    relabelled = SampleSet(ids=votes.ids, images=votes.images, labels=(votes.labels + 1) % 4, classes=CLASSES,
                           name="other labels")
    one = save_pack(tmp_path / "one.npz", {"v": votes}, codec="png")
    both = save_pack(tmp_path / "both.npz", {"v": votes, "r": relabelled, "s": votes.subset(range(30))}, codec="png")
    assert both < one * 1.2  # the crops, most of the bytes, once
    pack = load_pack(tmp_path / "both.npz")
    np.testing.assert_array_equal(pack.sets["r"].images, votes.images)  # png is lossless
    np.testing.assert_array_equal(pack.sets["r"].labels, relabelled.labels)
    assert pack.sets["s"].ids == votes.ids[:30]


def test_lossy_small_storage_comes_back_at_the_crops_size(tmp_path: Path) -> None:
    crops = _set(30, 3, "faces", size=96)
    raw = save_pack(tmp_path / "raw.npz", {"f": crops})
    small = save_pack(tmp_path / "small.npz", {"f": crops}, codec="webp", quality=90, store_size=64)
    assert small < raw / 2
    pack = load_pack(tmp_path / "small.npz")
    back = pack.sets["f"].images
    assert back.shape == crops.images.shape and back.dtype == np.uint8
    error = np.abs(back.astype(float) - crops.images.astype(float)).mean()
    assert 0 < error < 12  # lossy, and still the same picture (noisy textures, the worst case)
    assert pack.storage == {"codec": "webp", "quality": 90, "store_size": 64}


def test_what_is_not_a_pack_is_refused_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="not a readable pack"):
        load_pack(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="not a fer-desktop pack"):
        load_pack(tmp_path / "other.npz")
    with pytest.raises(DataError, match="unknown codec"):
        save_pack(tmp_path / "p.npz", {"f": _set(4, 0, "f")}, codec="gif")


def test_a_stage_takes_packed_data_and_still_cuts_its_fold(tmp_path: Path) -> None:
    train = _set(40, 0, "train")
    loaded = TrainValData(train, _set(10, 1, "val"), {"variant": None})
    spec = StageSpec(name="s", out=tmp_path, config=resolve_config(), train=["unused"], val_fold=(1, 4))
    data = load_stage_data(spec, loaded=loaded)
    rest, fold = train.split_fold(1, 4)
    assert data.train.ids == rest.ids and data.val.ids == fold.ids
    kept = load_stage_data(StageSpec(name="s", out=tmp_path, config=resolve_config(), train=["unused"]), loaded=loaded)
    assert kept.val is loaded.val
    dropped = load_stage_data(StageSpec(name="s", out=tmp_path, config=resolve_config(), train=["unused"], no_val=True),
                              loaded=loaded)
    assert dropped.val is None
