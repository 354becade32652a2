"""Metrics against hand-computed values; the loss; evaluation's class mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainer.classes import BASIC_CLASSES, FERPLUS_CLASSES
from trainer.data.samples import SampleSet
from trainer.evaluation.evaluate import evaluate_samples, format_report
from trainer.evaluation.metrics import confusion_matrix, renormalised, summarise
from trainer.models.card import ModelCard
from trainer.training.losses import SoftTargetCrossEntropy


def test_confusion_and_summary_by_hand():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2, -1]  # -1: unlabelled, ignored
    preds = [0, 1, 0, 1, 1, 2, 0, 2, 2, 3]
    conf = confusion_matrix(np.array(labels), np.array(preds), 4)
    # rows: true a, b, c, d; columns: predicted
    assert conf.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 3, 0], [0, 0, 0, 0]]
    s = summarise(conf, ["a", "b", "c", "d"])
    assert s["n"] == 9
    assert s["accuracy"] == pytest.approx(7 / 9)
    assert s["per_class_recall"] == pytest.approx({"a": 2 / 3, "b": 1.0, "c": 3 / 4, "d": None})
    assert s["per_class_precision"] == pytest.approx({"a": 2 / 3, "b": 2 / 3, "c": 1.0, "d": None})
    # F1: a = 2/3, b = 2 * (2/3 * 1) / (5/3) = 4/5, c = 2 * (1 * 3/4) / (7/4) = 6/7; d has no samples.
    assert s["macro_f1"] == pytest.approx((2 / 3 + 4 / 5 + 6 / 7) / 3)
    assert s["mean_class_recall"] == pytest.approx((2 / 3 + 1 + 3 / 4) / 3)


def test_renormalised_by_hand():
    # what a seven-class model's bars read on data with three of its classes
    probs = np.array([[0.2, 0.2, 0.1], [0.0, 0.0, 0.0], [0.5, 0.25, 0.25]], dtype=np.float32)
    np.testing.assert_allclose(renormalised(probs), [[0.4, 0.4, 0.2], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(renormalised(probs, empty=0.0)[1], [0, 0, 0])
    assert renormalised(probs).dtype == np.float32


def test_loss_matches_torch_where_it_should():
    torch.manual_seed(0)
    logits, target = torch.randn(16, 7), torch.randint(0, 7, (16,))
    for eps in (0.0, 0.1):
        ours = SoftTargetCrossEntropy(label_smoothing=eps)(logits, target)
        assert ours.item() == pytest.approx(nn.CrossEntropyLoss(label_smoothing=eps)(logits, target).item(), abs=1e-6)
    w = torch.rand(7) + 0.5
    ours = SoftTargetCrossEntropy(weight=w)(logits, target)
    assert ours.item() == pytest.approx(nn.CrossEntropyLoss(weight=w)(logits, target).item(), abs=1e-6)
    # One-hot distributions are the same as class indices, smoothing and weights included.
    one_hot = torch.nn.functional.one_hot(target, 7).float()
    a = SoftTargetCrossEntropy(weight=w, label_smoothing=0.1)
    assert a(logits, one_hot).item() == pytest.approx(a(logits, target).item(), abs=1e-6)
    # Votes: H(q, p) for q = the normalised votes.
    votes = torch.tensor([[3.0, 1.0, 0, 0, 0, 0, 0]])
    expected = -(torch.tensor([0.75, 0.25]) * torch.log_softmax(logits[:1], 1)[0, :2]).sum()
    assert SoftTargetCrossEntropy()(logits[:1], votes).item() == pytest.approx(expected.item(), abs=1e-6)


class BrightnessModel(nn.Module):
    """Predicts class k for images whose normalised brightness is closest to centres[k]."""

    def __init__(self, centres: list[float]) -> None:
        super().__init__()
        self.register_buffer("centres", torch.tensor(centres))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -20 * (x.mean(dim=(1, 2, 3))[:, None] - self.centres[None]).abs()


def _card(classes) -> ModelCard:
    return ModelCard(name="toy", backbone="none", classes=list(classes), input_size=8, mean=[0.5], std=[0.5])


def _set(values, labels, classes) -> SampleSet:
    images = np.stack([np.full((8, 8), v, np.uint8) for v in values])
    return SampleSet([str(i) for i in range(len(values))], images, np.array(labels), tuple(classes))


def _brightness(k: int, n: int) -> int:
    """The grey level whose normalised value is the k-th of n centres spread over [-0.9, 0.9]."""
    return int(round((np.linspace(-0.9, 0.9, n)[k] * 0.5 + 0.5) * 255))


def test_eight_class_model_on_seven_class_data():
    model = BrightnessModel(list(np.linspace(-0.9, 0.9, 8)))
    c = FERPLUS_CLASSES
    # Three samples look like "happy" (3), one like "contempt" (7), whose next-closest is neutral (6).
    data = _set([_brightness(3, 8)] * 3 + [_brightness(7, 8)], [3, 3, 3, 6], BASIC_CLASSES)
    r = evaluate_samples(model, _card(c), data, device="cpu", tta_flip=False)
    assert r["classes"] == list(BASIC_CLASSES)
    assert r["accuracy"] == 1.0  # contempt is not a possible answer on 7-class data
    assert "no class contempt" in r["class_mapping"][0]
    assert "note:" in format_report(r)


def test_seven_class_model_on_eight_class_data():
    model = BrightnessModel(list(np.linspace(-0.9, 0.9, 7)))
    data = _set([_brightness(0, 7), _brightness(5, 7), _brightness(5, 7)], [0, 7, 5], FERPLUS_CLASSES)
    r = evaluate_samples(model, _card(BASIC_CLASSES), data, device="cpu", tta_flip=False)
    assert r["n"] == 2 and r["left_out"] == 1 and r["accuracy"] == 1.0
    assert "contempt" in r["class_mapping"][0]


def test_the_summary_says_how_far_the_bars_hold():
    """Sure (0.9) and right half the time, unsure (0.6) and always right: top bars 0.75 on
    average, 0.4 off in both bins. The data's third class, which the model lacks, is renormalised
    away (its 0.1 was never a possible answer)."""
    from trainer.evaluation.evaluate import summarise_predictions
    from trainer.evaluation.predictions import Predictions

    probs = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0], [0.54, 0.36, 0.1], [0.54, 0.36, 0.1]], np.float32)
    data_classes = ("angry", "happy", "contempt")
    pred = Predictions(ids=list("abcd"), labels=np.array([0, 1, 0, 0]), probs=probs, classes=data_classes)
    r = summarise_predictions(pred, ["angry", "happy"])
    assert r["accuracy"] == 0.75
    assert r["calibration"]["mean_confidence"] == pytest.approx(0.75)
    assert r["calibration"]["ece"] == pytest.approx(0.4)
    assert r["calibration"]["nll"] == pytest.approx(-(np.log(0.9) + np.log(0.1) + 2 * np.log(0.6)) / 4, rel=1e-5)
    assert "ECE 0.400" in format_report(r)
