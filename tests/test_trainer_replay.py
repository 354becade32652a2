"""Rehearsal (``--replay``): the sampler's epochs, and that replay keeps an earlier task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import SampleSet
from trainer.data.synthetic import pattern_set
from trainer.evaluation.evaluate import evaluate_samples
from trainer.models.card import load_model
from trainer.training.config import resolve_config
from trainer.training.loop import train_stage
from trainer.training.replay import ReplaySampler

TINY = "timm:test_resnet"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_each_epoch_is_every_target_sample_plus_fresh_replay():
    sampler = ReplaySampler(10, 100, 3.0, torch.Generator().manual_seed(0))
    assert len(sampler) == 40
    epochs = [list(sampler) for _ in range(2)]
    for order in epochs:
        assert len(order) == 40
        assert sorted(i for i in order if i < 10) == list(range(10))  # each target sample once
        replay = [i for i in order if i >= 10]
        assert len(replay) == 30 == len(set(replay)) and max(replay) < 110  # no repeats, in range
    assert set(epochs[0]) != set(epochs[1])  # a fresh draw of replay samples each epoch
    assert len(ReplaySampler(10, 5, 3.0, torch.Generator())) == 15  # no more than there is
    with pytest.raises(ValueError):
        ReplaySampler(0, 5, 1.0, torch.Generator())


def _set(n: int, classes: int, seed: int, name: str) -> SampleSet:
    images, labels = pattern_set(n, classes, 32, seed)
    return SampleSet([f"{name}:{i}" for i in range(n)], images, labels.astype(np.int64), BASIC_CLASSES, name=name)


def _cfg(**kw):
    base = dict(model=TINY, pretrained=False, input_size=32, batch_size=32, epochs=4, seed=3)
    return resolve_config("modern", **{**base, **kw})


def test_replay_keeps_the_first_task(tmp_path):
    first_train, first_val = _set(320, 4, 1, "first"), _set(160, 4, 2, "first-val")
    train_stage(_cfg(), first_train, first_val, tmp_path / "one")
    # The new task only has two of the four classes: without rehearsal the model stops
    # predicting the other two.
    second = _set(128, 2, 5, "second")
    init = str(tmp_path / "one" / "model")
    train_stage(_cfg(init_from=init, lr=3e-3), second, None, tmp_path / "plain")
    train_stage(_cfg(init_from=init, lr=3e-3, replay_ratio=1.0), second, None, tmp_path / "kept", replay=first_train)
    accuracy = {}
    for name in ("one", "plain", "kept"):
        model, card = load_model(tmp_path / name / "model")
        accuracy[name] = evaluate_samples(model, card, first_val, device="cpu")["accuracy"]
    assert accuracy["one"] >= 0.85
    assert accuracy["plain"] <= 0.6  # forgot classes 2 and 3
    assert accuracy["kept"] >= 0.85


def test_replay_run_resumes_exactly(tmp_path):
    target, replay, val = _set(64, 4, 1, "target"), _set(200, 4, 2, "old"), _set(32, 4, 3, "val")
    cfg = _cfg(epochs=2, replay_ratio=2.0)
    train_stage(cfg, target, val, tmp_path / "straight", replay=replay)
    stop_after_one = iter([False, False] + [False] * 6 + [True] * 100)  # before epoch 1, 6 batches, then stop
    first = train_stage(cfg, target, val, tmp_path / "stopped", replay=replay,
                        should_stop=lambda: next(stop_after_one))
    assert first.interrupted
    train_stage(cfg, target, val, tmp_path / "stopped", replay=replay)
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "stopped" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="another config"):  # replaying other data is another run
        train_stage(cfg, target, val, tmp_path / "stopped", replay=val)


def test_replay_refuses_the_class_sampler(tmp_path):
    target, replay = _set(64, 4, 1, "target"), _set(64, 4, 2, "old")
    with pytest.raises(ValueError, match="sampler"):
        train_stage(_cfg(epochs=1, class_balance="sampler"), target, None, tmp_path / "r", replay=replay)
