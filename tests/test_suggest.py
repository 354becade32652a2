"""Suggestions learnt from the labels given so far (trainer.evaluation.suggest), on generated
features with a known answer: faces of three classes around three points."""

from __future__ import annotations

import numpy as np

import trainer.evaluation.suggest as suggest_module
from trainer.evaluation.suggest import MIN_LABELS, suggest


def _faces(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, 16)) * 3
    return centres[truth] + rng.normal(size=(n, 16)), truth


def _given(truth: np.ndarray, k: int, seed: int = 1) -> np.ndarray:
    labels = np.full(len(truth), -1)
    pick = np.random.default_rng(seed).permutation(len(truth))[:k]
    labels[pick] = truth[pick]
    return labels


def test_a_model_blind_to_these_faces_is_outdone_by_what_the_labels_teach():
    x, truth = _faces()
    blind = np.tile([0.5, 0.3, 0.2], (len(truth), 1))  # always "class 0": right a third of the time
    labels = _given(truth, 60)
    found = suggest(blind, x, labels)
    rest = labels < 0
    assert found.rule in ("mix", "head") and found.labelled == 60
    assert (found.classes[rest] == truth[rest]).mean() > 0.9 > (blind[rest].argmax(1) == truth[rest]).mean() + 0.5
    assert found.cv_accuracy["model"] < 0.5 < found.cv_accuracy[found.rule]
    assert "from your 60 labels" in found.describe()


def test_a_model_that_is_right_keeps_its_classes():
    x, truth = _faces()
    sure = np.full((len(truth), 3), 0.05)
    sure[np.arange(len(truth)), truth] = 0.9  # right on every face: nothing to gain, ties go to it
    found = suggest(sure, x, _given(truth, 60))
    assert found.rule == "model" and np.array_equal(found.classes, truth) and found.cv_accuracy["model"] == 1.0


def test_too_few_labels_leave_the_model_alone():
    x, truth = _faces()
    probs = np.tile([0.2, 0.5, 0.3], (len(truth), 1))
    found = suggest(probs, x, _given(truth, MIN_LABELS - 1))
    assert found.rule == "model" and found.cv_accuracy == {} and (found.classes == 1).all()
    assert "too few to learn from" in found.describe()


def test_many_labels_are_drawn_down_and_said_so(monkeypatch):
    monkeypatch.setattr(suggest_module, "MAX_LABELS", 50)
    x, truth = _faces()
    blind = np.tile([0.5, 0.3, 0.2], (len(truth), 1))
    found = suggest(blind, x, _given(truth, 120))
    assert (found.labelled, found.used) == (120, 50) and "from 50 of your 120 labels" in found.describe()
    assert (found.classes == truth).mean() > 0.9
