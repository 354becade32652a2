"""Which samples are likely no face at all (a black frame, a title card, a cut-off chin):
functions of (how each crop was made, the crops, the model's embeddings), for the review's
"likely not a face first" order and the ``not_a_face`` column of the exported rankings.

Label-issue scores cannot find these: a model is as sure of a class on a black frame as on a
face (the bundled model says "angry 86%" on SFEW's black frames), and "not a face" is no class
it could predict. Three signals, surest first (measured against SFEW's lists and FER+'s "not a
face" votes: docs/review.md, ``bench/not_a_face.py``):

* **blank**: the model's crop holds one grey level (a black frame: nothing to stretch);
* **no face found**: the detector found no face, so the crop was used as it is;
* **unusual**: how far the model's embedding lies from the dataset's others (cleanlab's
  ``OutOfDistribution``: the mean cosine distance to the K nearest neighbours), which orders
  the faces that were found, and the rest within each group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.data.samples import DataError, SampleSet

# A crop whose grey levels spread less than this (sd) is blank: crops are min-max stretched, so
# anything with two grey levels in it spreads far wider; only a constant image stays here.
BLANK_SD = 2.0
# trainer.faces.prepare's methods (and the datasets' "noface") that mean no face was found.
NO_FACE_METHODS = ("asis", "noface")
NEIGHBOURS = 10  # cleanlab's default K
# Bumped when what a given (methods, crops, embeddings) scores changes: saved scores go stale.
SCORING_VERSION = 1


@dataclass(frozen=True)
class FaceDoubts:
    """Per sample: blank crop, no face found, and how unusual its embedding is (0 to 1, 1 = least
    like the others; 0 everywhere without embeddings)."""

    blank: np.ndarray  # (N,) bool
    no_face: np.ndarray  # (N,) bool
    unusual: np.ndarray  # (N,) float in [0, 1]

    @property
    def scores(self) -> np.ndarray:
        """(N,) high = likely not a face: blank crops first, then those without a face found,
        each group ordered by how unusual it is (2 x blank + no face + unusual, in [0, 4])."""
        return 2.0 * self.blank + self.no_face + self.unusual

    @property
    def missing(self) -> np.ndarray:
        """(N,) bool: no face to look at: blank, or none found (the review's "no face" filter)."""
        return self.blank | self.no_face

    @property
    def order(self) -> np.ndarray:
        """Sample indices, likeliest non-face first (ties in dataset order)."""
        return np.argsort(-self.scores, kind="stable")

    def reasons(self, i: int) -> list[str]:
        """Why sample ``i`` may not be a face, in words, surest first (empty: nothing says so)."""
        out = []
        if self.blank[i]:
            out.append("blank image")
        if self.no_face[i]:
            out.append("no face found")
        return out


def blank_crops(crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """(N,) bool: the crop is one grey level (see BLANK_SD)."""
    return np.array([float(np.asarray(c, np.float32).std()) < BLANK_SD for c in crops], dtype=bool)


def unusualness(embeddings: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(N,) in [0, 1], 1 = least like the rest: 1 minus cleanlab's out-of-distribution score
    (the mean distance to the ``k`` nearest other samples). Fewer than three samples: zeros."""
    from cleanlab.outlier import OutOfDistribution

    features = np.asarray(embeddings, np.float32)
    if features.ndim != 2:
        raise DataError(f"not-a-face scores: embeddings must be (N, D), got {features.shape}")
    n = len(features)
    if n < 3:
        return np.zeros(n)
    if not np.isfinite(features).all():
        raise DataError("not-a-face scores: the embeddings contain NaN or inf")
    ood = OutOfDistribution(params={"k": min(k, n - 1)})
    return 1.0 - np.asarray(ood.fit_score(features=features, verbose=False), np.float64)


def face_doubts(methods: np.ndarray | list[str] | None, crops: np.ndarray | list[np.ndarray],
                embeddings: np.ndarray | None = None) -> FaceDoubts:
    """The three signals for every sample. ``methods``: how each crop was made
    (``samples.meta["face_methods"]``; None when the images were used as they are: no face
    is "not found" then); ``crops``: the model's input faces; ``embeddings``: the model's
    penultimate features of them (None: no "unusual" ordering)."""
    n = len(crops)
    if methods is None:
        no_face = np.zeros(n, bool)
    else:
        methods = np.asarray(methods, dtype=str)
        if methods.shape != (n,):
            raise DataError(f"not-a-face scores: {len(methods)} face methods for {n} crops")
        no_face = np.isin(methods, NO_FACE_METHODS)
    if embeddings is None:
        unusual = np.zeros(n)
    else:
        if len(embeddings) != n:
            raise DataError(f"not-a-face scores: {len(embeddings)} embeddings for {n} crops")
        unusual = unusualness(embeddings)
    return FaceDoubts(blank_crops(crops), no_face, unusual)


def sample_doubts(samples: SampleSet, embeddings: np.ndarray | None) -> FaceDoubts:
    """:func:`face_doubts` for a loaded dataset: its crops, and how each was made unless no face
    processing ran (``mode: none`` marks every image "as is" without looking for a face)."""
    preprocessing = samples.meta.get("preprocessing") or {}
    methods = None if preprocessing.get("mode") == "none" else samples.meta.get("face_methods")
    return face_doubts(methods, samples.images, embeddings)
