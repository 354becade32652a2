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

Out-of-fold is not always better: a model that did not memorise its training labels (the
bundled one fits FER-2013 Training to 76%, as well as the K-fold head does) ranks them better
with its own probabilities (measured: 98 / 91 / 85% precision at 100 / 500 / 2,000 against
93 / 86 / 81% out of fold). ``out_of_sample="auto"`` therefore measures the gap between the
model's accuracy on the given labels and the out-of-fold head's, and uses the model's own
probabilities only while the two agree: a model far above the head learnt the labels by heart,
one far below it is worse at this data than a linear head on its own features.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from trainer.data.samples import DataError
from trainer.evaluation.metrics import renormalised

log = logging.getLogger(__name__)

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
DEFAULT_METHOD = "self_confidence"
# A model whose accuracy on the given labels is further than this from a K-fold head's on its
# own embeddings either memorised them (above) or fits them worse than the head (below).
MEMORISED_GAP = 0.05
# Bumped when the scores a given (labels, probabilities, embeddings) get change: saved scores
# of an older rule must not be shown as this one's.
SCORING_VERSION = 5  # 3: re-scored over extra views where computed; 4: the memorisation gap measured on the
# samples the model was trained on alone (score_labels); 5: labels of a class the model lacks are not scored


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
        out[known] = get_label_quality_scores(labels[known], renormalised(probs[known]), method=method)
    return out


def disagreement_scores(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The plain baseline: 0 where the model's top class differs from the label, else 1; NaN
    for unlabelled. No confidence breaks the ties: it says which, not how likely."""
    labels, probs = _check(labels, probs)
    agree = (probs.argmax(axis=1) == np.maximum(labels, 0)).astype(np.float64)
    return np.where(labels >= 0, agree, np.nan)


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
                      n_classes: int | None = None, max_iter: int = 1000) -> np.ndarray:
    """Probabilities for every labelled sample from a logistic-regression head trained on the
    other folds (stratified K-fold; embeddings standardised and reduced to 64 principal
    components, which ranked as well as all 1,280 in a tenth of the time). Unlabelled rows get NaN."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

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
    # One BLAS thread: with more, lbfgs on a busy 2-core machine ran 50x slower (oversubscribed).
    with threadpool_limits(1):
        for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x[known], y):
            head = make_pipeline(StandardScaler(), PCA(min(64, x.shape[1], len(train)), random_state=seed),
                                 LogisticRegression(max_iter=max_iter, C=1.0))
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
    memorisation_gap: float | None = None  # model accuracy - out-of-fold accuracy, when measured


def rank(scores: np.ndarray) -> np.ndarray:
    """Indices of the scored samples, lowest score (likeliest error) first; stable."""
    scores = np.asarray(scores, dtype=np.float64)
    known = np.flatnonzero(~np.isnan(scores))
    return known[np.argsort(scores[known], kind="stable")]


def memorisation_gap(labels: np.ndarray, probs: np.ndarray, oof_probs: np.ndarray) -> float:
    """The model's accuracy on the given labels minus the out-of-fold head's."""
    known = np.flatnonzero(np.asarray(labels) >= 0)
    if not len(known):
        return 0.0
    y = np.asarray(labels)[known]
    own = float(np.mean(np.asarray(probs)[known].argmax(axis=1) == y))
    held_out = float(np.mean(np.nan_to_num(np.asarray(oof_probs)[known]).argmax(axis=1) == y))
    return own - held_out


def with_views(pred) -> np.ndarray:
    """The model's own probabilities, with those of the samples looked at again from extra
    views (trainer.evaluation.views: the likeliest errors) in their place: the better estimate."""
    probs = np.asarray(pred.probs, dtype=np.float64)
    if getattr(pred, "view_probs", None) is None:
        return probs
    again = np.isfinite(pred.view_probs).all(axis=1)
    return np.where(again[:, None], np.asarray(pred.view_probs, dtype=np.float64), probs)


