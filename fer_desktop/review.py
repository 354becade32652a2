"""The review session, Qt-free: a labelled dataset, a model's predictions on it, label-issue
scores, and the user's corrections in a relabel journal.

The window shows it; everything it does to the data goes through here: filters and sorts
(numpy over all samples, fast enough for FER-2013's 35,887 on every key press), and every
relabel, confirmation, withdrawal and exclusion is written to the journal (fsync'ed) before the call
returns, with the state it replaces, so undo and redo are appends too. Loading and exports
are in :mod:`fer_desktop.review_io`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from trainer.classes import UNLABELLED
from trainer.data.relabel import EXCLUDED, RelabelJournal, login_name
from trainer.data.samples import DataError, SampleSet
from trainer.evaluation.duplicates import (UNIQUE, across_splits, copies_of, copy_groups, disagreeing,
                                           group_members, likeness, near_copy_groups)

if TYPE_CHECKING:
    from trainer.data.every_face import FaceSource
    from trainer.evaluation.agreement import Agreement, TeamAgreement
    from trainer.evaluation.label_quality import IssueScores
    from trainer.evaluation.suggest import Suggestions
    from trainer.evaluation.not_a_face import FaceDoubts
    from trainer.evaluation.predictions import Predictions

SORTS = ("score", "not_a_face", "confidence", "ambiguity", "id")
SORT_TITLES = {"score": "likely label error first", "not_a_face": "likely not a face first",
               "confidence": "least confident first", "ambiguity": "most ambiguous first", "id": "dataset order"}
NONE = -1  # no corrected class / no prediction
# Filter.copies: a copy (exact or near) anywhere, a copy whose current label differs, a copy in another split.
COPIES = ("any", "disagree", "split")
# Filter.annotators, once another annotator's journal is compared: faces you both judged, differently or
# alike; faces only they judged; with a team compared, faces two or more of them judged with no majority.
ANNOTATORS = ("disagree", "agree", "theirs", "split")


@dataclass(frozen=True)
class DatasetRequest:
    """What to open: a dataset path (FER-2013 csv, FER+ csv, class folders), the splits
    ("+"-joined; None = all), the model (None = the bundled one), the journal (None = the
    dataset's default journal in the user's data dir), what its images are (auto | photo |
    crop; None = what the dataset declares: trainer.data.input_kinds), and whether every face
    of its photos and videos is a sample (trainer.data.every_face) or an image its largest face."""

    path: str
    split: str | None = None
    model: str | None = None
    journal: str | None = None
    input: str | None = None
    every_face: bool = False
    every_s: float | None = None  # every face of a video: one frame every so many seconds (None: one a second)
    compare: tuple[str, ...] = ()  # other annotators' journals, compared with this one's once open


@dataclass(frozen=True)
class Filter:
    """Which samples to show; None means "any". ``label`` is the current label (the
    correction where there is one); a confusion-matrix cell is ``label`` + ``predicted``."""

    label: int | None = None  # NONE: not labelled yet (neither by the dataset nor by a correction)
    predicted: int | None = None
    correct: bool | None = None
    relabelled: bool | None = None  # True: corrected (to another class) or excluded; False: not so
    checked: bool | None = None  # True: the user set a state (relabelled, confirmed, excluded); False: untouched
    split: str | None = None
    flagged: bool | None = None  # cleanlab's find_label_issues verdict
    face: bool | None = None  # True: a face was found; False: none (blank, or the crop used as it is)
    copies: str | None = None  # one of COPIES: samples with a copy (any, labelled otherwise, in another split)
    annotators: str | None = None  # one of ANNOTATORS: against the compared journal (ReviewSession.compare_journal)
    ids: frozenset[int] | None = None  # an explicit set of sample indices (show_ids)
    text: str = ""  # ids containing this, any case ("hangover" finds one SFEW film's faces)
    title: str = ""  # what an explicit set is, for the window

    def with_cell(self, label: int | None, predicted: int | None) -> "Filter":
        return replace(self, label=label, predicted=predicted, correct=None, ids=None, title="")


Listener = Callable[[list[int], list[dict]], None]  # (sample indices, their journal records)


@dataclass(frozen=True)
class OtherAnnotator:
    """Another annotator's journal, compared with this one (not taken into it)."""

    name: str  # their login name as their records carry it, else the file's name
    path: str
    latest: dict[str, dict]  # id -> their own latest record (imports left out)
    judgements: dict[str, str]  # id -> class name or EXCLUDED


