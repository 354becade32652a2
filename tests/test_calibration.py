"""Calibration measures (trainer.evaluation.calibration) on probabilities with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluation.calibration import (calibration_error, expected_calibration_error, fit_temperature,
                                            negative_log_likelihood, reliability, vote_reliability,
                                            with_temperature)


def _calibrated(n: int = 20000, classes: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: calibrated by construction."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(classes, 0.6), n)
    labels = np.array([rng.choice(classes, p=p) for p in probs])
    return probs, labels


def test_a_hand_counted_example():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4], [0.5, 0.5]])
    labels = np.array([0, 1, 0, 0, -1])  # sure and right half the time; unsure and always right; one unlabelled
    table = reliability(probs, labels, bins=10)
    assert [(b.count, round(b.confidence, 6), b.accuracy) for b in table] == [(2, 0.6, 1.0), (2, 0.9, 0.5)]
    assert expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.4)
    assert negative_log_likelihood(probs, labels) == pytest.approx(-(np.log(0.9) + np.log(0.1) + 2 * np.log(0.6)) / 4)


def test_calibrated_probabilities_need_no_temperature():
    probs, labels = _calibrated()
    assert expected_calibration_error(probs, labels) < 0.02
    assert fit_temperature(probs, labels) == pytest.approx(1.0, abs=0.05)


def test_an_overconfident_model_is_found_out_and_cooled():
    probs, labels = _calibrated()
    sharp = with_temperature(probs, 0.5)  # what an overconfident model says
    assert (sharp.argmax(axis=1) == probs.argmax(axis=1)).all()  # the same top class
    assert expected_calibration_error(sharp, labels) > 0.1
    temperature = fit_temperature(sharp, labels)
    assert temperature == pytest.approx(2.0, rel=0.05)
    cooled = with_temperature(sharp, temperature)
    assert expected_calibration_error(cooled, labels) < 0.02
    assert negative_log_likelihood(cooled, labels) < negative_log_likelihood(sharp, labels)


def test_mismatched_or_empty_input_is_refused():
    with pytest.raises(ValueError):
        expected_calibration_error(np.ones((3, 2)) / 2, np.zeros(2, int))
    with pytest.raises(ValueError):
        fit_temperature(np.ones((2, 2)) / 2, np.array([-1, -1]))
    assert expected_calibration_error(np.ones((2, 2)) / 2, np.array([-1, -1])) == 0.0


def test_bars_held_against_votes():
    """A model that says each face's vote shares is calibrated against the votes, though its top
    class is the majority far more often than its bar says."""
    rng = np.random.default_rng(1)
    shares = rng.dirichlet(np.full(7, 0.8), 5000)
    shares[0] = 0  # nobody voted on this one: it takes no part
    probs = np.where(shares.sum(axis=1, keepdims=True) > 0, shares, 1 / 7)
    assert calibration_error(vote_reliability(probs, shares)) < 1e-9
    majority = shares.argmax(axis=1)
    assert expected_calibration_error(probs[1:], majority[1:]) > 0.2  # right every time, bars mostly under 0.6
    assert calibration_error(vote_reliability(with_temperature(probs, 0.5), shares)) > 0.1  # sharpened: off
    assert sum(b.count for b in vote_reliability(probs, shares)) == 4999
    with pytest.raises(ValueError):
        vote_reliability(probs, shares[:, :6])
