"""Which labels look wrong: pure functions of (labels, probabilities[, votes]), shaped like
cleanlab's, plus out-of-sample probabilities for data a model was trained on.

A model rates the labels it was trained on as right, so ranking training data with its own
probabilities mostly finds what it failed to fit. :func:`out_of_fold_probs` trains a light
head (logistic regression) on frozen embeddings K times, each time predicting the fold it did
not see: every sample gets a probability from a model that never saw its label (cleanlab's
recommended set-up, cheap on a CPU).

Scores are cleanlab's label-quality scores: in [0, 1], LOW means a likely label error. The
default method is the one measured best on FER-2013 against FER+'s independent relabelling
(docs/label-issues.md, ``bench/label_issues.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.data.samples import DataError

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
DEFAULT_METHOD = "self_confidence"


def _check(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or labels.shape != (len(probs),):
        raise DataError(f"label quality: labels {labels.shape} and probabilities {probs.shape} do not match")
    if len(labels) and (labels.max() >= probs.shape[1]):
        raise DataError(f"label quality: label {labels.max()} but only {probs.shape[1]} classes")
    if not np.isfinite(probs).all():
        raise DataError("label quality: probabilities contain NaN or inf")
    return labels, probs


def label_quality_scores(labels: np.ndarray, probs: np.ndarray, method: str = DEFAULT_METHOD) -> np.ndarray:
    """(N,) scores in [0, 1], low = likely label error; NaN for unlabelled samples (-1)."""
    from cleanlab.rank import get_label_quality_scores

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    labels, probs = _check(labels, probs)
    out = np.full(len(labels), np.nan)
    known = labels >= 0
    if known.any():
        out[known] = get_label_quality_scores(labels[known], _renormalised(probs[known]), method=method)
    return out


def _renormalised(probs: np.ndarray) -> np.ndarray:
    total = probs.sum(axis=1, keepdims=True)
    return np.divide(probs, total, out=np.full_like(probs, 1 / probs.shape[1]), where=total > 0)


def disagreement_scores(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The plain baseline: 0 where the model's top class differs from the label, else 1 (ties in
    ranking broken by the given label's probability)."""
    labels, probs = _check(labels, probs)
    safe = np.maximum(labels, 0)
    agree = (probs.argmax(axis=1) == safe).astype(np.float64)
    return np.where(labels >= 0, 0.5 * agree + 0.5 * probs[np.arange(len(labels)), safe], np.nan)


def ambiguity(probs: np.ndarray) -> np.ndarray:
    """Normalised entropy of each row: 0 = one class, 1 = uniform."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return -(p * np.log(p)).sum(axis=1) / np.log(p.shape[1])


def vote_entropy(votes: np.ndarray) -> np.ndarray:
    """FER+-style vote counts (N, K) -> normalised entropy of the votes (NaN where no votes):
    a human measure of how ambiguous each face is."""
    votes = np.asarray(votes, dtype=np.float64)
    total = votes.sum(axis=1, keepdims=True)
    out = np.full(len(votes), np.nan)
    has = total[:, 0] > 0
    if has.any():
        out[has] = ambiguity(votes[has] / total[has])
    return out


def out_of_fold_probs(embeddings: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0,
                      n_classes: int | None = None, max_iter: int = 300) -> np.ndarray:
    """Probabilities for every labelled sample from a logistic-regression head trained on the
    other folds (stratified K-fold on standardised embeddings). Unlabelled rows get NaN."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(labels):
        raise DataError(f"out-of-fold: embeddings {x.shape} and labels {labels.shape} do not match")
    n_classes = n_classes or int(labels.max()) + 1
    out = np.full((len(labels), n_classes), np.nan)
    known = np.flatnonzero(labels >= 0)
    y = labels[known]
    counts = np.bincount(y, minlength=n_classes)
    # A class rarer than the fold count cannot be in every training fold: fewer folds then.
    k = int(min(folds, max(2, counts[counts > 0].min())))
    if len(known) < 2 * k or (counts > 0).sum() < 2:
        raise DataError(f"out-of-fold: {len(known)} labelled samples in {(counts > 0).sum()} classes "
                        f"are too few to cross-validate")
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x[known], y):
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=0.1))
        head.fit(x[known[train]], y[train])
        p = np.zeros((len(test), n_classes))
        p[:, head.classes_] = head.predict_proba(x[known[test]])
        out[known[test]] = p
    return out


@dataclass
class LabelIssues:
    scores: np.ndarray  # (N,) low = likely label error; NaN for unlabelled
    order: np.ndarray  # indices of labelled samples, likeliest error first
    probs: np.ndarray  # the probabilities scored (out-of-fold when out_of_sample)
    is_issue: np.ndarray  # (N,) bool: cleanlab's find_label_issues
    method: str
    out_of_sample: bool


def rank(scores: np.ndarray) -> np.ndarray:
    """Indices of the scored samples, lowest score (likeliest error) first; stable."""
    scores = np.asarray(scores, dtype=np.float64)
    known = np.flatnonzero(~np.isnan(scores))
    return known[np.argsort(scores[known], kind="stable")]


def find_issues(pred, out_of_sample: bool = True, method: str = DEFAULT_METHOD, folds: int = 5,
                seed: int = 0) -> LabelIssues:
    """Rank a :class:`~trainer.evaluation.predictions.Predictions`' labels. With
    ``out_of_sample`` (needs embeddings) the scores come from out-of-fold probabilities, so
    samples the model was trained on are judged fairly."""
    from cleanlab.filter import find_label_issues

    if out_of_sample:
        if pred.embeddings is None:
            raise DataError("out-of-sample label scores need embeddings: predict with embeddings=True")
        probs = out_of_fold_probs(pred.embeddings, pred.labels, folds=folds, seed=seed,
                                  n_classes=len(pred.classes))
    else:
        probs = np.asarray(pred.probs, dtype=np.float64)
    scores = label_quality_scores(pred.labels, np.nan_to_num(probs), method)
    is_issue = np.zeros(len(pred), dtype=bool)
    known = np.flatnonzero(pred.labels >= 0)
    present = np.unique(pred.labels[known])
    if len(known) and len(present) > 1:
        # cleanlab wants labels 0..K-1 all present: map the present classes onto that range.
        remap = {c: i for i, c in enumerate(present)}
        y = np.array([remap[c] for c in pred.labels[known]])
        is_issue[known] = find_label_issues(y, _renormalised(np.nan_to_num(probs[known][:, present])))
    return LabelIssues(scores=scores, order=rank(scores), probs=probs, is_issue=is_issue, method=method,
                       out_of_sample=out_of_sample)
