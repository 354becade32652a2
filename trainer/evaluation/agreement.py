"""How far two annotators' labels agree, and on which faces they differ: a function of their
judgements (sample id -> class name or not a face), as two relabel journals hold them.

A judgement is what a person said of a face: a class set (a correction, or the given label
confirmed) or "not a face". A face one of them never touched has no judgement from that person,
so the agreement is measured on the faces both judged, the way two raters' agreement is usually
reported: the share they label alike and Cohen's kappa (that share corrected for the agreement
their label frequencies would give by chance; scikit-learn's ``cohen_kappa_score``).

A team of three or more (:func:`team_agreement`): Krippendorff's alpha, the one coefficient
made for several raters who each judged some of the faces, every pair's kappa, and each face's
majority, the team's consensus, where there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trainer.data.relabel import EXCLUDED


def judgements(latest: Mapping[str, dict]) -> dict[str, str]:
    """A journal's judgements from its latest record per id (``RelabelJournal.latest``): the
    state each face was left in, withdrawn ones (``to`` None: untouched again) left out."""
    return {sample_id: record["to"] for sample_id, record in latest.items() if record.get("to") is not None}


@dataclass(frozen=True)
class Agreement:
    """Two annotators, A and B, on the faces both judged."""

    categories: tuple[str, ...]  # the classes, then EXCLUDED where either said "not a face"
    confusion: np.ndarray  # (C, C) counts, rows: A's judgement, columns: B's
    kappa: float | None  # Cohen's kappa; None where it is undefined (nothing both judged, or one category)
    disagreeing: tuple[str, ...]  # ids both judged differently, in A's order
    agreeing: tuple[str, ...]  # ids both judged alike
    only_a: tuple[str, ...]  # ids A judged and B did not
    only_b: tuple[str, ...]

    @property
    def both(self) -> int:
        return int(self.confusion.sum())

    @property
    def agree(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def rate(self) -> float | None:
        return self.agree / self.both if self.both else None

    def most_confused(self, n: int = 3) -> list[tuple[str, str, int]]:
        """The pairs they differ on most often: (A's category, B's, count), largest first."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(-off, axis=None, kind="stable")[:n]
        pairs = [(self.categories[k // len(self.categories)], self.categories[k % len(self.categories)],
                  int(off.flat[k])) for k in order]
        return [p for p in pairs if p[2] > 0]


def agreement(a: Mapping[str, str], b: Mapping[str, str], classes: Sequence[str]) -> Agreement:
    """Compare two annotators' judgements (id -> class name or EXCLUDED). Judgements naming
    no class of ``classes`` (another label set) are left out, as if not given."""
    categories = tuple(classes) + (EXCLUDED,)
    a, b = _indexed(a, categories), _indexed(b, categories)
    both = np.array([i for i in a if i in b], dtype=object)
    ka = np.array([a[i] for i in both], np.int64)
    kb = np.array([b[i] for i in both], np.int64)
    c = len(categories)
    confusion = np.bincount(ka * c + kb, minlength=c * c).reshape(c, c)
    if not confusion[-1].any() and not confusion[:, -1].any():  # neither said "not a face": no such row
        categories, confusion = categories[:-1], confusion[:-1, :-1]
    return Agreement(categories, confusion, _kappa(ka, kb, c), disagreeing=tuple(both[ka != kb]),
                     agreeing=tuple(both[ka == kb]), only_a=tuple(i for i in a if i not in b),
                     only_b=tuple(i for i in b if i not in a))


def _indexed(judged: Mapping[str, str], categories: tuple[str, ...]) -> dict[str, int]:
    index = {name: k for k, name in enumerate(categories)}
    return {i: index[s] for i, s in judged.items() if s in index}


def _kappa(ka: np.ndarray, kb: np.ndarray, categories: int) -> float | None:
    """Cohen's kappa; None where it is undefined (nothing judged by both, or one category in use)."""
    from sklearn.metrics import cohen_kappa_score

    if len(np.union1d(ka, kb)) < 2:
        return None
    return float(cohen_kappa_score(ka, kb, labels=list(range(categories))))


def coefficient(value: float | None) -> str:
    """A kappa or alpha to two places; -0.004 reads 0.00, not -0.00; None (undefined) reads
    "undefined"."""
    return "undefined" if value is None else f"{round(value, 2) + 0.0:.2f}"


def describe(result: Agreement, a: str = "you", b: str = "they") -> str:
    """``you and ann both judged 120 faces and agree on 96 (80.0%, Cohen's kappa 0.74); most
    often you said fear where ann said surprise (7)``."""
    if not result.both:
        return f"{a} and {b} have judged no face in common yet"
    text = (f"{a} and {b} both judged {result.both:,} face{'s' * (result.both != 1)} and agree on "
            f"{result.agree:,} ({100 * result.rate:.1f}%"
            + (f", Cohen's kappa {coefficient(result.kappa)}" if result.kappa is not None else "") + ")")
    pairs = result.most_confused(1)
    if pairs:
        x, y, n = pairs[0]
        name = {EXCLUDED: "not a face"}
        text += f"; most often {a} said {name.get(x, x)} where {b} said {name.get(y, y)} ({n})"
    return text


@dataclass(frozen=True)
class TeamAgreement:
    """Several annotators on the faces at least one judged."""

    annotators: tuple[str, ...]
    categories: tuple[str, ...]  # the classes, then EXCLUDED
    ids: tuple[str, ...]  # every face judged, in the first annotator's order, then the next one's new ones
    votes: np.ndarray  # (faces, categories) how many annotators judged each face so
    alpha: float | None  # Krippendorff's alpha (nominal) over the faces two or more judged; None: undefined
    pairs: dict[tuple[str, str], Agreement]  # every pair of annotators, in the given order
    own: dict[str, np.ndarray]  # annotator -> (faces,) the category index they chose, -1 where none

    @property
    def judges(self) -> np.ndarray:
        """(faces,) how many annotators judged each face."""
        return self.votes.sum(axis=1)

    def consensus(self, min_judges: int = 2) -> dict[str, str]:
        """id -> the category more than half of its judges chose, for faces ``min_judges`` or
        more judged; ties and split votes have none (a person decides those)."""
        top = self.votes.argmax(axis=1)
        most = self.votes.max(axis=1)
        chosen = (self.judges >= min_judges) & (2 * most > self.judges)
        return {self.ids[k]: self.categories[top[k]] for k in np.flatnonzero(chosen)}

    def undecided(self, min_judges: int = 2) -> tuple[str, ...]:
        """Faces ``min_judges`` or more judged with no majority among them."""
        decided = self.consensus(min_judges)
        return tuple(i for i, n in zip(self.ids, self.judges) if n >= min_judges and i not in decided)


    def with_the_others(self) -> dict[str, tuple[int, int]]:
        """Each annotator against the majority of the others on the faces where the others
        have one: (alike, compared). An annotator far below the rest judges differently
        (careless, or seeing what the others miss): worth a look at their faces."""
        out = {}
        for name in self.annotators:
            own = self.own[name]
            others = self.votes.copy()
            others[own >= 0, own[own >= 0]] -= 1
            judges = others.sum(axis=1)
            top = others.argmax(axis=1)
            decided = (own >= 0) & (judges > 0) & (2 * others.max(axis=1) > judges)
            out[name] = (int((top[decided] == own[decided]).sum()), int(decided.sum()))
        return out


def team_agreement(judged: Mapping[str, Mapping[str, str]], classes: Sequence[str]) -> TeamAgreement:
    """Several annotators' judgements (annotator -> id -> class name or EXCLUDED), as
    :func:`agreement` takes two: judgements naming no class of ``classes`` count nowhere."""
    if len(judged) < 2:
        raise ValueError("team_agreement: two or more annotators")
    categories = tuple(classes) + (EXCLUDED,)
    indexed = {name: _indexed(j, categories) for name, j in judged.items()}
    ids = tuple(dict.fromkeys(i for j in indexed.values() for i in j))
    row = {i: k for k, i in enumerate(ids)}
    own = {}
    for name, j in indexed.items():
        own[name] = np.full(len(ids), -1, np.int64)
        own[name][[row[i] for i in j]] = list(j.values())
    votes = np.zeros((len(ids), len(categories)), np.int64)
    for chosen in own.values():
        np.add.at(votes, (np.flatnonzero(chosen >= 0), chosen[chosen >= 0]), 1)
    names = list(judged)
    pairs = {(a, b): agreement(judged[a], judged[b], classes) for n, a in enumerate(names) for b in names[n + 1:]}
    return TeamAgreement(tuple(names), categories, ids, votes, krippendorff_alpha(votes), pairs, own)


def krippendorff_alpha(votes: np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal data from (units, categories) counts of the values each
    unit got; units with fewer than two values are not pairable and count nowhere. 1 is
    perfect agreement, 0 what chance gives. None where undefined (no pairable unit, or every
    value the same). Krippendorff (2011), *Computing Krippendorff's alpha-reliability*: the
    coincidence matrix o[c, k] = sum over units of v_c (v_k - [c = k]) / (m - 1)."""
    votes = np.asarray(votes, np.float64)
    m = votes.sum(axis=1)
    votes, m = votes[m >= 2], m[m >= 2]
    if not len(votes):
        return None
    weighted = votes / (m - 1)[:, None]
    coincidence = weighted.T @ votes - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    expected = n * n - (n_c**2).sum()
    if expected <= 0:
        return None
    return float(1 - (n - 1) * (n - np.trace(coincidence)) / expected)