def find_issues(pred, out_of_sample: bool | str = "auto", method: str = DEFAULT_METHOD, folds: int = 5,
                seed: int = 0) -> LabelIssues:
    """Rank a :class:`~trainer.evaluation.predictions.Predictions`' labels. ``out_of_sample``:
    True scores out-of-fold probabilities (needs embeddings), False the model's own, "auto"
    the out-of-fold ones unless the model's accuracy is within :data:`MEMORISED_GAP` of theirs.
    A sample labelled with a class the model does not have gets no score (NaN) and no flag."""
    from cleanlab.filter import find_label_issues

    if out_of_sample not in (True, False, "auto"):
        raise ValueError(f"out_of_sample must be True, False or 'auto', got {out_of_sample!r}")
    probs = np.asarray(pred.probs, dtype=np.float64)
    labels = pred.scorable_labels  # a label of a class the model lacks is left unscored
    gap = None
    use_oof = False
    if out_of_sample is not False:
        if pred.embeddings is None:
            raise DataError("out-of-sample label scores need embeddings: predict with embeddings=True")
        oof = out_of_fold_probs(pred.embeddings, labels, folds=folds, seed=seed, n_classes=len(pred.classes))
        gap = memorisation_gap(labels, probs, oof)
        use_oof = out_of_sample is True or abs(gap) > MEMORISED_GAP
        if use_oof:
            probs = oof
    if not use_oof:
        probs = with_views(pred)
    scores = label_quality_scores(labels, np.nan_to_num(probs), method)
    is_issue = np.zeros(len(pred), dtype=bool)
    known = np.flatnonzero(labels >= 0)
    present = np.unique(labels[known])
    if len(known) and len(present) > 1:
        # cleanlab wants labels 0..K-1 all present: map the present classes onto that range.
        remap = {c: i for i, c in enumerate(present)}
        y = np.array([remap[c] for c in labels[known]])
        is_issue[known] = find_label_issues(y, renormalised(np.nan_to_num(probs[known][:, present])))
    return LabelIssues(scores=scores, order=rank(scores), probs=probs, is_issue=is_issue, method=method,
                       out_of_sample=use_oof, memorisation_gap=gap)


@dataclass
class IssueScores:
    """Label-issue scores, each sample's from the probabilities that suit it (:func:`score_labels`)."""

    scores: np.ndarray  # (N,) low = likely label error; NaN where unscored
    flagged: np.ndarray  # (N,) bool: cleanlab's find_label_issues
    out_of_sample: np.ndarray  # (N,) bool: scored out of fold (the model memorised its label)
    method: str
    memorisation_gap: float | None = None  # over the samples the model was trained on, when measured
    trained_on: np.ndarray | None = None  # (N,) bool: the model's card says it was trained on the sample

    @property
    def order(self) -> np.ndarray:
        return rank(self.scores)

    def which_probabilities(self) -> str:
        """Which probabilities the scores came from, in words (``fer-train issues`` and the review
        window say it the same way)."""
        n = len(self.scores)
        n_held_out = int(self.out_of_sample.sum())
        n_trained = None if self.trained_on is None else int(self.trained_on.sum())
        if n_held_out == n:
            why = ("" if n_trained != n else " (the model was trained on these samples, so its own "
                   "probabilities would call its training labels right)")
            return f"out-of-fold probabilities of a light head on the model's features{why}"
        if n_held_out == 0 and n_trained is None:
            return "the model's own probabilities"
        if n_held_out == 0 and n_trained == 0:
            return "the model's own probabilities (its card says it never trained on these samples)"
        if n_held_out == 0:
            return (f"the model's own probabilities (it was trained on {n_trained:,} of these samples but did "
                    "not learn their labels by heart: it fits them about as well as a light head on its features)")
        return (f"out-of-fold probabilities for the {n_held_out:,} samples of splits the model trained on, "
                "its own probabilities for the rest")

    @classmethod
    def of(cls, found: LabelIssues) -> "IssueScores":
        return cls(found.scores, found.is_issue, np.full(len(found.scores), found.out_of_sample), found.method,
                   found.memorisation_gap)


def score_labels(pred, trained_on: np.ndarray, method: str = DEFAULT_METHOD, folds: int = 5,
                 seed: int = 0) -> IssueScores:
    """Rank labels knowing which samples the model was trained on (``trained_on``, (N,) bool:
    :func:`trainer.evaluation.trained_on.trained_on`). A sample it never saw is scored with its
    own probabilities: they are out of sample already. The samples it was trained on follow
    the ``auto`` rule of :func:`find_issues`, its gap measured on them alone: out of fold (a
    K-fold head on the embeddings of all samples) where the model's accuracy on their labels is
    more than :data:`MEMORISED_GAP` from the head's. Without embeddings, or with too few
    samples for the head, the model's own probabilities (logged)."""
    trained_on = np.asarray(trained_on, dtype=bool)
    own = find_issues(pred, out_of_sample=False, method=method)
    if not trained_on.any() or pred.embeddings is None:
        return replace(IssueScores.of(own), trained_on=trained_on)
    try:
        held_out = find_issues(pred, out_of_sample=True, method=method, folds=folds, seed=seed)
    except DataError as exc:  # too few samples to cross-validate
        log.warning("label scores: %s; using the model's own probabilities", exc)
        return replace(IssueScores.of(own), trained_on=trained_on)
    gap = memorisation_gap(pred.scorable_labels[trained_on], np.asarray(pred.probs)[trained_on],
                           held_out.probs[trained_on])
    use_held_out = trained_on & (abs(gap) > MEMORISED_GAP)
    return IssueScores(np.where(use_held_out, held_out.scores, own.scores),
                       np.where(use_held_out, held_out.is_issue, own.is_issue), use_held_out, method, gap, trained_on)
