"""Suggested labels that learn from the labels a person has given so far.

While new images are labelled, the model's own class is the first suggestion. Once there are a
few labels, a logistic-regression head on the model's features, fitted to them, can do better
where the person's faces or labelling differ from what the model learnt (film stills; another
label convention), and worse where they do not. So three rules compete on the person's own
labels by K-fold cross-validation, and the best is used for the rest; ties go to the model:

* ``model``: the model's probabilities as they are;
* ``mix``: the model's probabilities times the head's, renormalised (the model as a prior);
* ``head``: the head's alone.

Functions of (probabilities, embeddings, labels), like :mod:`trainer.evaluation.label_quality`;
measured in ``bench/label_assist.py --learn``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainer.data.samples import DataError

RULES = ("model", "mix", "head")  # in the order ties are settled
MIN_LABELS = 20  # fewer labels than this cross-validate too noisily: the model's own classes stay
MAX_LABELS = 4000  # more are drawn down to this (a fixed draw): ~5 s on 2 cores, not minutes on FER-2013's 35,887
_FLOOR = 1e-6  # a class the head never saw keeps a sliver of probability in the mix


@dataclass
class Suggestions:
    probs: np.ndarray  # (N, C): what the chosen rule says for every sample
    rule: str  # one of RULES
    labelled: int  # how many labels there were
    cv_accuracy: dict[str, float] = field(default_factory=dict)  # each rule, on the labels (held out in turn)
    used: int | None = None  # how many it learnt from, when not all (at most MAX_LABELS)

    @property
    def classes(self) -> np.ndarray:
        """(N,) the suggested class index of every sample."""
        return self.probs.argmax(axis=1)

    def describe(self) -> str:
        """One line for the user: which rule, and what each scored on their own labels."""
        if not self.cv_accuracy:
            return f"the model's own classes ({self.labelled} labels are too few to learn from; {MIN_LABELS} needed)"
        scores = ", ".join(f"{_RULE_WORDS[r]} {100 * a:.0f}%" for r, a in self.cv_accuracy.items())
        which = f"{self.used:,} of your {self.labelled:,}" if self.used is not None else f"your {self.labelled:,}"
        return f"{_RULE_WORDS[self.rule]}, from {which} labels (right on them, each held out in turn: {scores})"


_RULE_WORDS = {"model": "the model alone", "mix": "the model with a head learnt from your labels",
               "head": "a head learnt from your labels"}


def _head_probs(train_x: np.ndarray, train_y: np.ndarray, x: np.ndarray, n_classes: int) -> np.ndarray:
    """A logistic-regression head on L2-normalised embeddings, probabilities over all
    ``n_classes`` (a class it never saw keeps the floor)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # lbfgs on a busy 2-core machine: oversubscribed threads crawl
        head = LogisticRegression(C=1.0, max_iter=1000).fit(train_x, train_y)
        out = np.full((len(x), n_classes), _FLOOR)
        out[:, head.classes_] = np.maximum(head.predict_proba(x), _FLOOR)
    return out


def _rule_probs(rule: str, model: np.ndarray, head: np.ndarray | None) -> np.ndarray:
    if rule == "model":
        return model
    if rule == "head":
        return head
    mixed = np.maximum(model, _FLOOR) * head
    return mixed / mixed.sum(axis=1, keepdims=True)


def suggest(probs: np.ndarray, embeddings: np.ndarray, labels: np.ndarray, folds: int = 5,
            seed: int = 0) -> Suggestions:
    """Suggestions for every sample from the model's ``probs`` (N, C), its ``embeddings``
    (N, D) and the labels given so far (N,; -1 where none): the rule of RULES that is right most
    often on the labels when each fold of them is held out in turn."""
    from sklearn.model_selection import KFold

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(probs) != len(labels) or len(embeddings) != len(labels):
        raise DataError(f"suggestions: {len(probs)} probabilities, {len(embeddings)} embeddings, {len(labels)} labels")
    known = np.flatnonzero(labels >= 0)
    labelled = len(known)
    n_classes = probs.shape[1]
    if labelled < MIN_LABELS or len(np.unique(labels[known])) < 2:
        return Suggestions(probs, "model", labelled)
    if labelled > MAX_LABELS:
        known = np.sort(np.random.default_rng(seed).choice(known, MAX_LABELS, replace=False))
    x = np.asarray(embeddings, dtype=np.float32)  # FER-2013's 35,887 x 1280 stay at 180 MB
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    hits = dict.fromkeys(RULES, 0)
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(known):
        tr, te = known[train], known[test]
        if len(np.unique(labels[tr])) < 2:
            continue
        head = _head_probs(x[tr], labels[tr], x[te], n_classes)
        for rule in RULES:
            hits[rule] += int((_rule_probs(rule, probs[te], head).argmax(axis=1) == labels[te]).sum())
    rule = max(RULES, key=lambda r: (hits[r], -RULES.index(r)))
    chosen = probs if rule == "model" else _rule_probs(rule, probs, _head_probs(x[known], labels[known], x, n_classes))
    return Suggestions(chosen, rule, labelled, {r: hits[r] / len(known) for r in RULES},
                       used=len(known) if len(known) < labelled else None)
