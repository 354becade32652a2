"""The training loop on a separable synthetic task: it learns, a stopped run resumes to the
very same weights and metrics as a straight one, and old checkpoints stay resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import SampleSet
from trainer.data.synthetic import pattern_set
from trainer.models.card import load_model
from trainer.training.config import resolve_config
from trainer.training.loop import CHECKPOINT, train_stage
from trainer.training.progress import Progress

TINY = "timm:test_resnet"  # 0.4M parameters: a few ms per batch on one CPU core


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sets(n_train: int, n_val: int, classes: int = 4, size: int = 32) -> tuple[SampleSet, SampleSet]:
    def make(n, seed, name):
        images, labels = pattern_set(n, classes, size, seed)
        return SampleSet([f"{name}:{i}" for i in range(n)], images, labels.astype(np.int64), BASIC_CLASSES, name=name)

    return make(n_train, 1, "train"), make(n_val, 2, "val")


def _cfg(**kw):
    base = dict(model=TINY, pretrained=False, input_size=32, batch_size=32, epochs=3, seed=3)
    return resolve_config("modern", **{**base, **kw})


def test_learns_a_separable_task(tmp_path):
    train, val = _sets(320, 80)
    result = train_stage(_cfg(epochs=4), train, val, tmp_path / "run", name="toy")
    assert result.metrics["val"]["accuracy"] >= 0.85  # chance is 0.25
    for f in ("model.safetensors", "model.json", "metrics.json", "config.json", "curves.png", "confusion.png"):
        assert (tmp_path / "run" / f).is_file(), f
    model, card = load_model(tmp_path / "run" / "model")
    assert card.classes == list(BASIC_CLASSES) and card.input_size == 32
    assert card.metrics["val"]["accuracy"] == result.metrics["val"]["accuracy"]
    assert card.preprocessing == {"faces": "crops", "grey": True}
    # the best epoch's weights are readable like the model beside them (safetensors alone: 0600)
    mode = (tmp_path / "run" / "model.json").stat().st_mode & 0o777
    assert (tmp_path / "run" / "best.safetensors").stat().st_mode & 0o777 == mode


class StopAfter(Progress):
    """should_stop that turns true after ``epochs`` full epochs (and, optionally, ``batches``
    more batches): a kill at that point."""

    def __init__(self, epochs: int, batches: int | None = None) -> None:
        self.epochs, self.batches = epochs, batches
        self.done_epochs, self.done_batches = 0, 0

    def epoch_end(self, record):
        self.done_epochs += 1

    def batch(self, index, loss):
        if self.done_epochs == self.epochs:
            self.done_batches += 1

    def __call__(self) -> bool:
        if self.batches is None:
            return self.done_epochs >= self.epochs
        return self.done_epochs >= self.epochs and self.done_batches >= self.batches


def _comparable(metrics: dict) -> dict:
    out = json.loads(json.dumps(metrics))
    for record in out["history"]:
        record.pop("seconds")
        record.pop("images_per_second")
    out.pop("interrupted")
    return out


@pytest.mark.parametrize("stop", [StopAfter(1), StopAfter(1, batches=2)], ids=["after-epoch", "mid-epoch"])
def test_resume_equals_straight_run(tmp_path, stop):
    train, val = _sets(128, 32)
    cfg = _cfg(select="best")  # best-epoch bookkeeping must survive the stop too
    straight = train_stage(cfg, train, val, tmp_path / "straight")

    first = train_stage(cfg, train, val, tmp_path / "stopped", progress=stop, should_stop=stop)
    assert first.interrupted and len(first.metrics["history"]) == 1
    assert json.loads((tmp_path / "stopped" / "metrics.json").read_text())["interrupted"]
    resumed = train_stage(cfg, train, val, tmp_path / "stopped")
    assert not resumed.interrupted

    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "stopped" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _comparable(straight.metrics) == _comparable(resumed.metrics)


def test_stop_before_the_first_epoch_writes_no_model(tmp_path):
    train, val = _sets(64, 16)
    result = train_stage(_cfg(), train, val, tmp_path / "r", should_stop=lambda: True)
    assert result.interrupted and not (tmp_path / "r" / "model.safetensors").exists()


def test_resume_rules(tmp_path):
    train, val = _sets(64, 16)
    cfg = _cfg(epochs=1)
    train_stage(cfg, train, val, tmp_path / "r")
    with pytest.raises(ValueError, match="already holds a run"):
        train_stage(cfg, train, val, tmp_path / "r", resume=False)
    with pytest.raises(ValueError, match="another config"):
        train_stage(_cfg(epochs=1, lr=0.5), train, val, tmp_path / "r")
    # A checkpoint written before a setting existed (here: tta_flip) still resumes.
    ckpt_path = tmp_path / "r" / CHECKPOINT
    ckpt = torch.load(ckpt_path, weights_only=True)
    record = json.loads(ckpt["config_json"])
    del record["config"]["tta_flip"]
    ckpt["config_json"] = json.dumps(record)
    torch.save(ckpt, ckpt_path)
    assert train_stage(cfg, train, val, tmp_path / "r").metrics["history"][0]["epoch"] == 1


def test_soft_labels_and_class_weights(tmp_path):
    from trainer.training.loop import _loss_fn

    train, val = _sets(64, 16)
    # Imbalanced (16, 8, 16, 4 of the four classes present), so class weights change the loss.
    keep = np.concatenate([np.flatnonzero(train.labels == c)[:n] for c, n in enumerate((16, 8, 16, 4))])
    train = train.subset(np.sort(keep))
    votes = np.eye(7, dtype=np.float32)[train.labels] * 0.7 + 0.3 / 7  # noisy votes, same majority
    train = SampleSet(train.ids, train.images, train.labels, train.classes, soft_labels=votes, name="soft")
    # The loss the loop builds for this set, against the formula written out independently:
    # class weights w_c = N / (C * n_c) (absent classes count 1), sample weights s_i = sum_c w_c y_ic,
    # loss = sum_i s_i H(q_i, softmax(z_i)) / sum_i s_i with q = (1 - eps) y + eps / C.
    cfg = _cfg(epochs=1, soft_labels=True, class_balance="weights", label_smoothing=0.1)
    criterion = _loss_fn(cfg, train, torch.device("cpu"))
    logits = np.random.default_rng(0).normal(size=(8, 7))
    y = votes[:8] / votes[:8].sum(axis=1, keepdims=True)
    counts = np.maximum(np.bincount(train.labels, minlength=7), 1).astype(float)
    w = counts.sum() / (7 * counts)
    q = 0.9 * y + 0.1 / 7
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    s = y @ w
    expected = (s * -(q * log_p).sum(axis=1)).sum() / s.sum()
    got = criterion(torch.tensor(logits, dtype=torch.float32), torch.tensor(votes[:8]))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    assert float(got) != pytest.approx(-(q * log_p).sum(axis=1).mean(), rel=1e-3)  # the weights matter here
    # ... and the loop trains on the votes when asked to: the same run on hard labels has
    # another loss (same seed, same batches, other targets).
    soft = train_stage(_cfg(epochs=1, soft_labels=True), train, val, tmp_path / "soft")
    hard = train_stage(_cfg(epochs=1, soft_labels=False), train, val, tmp_path / "hard")
    assert soft.metrics["history"][0]["train_loss"] != pytest.approx(hard.metrics["history"][0]["train_loss"],
                                                                     rel=1e-3)


def test_init_from_a_previous_model_keeps_its_backbone(tmp_path):
    train, val = _sets(64, 16)
    train_stage(_cfg(epochs=1), train, val, tmp_path / "one")
    result = train_stage(_cfg(epochs=1, model="efficientnet-lite0", init_from=str(tmp_path / "one" / "model")),
                         train, val, tmp_path / "two")
    assert result.card.backbone == TINY  # the card of the model it started from decides
    assert result.card.training["init_head"] == "kept"


def test_a_frozen_backbone_changes_only_the_classifier(tmp_path):
    train, val = _sets(128, 32)
    train_stage(_cfg(epochs=1), train, val, tmp_path / "one")
    result = train_stage(_cfg(epochs=2, freeze_backbone=True, init_from=str(tmp_path / "one" / "model")),
                         train, val, tmp_path / "two")
    before = load_file(str(tmp_path / "one" / "model.safetensors"))
    after = load_file(str(tmp_path / "two" / "model.safetensors"))
    head = {k for k in before if k.startswith("fc.")}  # test_resnet's classifier
    assert head and all(torch.equal(before[k], after[k]) for k in before if k not in head)  # BN statistics too
    assert not all(torch.equal(before[k], after[k]) for k in head)
    assert result.metrics["val"]["accuracy"] > 0.25  # chance


def test_ema_keeps_the_averaged_weights_and_resumes_exactly(tmp_path):
    train, val = _sets(128, 32)
    cfg = _cfg(select="last", ema_decay=0.9)
    straight = train_stage(cfg, train, val, tmp_path / "straight")
    train_stage(_cfg(select="last"), train, val, tmp_path / "plain")
    saved = load_file(str(tmp_path / "straight" / "model.safetensors"))
    raw = torch.load(tmp_path / "straight" / CHECKPOINT, weights_only=True)
    # The saved model is the average, not the last step's weights (which equal a plain run's:
    # EMA only watches training).
    key = "fc.weight" if "fc.weight" in saved else next(k for k in saved if k.endswith("weight"))
    assert torch.equal(raw["ema"][key], saved[key])
    assert not torch.equal(raw["model"][key], saved[key])
    assert torch.equal(raw["model"][key], load_file(str(tmp_path / "plain" / "model.safetensors"))[key])
    assert straight.metrics["val"]["accuracy"] == straight.metrics["history"][-1]["val_accuracy"]

    stop = StopAfter(1, batches=2)
    train_stage(cfg, train, val, tmp_path / "stopped", progress=stop, should_stop=stop)
    resumed = train_stage(cfg, train, val, tmp_path / "stopped")
    b = load_file(str(tmp_path / "stopped" / "model.safetensors"))
    assert all(torch.equal(saved[k], b[k]) for k in saved)
    assert _comparable(straight.metrics) == _comparable(resumed.metrics)


def test_mixup_blends_images_and_targets_alike():
    from trainer.training.losses import mixup

    x = torch.rand(8, 1, 4, 4)
    y = torch.arange(8) % 3
    torch.manual_seed(0)
    mixed, target = mixup(x, y, 3, alpha=0.4)
    torch.manual_seed(0)  # the same draws: lam, then the pairing
    lam = float(torch.distributions.Beta(0.4, 0.4).sample())
    perm = torch.randperm(8)
    onehot = torch.nn.functional.one_hot(y, 3).float()
    assert 0 < lam < 1 and not torch.equal(perm, torch.arange(8))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[perm])
    assert torch.allclose(target, lam * onehot + (1 - lam) * onehot[perm])
    assert torch.allclose(target.sum(1), torch.ones(8))


def test_training_with_mixup_still_learns(tmp_path):
    train, val = _sets(320, 80)
    result = train_stage(_cfg(epochs=4, mixup_alpha=0.2), train, val, tmp_path / "run")
    assert result.metrics["val"]["accuracy"] >= 0.8
