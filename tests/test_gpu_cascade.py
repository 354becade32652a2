"""bench/gpu_cascade.py: a cascade and its fold runs trained from a pack, on a machine without
the datasets, and what comes back (bundle / unbundle)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import gpu_cascade as gc  # noqa: E402
from trainer.classes import BASIC_CLASSES  # noqa: E402
from trainer.data.pack import save_pack  # noqa: E402
from trainer.data.samples import SampleSet  # noqa: E402
from trainer.data.synthetic import pattern_set  # noqa: E402
from trainer.models.card import load_model  # noqa: E402

CASCADE = """
name = "tiny"
[defaults]
model = "timm:test_resnet"
pretrained = false
input_size = 32
faces = "none"
epochs = 1
batch_size = 32
[[stages]]
name = "one"
train = ["data#Train"]
val = "data#Val"
preset = "modern"
[[stages]]
name = "two"
train = ["films#Train"]
no_val = true
replay = ["data#Train"]
freeze_backbone = true
"""


def _set(n: int, seed: int, name: str, films: bool = False) -> SampleSet:
    images, labels = pattern_set(n, 4, 32, seed)
    ids = [f"Train/x/film{i % 9}_{i:06d}_00000001.png" if films else f"{name}:{i}" for i in range(n)]
    return SampleSet(ids, images, labels.astype(np.int64), BASIC_CLASSES, name=name)


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "tiny.toml").write_text(CASCADE)
    monkeypatch.setitem(gc.JOBS, "tiny", gc.Job(str(tmp_path / "tiny.toml"), ["seed=1"], folds=3))
    return "tiny"


def test_a_job_runs_its_stages_and_folds_from_a_pack_and_comes_back(tmp_path: Path, job: str) -> None:
    specs = gc.stage_specs(gc.JOBS[job], tmp_path / "unused")
    data, films = _set(128, 1, "data"), _set(90, 2, "films", films=True)
    sets = {f"{gc.data_key(specs[0])}.train": data, f"{gc.data_key(specs[0])}.val": _set(64, 3, "val"),
            f"{gc.data_key(specs[1])}.train": films, f"{gc.replay_key(specs[1])}.replay": data}
    for fold in gc.fold_specs(gc.JOBS[job], specs, tmp_path / "unused"):  # folds load what stage two loads
        assert fold.val_fold is not None and fold.fold_by == "film"
        sets.setdefault(f"{gc.data_key(fold)}.train", films)
    save_pack(tmp_path / "pack.npz", sets, codec="png")

    out = tmp_path / "gpu" / job
    gc.run_job(job, tmp_path / "pack.npz", out, ["num_workers=0"])
    assert str(out / "1-one" / "model") in (out / "2-two" / "model.json").read_text()  # two starts from one
    for k in range(3):
        held = films.split_fold(k, 3, by="film")[1]
        val = json.loads((out / f"fold{k}" / "metrics.json").read_text())["val"]
        assert val["n"] == len(held) and "fold" in val["name"]  # validated on exactly fold k
        assert str(out / "1-one" / "model") in (out / f"fold{k}" / "model.json").read_text()

    gc.cmd_bundle(argparse.Namespace(root=str(tmp_path / "gpu"), out=str(tmp_path / "chunks"), chunk_mib=1))
    assert len(list((tmp_path / "chunks").glob("bundle.tar.xz.*"))) >= 1
    gc.cmd_unbundle(argparse.Namespace(chunks=str(tmp_path / "chunks"), out=str(tmp_path / "back")))
    for stage in ("1-one", "2-two", "fold0"):
        original, _ = load_model(out / stage / "model")
        back, _ = load_model(tmp_path / "back" / "gpu" / job / stage / "model")
        for (name, a), b in zip(original.state_dict().items(), back.state_dict().values()):
            if a.is_floating_point():  # travelled as fp16
                torch.testing.assert_close(b, a, rtol=2e-3, atol=1e-4, msg=name)
    assert not list((tmp_path / "back").rglob("checkpoint.pt"))
