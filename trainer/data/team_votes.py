"""Several annotators' relabel journals of one dataset as votes, the way FER+'s ten taggers
vote on each FER-2013 face.

Each annotator's own judgement of a face (imports of someone else's left out) is one vote; the
dataset's label (its vote distribution where it has one, FER+'s) is one more. A face's label
becomes the class with most votes (a tie keeps the dataset's label where it is among the tied),
its ``soft_labels`` the votes' distribution, for training on it (``soft_labels = true``:
FER+ found that better than the majority). A face more than half of whose votes say "not a
face" is left out. :func:`apply_relabels` is the one-annotator case: there the user's word
replaces the label outright.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainer.data.relabel import EXCLUDED, RelabelJournal, LatestStates, sample_datasets
from trainer.data.samples import DataError, SampleSet

log = logging.getLogger(__name__)


def vote_counts(samples: SampleSet, journals: Sequence[str | Path], dataset: str | None = None,
                given_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, C) class votes, (N,) "not a face" votes and (N,) how many annotators judged each
    face. The dataset's own label counts ``given_weight`` votes (spread as its distribution
    where the set has one); a judgement naming a class the set lacks counts nowhere."""
    if not journals:
        raise ValueError("vote_counts: no journal")
    votes = (samples.soft_labels if samples.soft_labels is not None else samples.one_hot()).astype(np.float64)
    votes = votes * given_weight
    not_a_face = np.zeros(len(samples))
    judges = np.zeros(len(samples), np.int64)
    keys = [dataset] * len(samples) if dataset is not None else sample_datasets(samples)
    index = {c: k for k, c in enumerate(samples.classes)}
    for path in journals:
        if not Path(path).is_file():
            raise DataError(f"team journal not found: {path}")
        own = [r for r in RelabelJournal(path).records() if r.get("op") != "import"]  # their own word only
        latest = LatestStates(own)
        for i, (sample_id, key) in enumerate(zip(samples.ids, keys)):
            state = latest.state(key, sample_id)
            if state == EXCLUDED:
                not_a_face[i] += 1
            elif state in index:
                votes[i, index[state]] += 1
            else:
                continue
            judges[i] += 1
    return votes, not_a_face, judges


def apply_team_votes(samples: SampleSet, journals: Sequence[str | Path], dataset: str | None = None,
                     given_weight: float = 1.0) -> SampleSet:
    """A copy of ``samples`` labelled by the team's votes (module docstring); faces no one
    judged keep their label and distribution."""
    votes, not_a_face, judges = vote_counts(samples, journals, dataset, given_weight)
    total = votes.sum(axis=1)
    keep = ~(not_a_face > (total + not_a_face) / 2)
    top = votes.max(axis=1, keepdims=True)
    tied = (votes == top) & (top > 0)
    given = samples.labels
    keeps_given = (given >= 0) & tied[np.arange(len(samples)), np.maximum(given, 0)]
    labels = np.where(total > 0, np.where(keeps_given, given, votes.argmax(axis=1)), given)
    soft = np.divide(votes, total[:, None], out=np.zeros_like(votes), where=total[:, None] > 0)
    judged = judges > 0
    soft = np.where(judged[:, None], soft, samples.soft_labels if samples.soft_labels is not None else soft)
    changed = int(((labels != given) & judged & keep).sum())
    meta = dict(samples.meta, team_journals=[str(p) for p in journals], team_judged=int(judged.sum()),
                relabelled=changed, excluded=int((~keep).sum()))
    log.info("team votes from %d journal(s): %d faces judged, %d relabelled, %d left out as not a face",
             len(journals), int(judged.sum()), changed, int((~keep).sum()))
    out = SampleSet(ids=list(samples.ids), images=samples.images, labels=labels.astype(samples.labels.dtype),
                    classes=samples.classes, soft_labels=soft.astype(np.float32), name=samples.name, meta=meta)
    return out if keep.all() else out.subset(np.flatnonzero(keep))