@dataclass(frozen=True)
class Compared:
    """The journals compared with this one: one annotator's, or a team's, whose judgement of a
    face is what more than half of those who judged it said."""

    members: tuple[OtherAnnotator, ...]
    judgements: dict[str, str]  # id -> the one annotator's judgement, or the team's majority
    split: frozenset[str] = frozenset()  # ids two or more members judged with no majority

    @property
    def name(self) -> str:
        """``bob``; a team: ``the team``."""
        return self.members[0].name if len(self.members) == 1 else "the team"

    @property
    def team(self) -> bool:
        return len(self.members) > 1

    def names(self) -> str:
        """``bob``; ``bob, cy and dee``."""
        return and_list([m.name for m in self.members])


def and_list(names: Sequence[str]) -> str:
    """``bob``; ``bob and cy``; ``bob, cy and dee``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class ReviewSession:
    """One dataset under review. ``samples.labels`` are the dataset's own ("given") labels;
    the journal's state for this dataset overrides them ("corrected") or leaves a sample out
    ("excluded")."""

    def __init__(self, samples: SampleSet, journal_path: str | Path, *, dataset: str | None = None,
                 predictions: Predictions | None = None, issues: IssueScores | None = None,
                 doubts: FaceDoubts | None = None, copy_group: np.ndarray | None = None,
                 paths: list[str | None] | None = None, votes: np.ndarray | None = None,
                 vote_names: tuple[str, ...] = (), source: str = "", kind: str = "folder",
                 model_name: str = "", model_path: str = "", splits: np.ndarray | None = None,
                 origins: list[FaceSource | None] | None = None, opening_note: str = "") -> None:
        n = len(samples)
        self.samples = samples
        self.ids = list(samples.ids)
        self.index = {sample_id: i for i, sample_id in enumerate(self.ids)}
        self._lower_ids = np.char.lower(np.asarray(self.ids, dtype=str))  # the text filter's haystack
        self.classes = tuple(samples.classes)
        self.given = np.asarray(samples.labels, dtype=np.int64)
        self.name = samples.name
        self.source = source  # the dataset path as opened
        self.kind = kind  # folder | fer2013 | ferplus
        self.dataset = dataset or samples.meta.get("dataset") or Path(source).name
        # Each sample's split ("" for data without splits).
        splits = splits if splits is not None else samples.meta.get("split_per_sample")
        self.splits = np.asarray(splits, dtype=str) if splits is not None else np.full(n, "", dtype=str)
        self.paths = paths if paths is not None else [None] * n
        # Where each face came from when a photo or video gave several (trainer.data.every_face).
        self.origins = origins if origins is not None else [None] * n
        self.opening_note = opening_note  # what opening found that the user should hear of, once
        self.votes = votes  # (N, K) raw votes (FER+), NaN-free; None without
        self.vote_names = vote_names
        self.model_name = model_name
        self.model_path = model_path
        self.predictions = predictions
        self.issues = issues
        if predictions is not None:
            if predictions.ids != self.ids:
                raise DataError(f"{self.name}: the predictions are for other samples")
            self.probs = np.asarray(predictions.probs, dtype=np.float32)
            self.predicted = predictions.predicted.astype(np.int64)
            self.confidence = predictions.confidence.astype(np.float32)
            from trainer.evaluation.label_quality import ambiguity

            self.ambiguity = ambiguity(self.probs).astype(np.float32)
        else:
            self.probs = np.zeros((n, len(self.classes)), np.float32)
            self.predicted = np.full(n, NONE, np.int64)
            self.confidence = np.full(n, np.nan, np.float32)
            self.ambiguity = np.full(n, np.nan, np.float32)
        # The data's classes the model cannot predict (FER+'s contempt for a 7-class model).
        self.model_lacks = predictions.model_lacks if predictions is not None else np.zeros(len(self.classes), bool)
        # What Enter labels a face as: the model's class, until suggestions learnt from the
        # labels given so far replace it (learn_suggestions).
        self.suggestions: Suggestions | None = None
        self.suggested = self.predicted.copy()
        self.scores = np.asarray(issues.scores, np.float64) if issues is not None else np.full(n, np.nan)
        self.flagged = np.asarray(issues.flagged, bool) if issues is not None else np.zeros(n, bool)
        self.out_of_sample = np.asarray(issues.out_of_sample, bool) if issues is not None else np.zeros(n, bool)
        # Likely not a face (trainer.evaluation.not_a_face): high first; NaN when not scored.
        if doubts is not None and len(doubts.scores) != n:
            raise DataError(f"{self.name}: not-a-face scores for {len(doubts.scores)} samples, not {n}")
        self.doubts = doubts
        self.not_a_face = np.asarray(doubts.scores, np.float64) if doubts is not None else np.full(n, np.nan)
        self.face_missing = doubts.missing if doubts is not None else np.zeros(n, bool)
        # Copies, exact or near (trainer.evaluation.duplicates; UNIQUE: none): open_session passes
        # them from its cache, since near copies take minutes to find in all of FER-2013.
        self.exact_group = copy_groups(samples.images)  # the same pixels: a subset of copy_group's links
        self.copy_group = (near_copy_groups(samples.images, exact=self.exact_group) if copy_group is None
                           else np.asarray(copy_group))
        if len(self.copy_group) != n:
            raise DataError(f"{self.name}: copy groups for {len(self.copy_group)} samples, not {n}")
        self._copy_members = group_members(self.copy_group)
        self.journal = RelabelJournal(journal_path, dataset=self.dataset)
        self.user = login_name()  # written into every record: who changed what
        self.last_record: dict[str, dict] = {}  # id -> its latest journal record (the detail's "last change")
        self.own_record: dict[str, dict] = {}  # the same, imports left out: what this journal's annotator judged
        self.other: Compared | None = None  # journals compared with this one (compare_journals)
        self._agreement: Agreement | None = None  # with the compared journal, until the next change
        self._team: TeamAgreement | None = None  # you and a compared team, likewise
        self.corrected = np.full(n, NONE, np.int64)  # class index of the correction
        self.excluded = np.zeros(n, bool)
        self.unusable: dict[str, str] = {}  # corrections naming a class this data does not have
        self.listeners: list[Listener] = []
        self.reload_journal()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_predictions(self) -> bool:
        return self.predictions is not None

    # ------------------------------------------------------------------ labels

    def reload_journal(self) -> None:
        """Read this dataset's state from the journal (a reopened session shows what was saved)."""
        self.corrected[:] = NONE
        self.excluded[:] = False
        self.unusable = {}
        self.last_record = self.journal.latest()
        self.own_record = self.journal.latest(imports=False)
        self._agreement = self._team = None
        for sample_id, record in self.last_record.items():
            i = self.index.get(sample_id)
            if i is not None:
                self._apply(i, record["to"])

    def _apply(self, i: int, state: str | None) -> None:
        self.corrected[i] = NONE
        self.excluded[i] = False
        self.unusable.pop(self.ids[i], None)
        if state == EXCLUDED:
            self.excluded[i] = True
        elif state is not None:
            if state in self.classes:
                self.corrected[i] = self.classes.index(state)
            else:
                self.unusable[self.ids[i]] = state

    def state_of(self, i: int) -> str | None:
        """The journal's state: a class name, EXCLUDED, or None (the given label applies)."""
        if self.excluded[i]:
            return EXCLUDED
        if self.corrected[i] != NONE:
            return self.classes[self.corrected[i]]
        return self.unusable.get(self.ids[i])

    def labels(self) -> np.ndarray:
        """The current label of every sample: the correction, else the given label; -1 where
        excluded or unlabelled."""
        out = np.where(self.corrected != NONE, self.corrected, self.given)
        return np.where(self.excluded, -1, out)

    def unlabelled(self) -> np.ndarray:
        """(N,) bool: samples with no label yet: none given, none set here, not excluded."""
        return (self.given < 0) & (self.corrected == NONE) & ~self.excluded

    def relabelled(self) -> np.ndarray:
        """(N,) bool: a class set here other than the given one (images that came without a
        label included)."""
        return (self.corrected != NONE) & (self.corrected != self.given)

    def confirmed(self) -> np.ndarray:
        """(N,) bool: the given label checked and kept (its own class key pressed)."""
        return (self.corrected != NONE) & (self.corrected == self.given)

    def checked(self) -> np.ndarray:
        """(N,) bool: a state set here (relabelled, confirmed or excluded): looked at by a person."""
        return (self.corrected != NONE) | self.excluded

    def given_name(self, i: int) -> str:
        return self.classes[self.given[i]] if self.given[i] >= 0 else UNLABELLED

    def method_of(self, i: int) -> str | None:
        """How sample ``i``'s face crop was made (trainer.faces.prepare.METHOD_TITLES' keys:
        detect, crop, asis, noface); None when the images were used as they are."""
        methods = self.samples.meta.get("face_methods")
        return None if methods is None else str(methods[i])

    def _to_index(self, sample: int | str) -> int:
        if isinstance(sample, str):
            try:
                return self.index[sample]
            except KeyError:
                raise DataError(f"{self.name}: no sample {sample!r}") from None
        return int(sample)

    def set_state(self, sample: int | str, to: str | None, op: str = "set") -> dict | None:
        """Write one change to the journal (on disk when this returns) and apply it. ``to``: a
        class name, None (withdraw: untouched again) or EXCLUDED; setting the given label
        confirms it (checked and kept: the label does not change). Returns the record, or None
        when nothing changes."""
        records = self.change([(sample, to)], op)
        return records[0] if records else None

    def set_states(self, samples: Sequence[int | str], to: str | None) -> list[dict]:
        """One change for many samples (a multi-selection): one journal write, one notice."""
        return self.change([(sample, to) for sample in samples])

    def change(self, targets: Sequence[tuple[int | str, str | None]], op: str = "set",
               user: str | None = None) -> list[dict]:
        """Write the changes ``(sample, to)`` that change something to the journal, all at once
        (on disk when this returns), apply them and tell the listeners once. Returns the records
        (``user``: whose they are, this session's user by default; "" for nobody's)."""
        todo: list[tuple[int, str | None, str | None]] = []  # (index, to, previous)
        for sample, to in targets:
            i = self._to_index(sample)
            if to is not None and to != EXCLUDED:
                if to not in self.classes:
                    raise DataError(f"{self.name} has no class {to!r}; classes: {', '.join(self.classes)}")
            previous = self.state_of(i)
            if to != previous or (op != "import" and self._imported_but_not_judged(i, to)):
                todo.append((i, to, previous))
        if not todo:
            return []
        records = self.journal.set_many([(self.ids[i], to, previous) for i, to, previous in todo], op=op,
                                        user=self.user if user is None else user or None)
        self.last_record.update((r["id"], r) for r in records)
        if op != "import":
            self.own_record.update((r["id"], r) for r in records)
            self._agreement = self._team = None
        for i, to, _ in todo:
            self._apply(i, to)
        indices = [i for i, _, _ in todo]
        for listener in list(self.listeners):
            listener(indices, records)
        return records

    def _imported_but_not_judged(self, i: int, to: str | None) -> bool:
        """The face holds ``to`` because it was imported, not because this journal's annotator
        said so: setting it again is their judgement, and is written (Compare counts it)."""
        last, own = self.last_record.get(self.ids[i]), self.own_record.get(self.ids[i])
        return (to is not None and last is not None and last.get("op") == "import"
                and (own is None or own["to"] != to))

    def label_as_suggested(self, samples: Sequence[int | str]) -> list[dict]:
        """Take the suggested class (the model's, or one learnt from the labels given so far) as
        each sample's label (one journal write); samples without a prediction stay as they are."""
        targets = []
        for sample in samples:
            i = self._to_index(sample)
            if self.suggested[i] != NONE:
                targets.append((i, self.classes[self.suggested[i]]))
        return self.change(targets)

    def learn_suggestions(self) -> Suggestions:
        """Suggestions learnt from the current labels (trainer.evaluation.suggest; seconds, so
        the window runs it in a thread); set_suggestions puts them to use."""
        from trainer.evaluation.suggest import suggest

        if self.predictions is None or self.predictions.embeddings is None:
            raise DataError(f"{self.name}: no model features to learn suggestions from")
        labels = self.labels()
        labels = np.where((labels >= 0) & self.model_lacks[np.maximum(labels, 0)], -1, labels)
        return suggest(self.probs, self.predictions.embeddings, labels)

    def set_suggestions(self, suggestions: Suggestions) -> None:
        self.suggestions = suggestions
        self.suggested = suggestions.classes.astype(np.int64)

    def import_journal(self, path: str | Path) -> tuple[list[dict], dict[str, int]]:
        """Another annotator's work on this dataset (their journal, or an export of it): each face
        whose state there differs from here takes it, unless the change here is newer; written as
        "import" records under their name. Returns (the records, for one undo step; counts:
        taken, kept (newer here), not here (ids this data lacks), unusable (classes it lacks))."""
        if not Path(path).is_file():
            raise DataError(f"{path}: no such journal")
        theirs = RelabelJournal(path, dataset=self.dataset).latest()
        if not theirs:
            raise DataError(f"{Path(path).name}: no label changes for {self.dataset} in it (a relabel journal, "
                            "JSON lines, from Export Journal or the data folder's journals/?)")
        counts = {"taken": 0, "kept": 0, "not_here": 0, "unusable": 0}
        by_user: dict[str | None, list[tuple[int, str | None]]] = {}
        for sample_id, record in theirs.items():
            i = self.index.get(sample_id)
            to = record["to"]
            if i is None:
                counts["not_here"] += 1
            elif to not in (None, EXCLUDED) and to not in self.classes:
                counts["unusable"] += 1
            elif to != self.state_of(i):
                mine = self.last_record.get(sample_id)
                if mine is not None and (mine.get("time") or 0) > (record.get("time") or 0):
                    counts["kept"] += 1
                else:
                    by_user.setdefault(record.get("user"), []).append((i, to))
        records = [r for user, targets in by_user.items() for r in self.change(targets, op="import", user=user or "")]
        counts["taken"] = len(records)
        return records, counts

    def compare_journal(self, path: str | Path) -> Agreement:
        """Compare another annotator's journal for this dataset with this one's own judgements,
        taking nothing from it: the agreement, and the ``annotators`` filter and
        ``their_judgement`` from now on. DataError for a file that is not such a journal."""
        return self.compare_journals([path])

    def compare_journals(self, paths: Sequence[str | Path]) -> Agreement:
        """:meth:`compare_journal` for one journal or a team's: their judgement of a face is the
        majority of those who judged it (:meth:`team_agreement` then has everyone's alpha)."""
        from trainer.evaluation.agreement import team_agreement

        if not paths:
            raise ValueError("compare_journals: no journal")
        if len({Path(p).resolve() for p in paths}) < len(paths):
            raise DataError("the same journal chosen twice")
        members = [self._other_annotator(p) for p in paths]
        names = [m.name for m in members]
        members = [m if names.count(m.name) == 1 else replace(m, name=f"{m.name} ({Path(m.path).name})")
                   for m in members]  # two files of one login: told apart by the file
        if len(members) == 1:
            self.other = Compared((members[0],), members[0].judgements)
        else:
            team = team_agreement({m.name: m.judgements for m in members}, self.classes)
            self.other = Compared(tuple(members), team.consensus(min_judges=1), frozenset(team.undecided()))
        self._agreement = self._team = None
        return self.agreement()

    def _other_annotator(self, path: str | Path) -> OtherAnnotator:
        from trainer.evaluation.agreement import judgements

        if not Path(path).is_file():
            raise DataError(f"{path}: no such journal")
        theirs = RelabelJournal(path, dataset=self.dataset).latest(imports=False)
        if not theirs:
            raise DataError(f"{Path(path).name}: no labels for {self.dataset} in it (a relabel journal, JSON lines, "
                            "from Export Journal or the data folder's journals/?)")
        users = [r["user"] for r in theirs.values() if r.get("user")]
        name = max(set(users), key=users.count) if users else Path(path).stem
        if name == self.user:  # the same login on two machines: tell the two apart by the file
            name = f"{name} ({Path(path).name})"
        return OtherAnnotator(name, str(path), theirs, judgements(theirs))

    def stop_comparing(self) -> None:
        """Put the compared journals away (nothing of them was taken)."""
        self.other, self._agreement, self._team = None, None, None

    def agreement(self) -> Agreement:
        """This journal's judgements against the compared one's (a team's: its majority), as
        they stand now (faces of this data only)."""
        from trainer.evaluation.agreement import agreement, judgements

        if self.other is None:
            raise ValueError("no journal compared yet (compare_journal)")
        if self._agreement is None:  # kept until the next change: the headline and the filter both ask
            mine = {i: s for i, s in judgements(self.own_record).items() if i in self.index}
            theirs = {i: s for i, s in self.other.judgements.items() if i in self.index}
            self._agreement = agreement(mine, theirs, self.classes)
        return self._agreement

    def team_agreement(self) -> TeamAgreement | None:
        """You and every member of a compared team, each on their own (Krippendorff's alpha,
        each pair's kappa); None with one journal or none compared."""
        from trainer.evaluation.agreement import judgements, team_agreement

        if self.other is None or not self.other.team:
            return None
        if self._team is None:
            judged = {"you": judgements(self.own_record)} | {m.name: m.judgements for m in self.other.members}
            judged = {name: {i: s for i, s in j.items() if i in self.index} for name, j in judged.items()}
            self._team = team_agreement(judged, self.classes)
        return self._team

    def annotators(self, kind: str) -> np.ndarray:
        """(N,) bool against the compared journal: judged by both, differently ("disagree") or
        alike ("agree"); judged by them only ("theirs"); a team's faces without a majority
        ("split"). All False with none compared."""
        if kind not in ANNOTATORS:
            raise ValueError(f"unknown annotators filter {kind!r}; known: {', '.join(ANNOTATORS)}")
        out = np.zeros(len(self), bool)
        if self.other is None:
            return out
        if kind == "split":
            ids = [i for i in self.other.split if i in self.index]
        else:
            result = self.agreement()  # one definition of who judged what: the banner's numbers are the filter's
            ids = {"disagree": result.disagreeing, "agree": result.agreeing, "theirs": result.only_b}[kind]
        out[[self.index[i] for i in ids]] = True
        return out

    def take_theirs(self, samples: Sequence[int | str]) -> list[dict]:
        """Give the selected faces the compared journal's judgement (one journal write, yours:
        you agree with them now); faces they did not judge stay as they are."""
        if self.other is None:
            return []
        targets = [(i, self.other.judgements[self.ids[i]]) for i in map(self._to_index, samples)
                   if self.ids[i] in self.other.judgements]
        return self.change([(i, to) for i, to in targets if to == EXCLUDED or to in self.classes])

    def their_judgement(self, i: int) -> str | None:
        """``ann: surprise, 2026-12-05 10:02`` for a face the compared journal judged; a team's:
        ``bob: surprise, cy: fear (no majority)``."""
        if self.other is None:
            return None
        said = []
        for member in self.other.members:
            record = member.latest.get(self.ids[i])
            if record is None or self.ids[i] not in member.judgements:
                continue
            to = record["to"]
            what = "not a face" if to == EXCLUDED else to
            said.append(f"{member.name}: {what}" + (f", {_when(record)}" if record.get("time") and not self.other.team
                                                   else ""))
        if not said:
            return None
        if not self.other.team:
            return said[0]
        majority = self.other.judgements.get(self.ids[i])
        verdict = ("no majority" if self.ids[i] in self.other.split else
                   f"majority {'not a face' if majority == EXCLUDED else majority}" if majority else "")
        return "; ".join(said) + (f" ({verdict})" if verdict else "")

    def relabel(self, sample: int | str, label: str) -> dict | None:
        return self.set_state(sample, label)

    def withdraw(self, sample: int | str) -> dict | None:
        return self.set_state(sample, None)

    def exclude(self, sample: int | str) -> dict | None:
        return self.set_state(sample, EXCLUDED)

    def undo(self, records: dict | Sequence[dict]) -> list[dict]:
        """Put back the states ``records`` replaced (appended as "undo" records)."""
        records = [records] if isinstance(records, dict) else records
        return self.change([(r["id"], r["from"]) for r in reversed(records)], op="undo")

    def redo(self, records: dict | Sequence[dict]) -> list[dict]:
        records = [records] if isinstance(records, dict) else records
        return self.change([(r["id"], r["to"]) for r in records], op="redo")

    # ------------------------------------------------------------------ views

    def mask(self, f: Filter) -> np.ndarray:
        labels = self.labels()
        keep = np.ones(len(self), bool)
        if f.label == NONE:
            keep &= self.unlabelled()
        elif f.label is not None:
            keep &= labels == f.label
        if f.predicted is not None:
            keep &= self.predicted == f.predicted
        if f.correct is not None:
            right = (self.predicted == labels) & (labels >= 0)
            keep &= right if f.correct else (~right & (labels >= 0) & (self.predicted != NONE))
        if f.relabelled is not None:
            edited = self.relabelled() | self.excluded
            keep &= edited if f.relabelled else ~edited
        if f.checked is not None:
            checked = self.checked()
            keep &= checked if f.checked else ~checked
        if f.split is not None:
            keep &= self.splits == f.split
        if f.flagged is not None:
            keep &= self.flagged if f.flagged else ~self.flagged
        if f.face is not None:
            keep &= ~self.face_missing if f.face else self.face_missing
        if f.copies is not None:
            keep &= self.copied(f.copies)
        if f.annotators is not None:
            keep &= self.annotators(f.annotators)
        if f.text:
            keep &= np.char.find(self._lower_ids, f.text.lower()) >= 0
        if f.ids is not None:
            chosen = np.zeros(len(self), bool)
            chosen[np.fromiter(f.ids, np.int64, len(f.ids))] = True
            keep &= chosen
        return keep

    def view(self, f: Filter = Filter(), sort: str = "score", reverse: bool = False) -> np.ndarray:
        """Indices of the samples ``f`` lets through, in ``sort`` order (see SORT_TITLES);
        samples without a value (no score yet) come last either way."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; known: {', '.join(SORTS)}")
        chosen = np.flatnonzero(self.mask(f))
        if sort == "id":
            return chosen[::-1] if reverse else chosen
        key = {"score": self.scores, "not_a_face": -self.not_a_face, "confidence": self.confidence,
               "ambiguity": -self.ambiguity}[sort]
        key = np.asarray(key, np.float64)[chosen]
        if reverse:
            key = -key
        missing = np.isnan(key)
        order = np.lexsort((key, missing))  # NaN last, then ascending; stable on index
        return chosen[order]

    def copied(self, kind: str = "any") -> np.ndarray:
        """(N,) bool: samples with a copy, exact or near (``kind`` "any"), with a copy whose current label
        differs ("disagree": relabelling one copy settles it), or with a copy in another split
        ("split": a test face the model may have trained on)."""
        if kind == "any":
            return self.copy_group != UNIQUE
        if kind == "disagree":
            return disagreeing(self.copy_group, self.labels())
        if kind == "split":
            return across_splits(self.copy_group, self.splits)
        raise ValueError(f"unknown copies filter {kind!r}; known: {', '.join(COPIES)}")

    def copies_of(self, i: int) -> np.ndarray:
        """The samples that are copies of sample ``i``, exact or near (itself left out)."""
        return copies_of(self.copy_group, self._copy_members, i)

    def track_of(self, i: int) -> np.ndarray:
        """The faces of sample ``i``'s video track (every face of a video: the same person in other
        sampled frames, as far as overlap tells; trainer.data.every_face.link_tracks), in frame
        order, itself included; empty for a face without one."""
        origin = self.origins[i]
        if origin is None or origin.track is None:
            return np.empty(0, np.int64)
        same = [(o.frame, k) for k, o in enumerate(self.origins)
                if o is not None and o.image == origin.image and o.track == origin.track]
        return np.array([k for _, k in sorted(same)], np.int64)

    def copy_likeness(self, i: int, j: int) -> tuple[float, bool] | None:
        """How alike two copies are, and whether one is mirrored (trainer.evaluation.duplicates.
        likeness); None: exact."""
        if self.exact_group[i] != UNIQUE and self.exact_group[i] == self.exact_group[j]:
            return None
        return likeness(self.samples.images[i], self.samples.images[j])

    def splits_present(self) -> list[str]:
        return [s for s in dict.fromkeys(self.splits.tolist()) if s]

    def find(self, sample_ids: list[str]) -> tuple[list[int], list[str]]:
        """(indices of the ids this session has, the ids it does not)."""
        found = [self.index[i] for i in sample_ids if i in self.index]
        missing = [i for i in sample_ids if i not in self.index]
        return found, missing

    # ------------------------------------------------------------------ numbers

    def confusion(self) -> np.ndarray:
        """(C, C) counts, rows: current label, columns: predicted; excluded and unlabelled
        samples left out."""
        c = len(self.classes)
        labels = self.labels()
        ok = (labels >= 0) & (self.predicted >= 0)
        return np.bincount(labels[ok] * c + self.predicted[ok], minlength=c * c).reshape(c, c)

    def summary(self) -> dict:
        """Accuracy, per-class recall and precision, and a line saying what they were measured on.
        Faces labelled with a class the model does not have are counted in the matrix but left
        out of the accuracy, as ``fer-train evaluate`` leaves them out."""
        cm = self.confusion()
        lacks = self.model_lacks
        n = int(cm[~lacks].sum())
        left_out = int(cm[lacks].sum())
        correct = int(np.trace(cm))
        rows, cols = cm.sum(1), cm.sum(0)
        recall = [float(cm[k, k] / rows[k]) if rows[k] and not lacks[k] else None for k in range(len(self.classes))]
        precision = [float(cm[k, k] / cols[k]) if cols[k] else None for k in range(len(self.classes))]
        edits = self.edit_counts()
        accuracy = correct / n if n else None
        unlabelled = int(self.unlabelled().sum())
        notes = [f"{n:,} face{'s' * (n != 1)}"] + ([f"{unlabelled:,} not labelled yet"] if unlabelled else [])
        if left_out:
            names = ", ".join(c for c, lacked in zip(self.classes, lacks) if lacked)
            notes.append(f"{left_out:,} labelled {names} left out: the model has no such class")
        notes += self._edit_notes(edits)
        if self.other is not None:  # live while the disagreements are settled
            from trainer.evaluation.agreement import coefficient

            agreed = self.agreement()
            if agreed.both:
                notes.append(f"you and {self.other.name} agree on {agreed.agree:,} of {agreed.both:,}"
                             + (f", kappa {coefficient(agreed.kappa)}" if agreed.kappa is not None else ""))
            team = self.team_agreement()
            if team is not None and team.alpha is not None:
                notes.append(f"the team's alpha {coefficient(team.alpha)}")
        what = f"on {self.name} ({'; '.join(notes)})" + (f", model {self.model_name}" if self.model_name else "")
        if accuracy is not None:
            headline = f"accuracy {100 * accuracy:.1f}% {what}"
        elif self.has_predictions:
            headline = f"no labelled faces yet {what}"
        else:
            headline = f"no predictions yet {what}"
        return {"accuracy": accuracy, "n": n, "correct": correct, "recall": recall, "precision": precision,
                **edits, "unlabelled": unlabelled, "confusion": cm, "headline": headline}

    def last_change(self, i: int) -> str | None:
        """``relabelled sad by ann, 2026-12-06 01:50`` for the sample's latest journal record."""
        record = self.last_record.get(self.ids[i])
        if record is None:
            return None
        to = record["to"]
        given = self.given_name(i)
        what = ("withdrawn: untouched" if to is None else "excluded (not a face)" if to == EXCLUDED
                else f"confirmed {to}" if to == given else f"labelled {to}" if self.given[i] < 0
                else f"relabelled {to}")
        if record.get("op") in ("undo", "redo", "import"):
            what += f" ({record['op']})"
        when = _when(record) if record.get("time") else ""
        who = f" by {record['user']}" if record.get("user") else ""
        return f"{what}{who}" + (f", {when}" if when else "")

    def edit_counts(self) -> dict[str, int]:
        """What the journal did: classes set on images that came without one, relabelled (to
        another class), confirmed (the given class set again) and excluded."""
        set_here = self.relabelled()
        labelled_here = int((set_here & (self.given < 0)).sum())
        return {"labelled_here": labelled_here, "relabelled": int(set_here.sum()) - labelled_here,
                "confirmed": int(self.confirmed().sum()), "excluded": int(self.excluded.sum())}

    def _edit_notes(self, edits: dict[str, int]) -> list[str]:
        notes = [f"{edits['labelled_here']:,} labelled here"] if edits["labelled_here"] else []
        relabelled, confirmed, excluded = edits["relabelled"], edits["confirmed"], edits["excluded"]
        if relabelled or excluded or confirmed:
            notes.append(f"labels with {relabelled:,} correction{'s' * (relabelled != 1)}"
                         + (f", {confirmed:,} confirmed" if confirmed else "")
                         + (f", {excluded:,} excluded" if excluded else ""))
            if self.flagged.any():  # how far down the likely label errors the user has come
                done = int((self.checked() & self.flagged).sum())
                notes.append(f"{done:,} of {int(self.flagged.sum()):,} flagged checked")
        return notes


def _when(record: dict) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(record["time"]))
