"""How far a model's probabilities can be taken at their word: calibration of (probs, labels).

The app shows a face's probabilities as bars ("happy 91%"); a calibrated model is right on 91%
of the faces it gives 91%. Functions of (probabilities, labels) like label_quality's; labels
< 0 (unlabelled, or a class the model lacks) take no part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 15  # equal-width confidence bins, the usual choice for the expected calibration error
_TINY = 1e-12


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    confidence: float  # mean top probability of the samples in the bin
    accuracy: float  # share of them whose top class is the label


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[ReliabilityBin]:
    """The samples binned by their top probability: how sure the model was, how often right
    (bins without samples left out)."""
    probs, labels = _scored(probs, labels)
    return _binned(probs.max(axis=1), probs.argmax(axis=1) == labels, bins)


def vote_reliability(probs: np.ndarray, shares: np.ndarray, bins: int = BINS) -> list[ReliabilityBin]:
    """Like reliability, against people's votes instead of one label: a bin's "accuracy" is the
    mean share of the votes that went to the model's top class (``shares``: (N, C) rows summing
    to 1, or all 0 for a sample nobody voted on, which takes no part). A model trained on vote
    distributions is calibrated this way when "happy 60%" means six people in ten said happy."""
    probs, shares = np.asarray(probs, dtype=np.float64), np.asarray(shares, dtype=np.float64)
    if probs.shape != shares.shape:
        raise ValueError(f"probabilities {probs.shape} and vote shares {shares.shape} do not match")
    keep = shares.sum(axis=1) > 0
    probs, shares = probs[keep], shares[keep]
    top = probs.argmax(axis=1)
    return _binned(probs.max(axis=1), shares[np.arange(len(top)), top], bins)


def _binned(confidence: np.ndarray, hit: np.ndarray, bins: int) -> list[ReliabilityBin]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)  # (low, high]
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), int(inside.sum()),
                                      float(confidence[inside].mean()), float(np.mean(hit[inside]))))
    return out


def calibration_error(table: list[ReliabilityBin]) -> float:
    """The bins' gap between confidence and accuracy, weighted by their samples."""
    total = sum(b.count for b in table)
    return float(sum(b.count * abs(b.confidence - b.accuracy) for b in table) / total) if total else 0.0


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """The gap between confidence and accuracy, averaged over the bins weighted by their
    samples (0: calibrated; 0.1: ten points off on the average face)."""
    return calibration_error(reliability(probs, labels, bins))


def calibration_summary(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The mean top probability, the expected calibration error and the negative
    log-likelihood: what ``fer-train evaluate`` reports of the bars."""
    probs, labels = _scored(probs, labels)
    return {"mean_confidence": float(probs.max(axis=1).mean()) if len(labels) else 0.0,
            "ece": expected_calibration_error(probs, labels), "nll": negative_log_likelihood(probs, labels)}


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(label): lower is better; punishes a confident mistake most."""
    probs, labels = _scored(probs, labels)
    if not len(labels):
        return 0.0
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], _TINY)).mean())


def with_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities softened (temperature > 1) or sharpened (< 1): softmax(log p / T). The
    top class stays the top class."""
    logits = np.log(np.maximum(np.asarray(probs, dtype=np.float64), _TINY)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The temperature that minimises the negative log-likelihood of these labels (temperature
    scaling, Guo et al. 2017): fitted on data that is not reported."""
    from scipy.optimize import minimize_scalar

    probs, labels = _scored(probs, labels)
    if not len(labels):
        raise ValueError("no labelled samples to fit a temperature on")
    # searched on log T: the likelihood changes as much from 0.5 to 1 as from 1 to 2
    found = minimize_scalar(lambda log_t: negative_log_likelihood(with_temperature(probs, np.exp(log_t)), labels),
                            bounds=(np.log(low), np.log(high)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def _scored(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"probabilities {probs.shape} and labels {labels.shape} do not match")
    keep = labels >= 0
    return probs[keep], labels[keep]
