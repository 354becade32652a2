"""Opening a dataset for review (model, crops, predictions, label-issue scores, journal) and
writing what the review made: the journal, a ranked CSV, a corrected copy of the dataset.

Qt-free: the window runs :func:`open_session` and the exports in a ThreadJob, passing
``progress`` / ``cancelled`` / ``status`` callbacks; scripts and tests call them directly.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from fer_desktop.review import DatasetRequest, ReviewSession
from trainer.data.relabel import EXCLUDED, dataset_key, default_journal_path
from trainer.data.samples import DataError, SampleSet
from trainer.evaluation.label_quality import IssueScores
from trainer.evaluation.not_a_face import FaceDoubts

if TYPE_CHECKING:
    from trainer.data.crops import FaceOptions
    from trainer.data.every_face import FaceSource

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Status = Callable[[str], None]
CSV_COLUMNS = ("id", "path", "given", "corrected", "predicted", "confidence", "score", "not_a_face", "face_doubts",
               "copies", "compared")
_FACES_DONE = re.compile(r"faces (\d+)/(\d+)$")


def _noop(*_args) -> None:
    return None


def all_splits(path: Path) -> tuple[str, ...]:
    """Every split of a dataset, for review (training data has label errors too)."""
    from trainer.data.datasets import available_splits

    return tuple(available_splits(path))


def _existing(path: Path) -> Path:
    """The dataset path, accepting fer2013.csv for fer2013.csv.gz and the reverse."""
    for candidate in (path, path.with_suffix("") if path.suffix == ".gz" else path.with_name(path.name + ".gz")):
        if candidate.exists():
            return candidate
    raise DataError(f"dataset not found: {path}")


def open_session(request: DatasetRequest, *, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None, status: Status | None = None,
                 cache_dir: str | Path | None = None, device: str = "auto") -> ReviewSession:
    """Load the model and the dataset's face crops (made the way the app and ``fer-train
    evaluate`` make them, for what the images are: ``request.input``, else what the dataset
    declares), run the model over every sample (cached on disk: reopening is instant), score
    the labels, and read the journal. Raises the engine's Cancelled when ``cancelled()`` turns
    true."""
    from trainer.data.datasets import DataSpec, dataset_kind
    from trainer.evaluation.duplicates import cached_near_copy_groups
    from trainer.evaluation.trained_on import trained_on
    from trainer.inference.bundled import resolve_model
    from trainer.models.card import read_card

    progress, status = progress or _noop, status or _noop
    path = _existing(Path(request.path).expanduser())
    model_path = resolve_model(request.model)
    card = read_card(model_path)  # the card says how to make the faces; the weights may not be needed

    def report(text: str) -> None:  # crop making says "faces 40/431": show it as progress
        found = _FACES_DONE.search(text)
        if found:
            progress(int(found.group(1)), int(found.group(2)))

    opened = _faces_to_read(request, path, card, progress, cancelled, status)
    source, path = path, opened.path
    status("reading faces")
    splits = tuple(s for s in (request.split or "").split("+") if s) or all_splits(path)
    spec = DataSpec(path, splits)
    samples = _read_samples(spec, opened, source, report)
    kind = dataset_kind(path)
    _stop_if(cancelled, "cancelled while reading faces")
    preds, _, pass_file = _predictions(model_path, samples, str(spec), cache_dir, device, progress, cancelled, status)
    status("ranking likely label errors")
    issues = _issues(preds, pass_file, trained_on(samples, card.training))
    status("ranking likely non-faces")
    doubts = _doubts(preds, pass_file, samples)
    status("finding copies")
    copies = cached_near_copy_groups(samples.images, pass_file, progress)
    paths = [str(path / i) for i in samples.ids] if kind == "folder" else [None] * len(samples)
    votes, vote_names = _ferplus_votes(path, kind, samples)
    journal = Path(request.journal) if request.journal else default_journal_path(path)
    # A folder without split folders has one nameless split (load_samples names it after the folder).
    no_splits = np.full(len(samples), "", dtype=str) if not splits else None
    return ReviewSession(samples, journal, dataset=dataset_key(path), predictions=preds, issues=issues, doubts=doubts,
                         copy_group=copies, paths=paths, votes=votes, vote_names=vote_names, source=str(path), kind=kind,
                         model_name=card.name, model_path=str(model_path), splits=no_splits,
                         origins=[opened.origins.get(i) for i in samples.ids] if opened.origins else None,
                         opening_note=opened.note)


@dataclasses.dataclass
class _FacesToRead:
    path: Path  # where the samples are read from: the dataset, or the faces cut from its photos
    faces: FaceOptions  # how their model input is made
    origins: dict[str, FaceSource]  # a cut face's id -> its photo
    note: str = ""  # what cutting found


def _faces_to_read(request: DatasetRequest, path: Path, card, progress: Progress, cancelled, status: Status
                   ) -> _FacesToRead:
    """The dataset's images as the request says (auto, photo, crop), else as it declares; with
    every face, the faces of its photos cut first (trainer.data.every_face). A folder of faces
    cut so (opened again, after a retrain say) is model input, used as it is."""
    from trainer.data.every_face import every_face_folder, face_sources, is_every_face_folder, summary
    from trainer.data.input_kinds import input_for
    from trainer.evaluation.evaluate import face_options_for_input

    note = ""
    if request.every_face:
        status("finding every face")
        folder = every_face_folder(path, face_options_for_input(card, "photo"), progress=progress,
                                   cancelled=cancelled, **({"every_s": request.every_s} if request.every_s else {}))
        note = f"Every face of {path.name}: {summary(folder)}."
    else:
        folder = path
    origins = face_sources(folder) if is_every_face_folder(folder) else {}
    given = None if request.every_face else request.input  # the cut faces are model input, whatever they were
    return _FacesToRead(folder, face_options_for_input(card, input_for(folder, given)), origins, note)


def _read_samples(spec, opened: _FacesToRead, source: Path, report: Callable[[str], None]) -> SampleSet:
    from trainer.data.datasets import LoadOptions, load_samples

    try:
        samples = load_samples(spec, LoadOptions(faces=opened.faces, report=report, faces_on_csv=True), purpose="eval")
    except DataError as exc:
        if opened.path != source:  # name the user's folder, not the faces' one
            raise DataError(str(exc).replace(str(opened.path), str(source))) from None
        raise DataError(f"{exc}{_videos_hint(source)}") from None
    if opened.origins and opened.faces.mode == "none":  # found and aligned in their photos, not "used as is"
        samples = dataclasses.replace(samples, meta={**samples.meta, "face_methods": np.full(len(samples), "detect")})
    return samples


def _videos_hint(path: Path) -> str:
    """Why a video, or a folder of videos, reads as no images, and what to do."""
    from trainer.faces.io import is_video_name, videos_under

    videos = videos_under(path) if path.is_dir() else [path] if is_video_name(path) else []
    what = "It holds {} video(s)".format(len(videos)) if path.is_dir() else "It is a video"
    return (f". {what}: open it with Every face (--every-face) to label the faces of one frame a "
            "second") if videos else ""


def _stop_if(cancelled: Callable[[], bool] | None, text: str) -> None:
    if cancelled is not None and cancelled():
        from trainer.evaluation.predictions import Cancelled

        raise Cancelled(text)


# The review's pass of a model over the crops: mirror averaged, with the embeddings (not-a-face)
# and the likeliest label errors scored over a few extra views (trainer.evaluation.views).
_REVIEW_PASS = {"tta_flip": True, "embeddings": True, "views": True}


def _predictions(model_path: Path, samples: SampleSet, data: str, cache_dir, device: str, progress: Progress,
                 cancelled, status: Status):
    """The model's pass over the crops (a CachedPass): from the cache when this model already
    ran over them (no model load), else run it."""
    from trainer.evaluation.predictions import cached_predict, load_cached
    from trainer.inference.backends import create_classifier
    from trainer.models.card import read_card

    found = load_cached(model_path, samples, data, cache_dir=cache_dir, **_REVIEW_PASS)
    if found is not None:  # the crops hashed once: the pass's file comes with it
        log.info("review %s: predictions from the cache", samples.name)
        return found
    status("loading the model")
    card = read_card(model_path)
    # Every core: this is the one job the user is waiting on (ONNX Runtime on a CPU).
    model = create_classifier(model_path, card, "auto", device, threads=None)
    _stop_if(cancelled, "cancelled while loading the model")
    status("running the model")
    return cached_predict(model_path, model, card, samples, data, cache_dir=cache_dir, device=device, progress=progress,
                          cancelled=cancelled, **_REVIEW_PASS)


def _issues(preds, pass_file: Path, seen: np.ndarray) -> IssueScores:
    """Label-issue scores (:func:`trainer.evaluation.label_quality.score_labels`: the model's
    own probabilities where it never saw the sample, out of fold where it memorised it), cached
    beside the predictions under the scoring version (the K-fold head takes a while on FER-2013)."""
    from trainer.data.cache import expect, load_entry, save_entry
    from trainer.evaluation.label_quality import SCORING_VERSION, score_labels

    def read(data: dict[str, np.ndarray]) -> IssueScores:
        expect(len(data["scores"]) == len(seen) and np.array_equal(data["seen"], seen), "for other samples")
        gap = float(data["gap"])
        return IssueScores(data["scores"], data["flagged"], data["out_of_sample"], str(data["method"]),
                           None if np.isnan(gap) else gap, seen)

    where = pass_file.with_suffix(f".issues{SCORING_VERSION}.npz")
    cached = load_entry(where, read)
    if cached is not None:
        return cached
    result = score_labels(preds, seen)
    save_entry(where, {"scores": result.scores, "flagged": result.flagged, "out_of_sample": result.out_of_sample,
                       "seen": seen, "method": np.array(result.method),
                       "gap": np.array(np.nan if result.memorisation_gap is None else result.memorisation_gap)})
    return result


def _doubts(preds, pass_file: Path, samples: SampleSet) -> FaceDoubts:
    """Not-a-face signals (:func:`trainer.evaluation.not_a_face.sample_doubts`), cached beside the
    predictions: the nearest-neighbour search takes a while on FER-2013."""
    from trainer.data.cache import expect, load_entry, save_entry
    from trainer.evaluation.not_a_face import SCORING_VERSION, sample_doubts

    def read(data: dict[str, np.ndarray]) -> FaceDoubts:
        expect(len(data["unusual"]) == len(samples), "for another number of samples")
        return FaceDoubts(data["blank"], data["no_face"], data["unusual"])

    where = pass_file.with_suffix(f".doubts{SCORING_VERSION}.npz")
    cached = load_entry(where, read)
    if cached is not None:
        return cached
    doubts = sample_doubts(samples, preds.embeddings)
    save_entry(where, {"blank": doubts.blank, "no_face": doubts.no_face, "unusual": doubts.unusual})
    return doubts


def find_votes_file(path: Path, kind: str) -> Path | None:
    """FER+'s votes for FER-2013 rows: the dataset itself (FER+), or fer2013new.csv beside a
    FER-2013 csv or in ../ferplus/ (the shared data layout)."""
    if kind == "ferplus":
        return path
    if kind != "fer2013":
        return None
    for candidate in (path.parent / "fer2013new.csv", path.parent.parent / "ferplus" / "fer2013new.csv"):
        if candidate.is_file():
            return candidate
    return None


def _ferplus_votes(path: Path, kind: str, samples: SampleSet) -> tuple[np.ndarray | None, tuple[str, ...]]:
    from trainer.data.ferplus import VOTE_COLUMNS, read_votes

    votes_path = find_votes_file(path, kind)
    if votes_path is None:
        return None, ()
    try:
        table = read_votes(votes_path)
    except DataError as exc:
        log.warning("FER+ votes not shown: %s", exc)
        return None, ()
    rows = np.array([int(i.rpartition(":")[2]) for i in samples.ids])
    if rows.max(initial=-1) >= len(table.votes):
        return None, ()
    return table.votes[rows].astype(np.int16), VOTE_COLUMNS


# ---------------------------------------------------------------------------------- exports

def export_journal(session: ReviewSession, out: str | Path) -> Path:
    """A copy of the journal file (every record, every dataset it holds)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if session.journal.path.is_file():
        shutil.copyfile(session.journal.path, out)
    else:
        out.write_bytes(b"")
    return out


def export_csv(session: ReviewSession, out: str | Path) -> Path:
    """One row per sample, likeliest label error first: id, path, given, corrected (a class, the
    given one when confirmed; not-a-face; or empty when untouched), predicted, confidence, score,
    the not-a-face score (high = likely no face) and its reasons ("blank image; no face found",
    or empty), the ids of its copies, exact or near ("; "-joined), and the compared journal's
    judgement (ReviewSession.compare_journal: a class or not-a-face; empty where it has none)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    order = session.view(sort="score")
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for i in order:
            predicted = session.classes[session.predicted[i]] if session.predicted[i] >= 0 else ""
            conf = session.confidence[i]
            score, doubt = session.scores[i], session.not_a_face[i]
            reasons = session.doubts.reasons(i) if session.doubts is not None else []
            writer.writerow([session.ids[i], session.paths[i] or "", session.given_name(i),
                             session.state_of(i) or "", predicted,
                             "" if np.isnan(conf) else f"{conf:.4f}", "" if np.isnan(score) else f"{score:.5f}",
                             "" if np.isnan(doubt) else f"{doubt:.4f}", "; ".join(reasons),
                             "; ".join(session.ids[k] for k in session.copies_of(i)),
                             session.other.judgements.get(session.ids[i], "") if session.other else ""])
    return out


def export_corrected(session: ReviewSession, out: str | Path, *, progress: Progress | None = None,
                     cancelled: Callable[[], bool] | None = None) -> Path:
    """A corrected copy of the whole dataset (every split, the journal's state applied,
    excluded samples left out): class folders for class-folder data (the original files; images
    still without a label in an ``unlabelled/`` folder),
    a FER-2013 csv for a FER-2013 csv, class folders of the 48x48 faces for FER+."""
    out = Path(out)
    source = Path(session.source)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: exists and is not an empty folder; choose a new name")
    if out.resolve().is_relative_to(source.resolve()) and source.is_dir():
        raise DataError(f"{out}: inside the dataset being copied; choose a folder outside it")
    state = session.journal.state()
    progress = progress or _noop
    if session.kind == "folder":
        return _copy_folders(source, out, state, progress, cancelled)
    if session.kind == "fer2013":
        return _copy_fer_csv(source, out, state, progress, cancelled)
    return _write_crops(session, out, state, progress, cancelled)


def _check_cancel(cancelled: Callable[[], bool] | None, what: str) -> None:
    if cancelled is not None and cancelled():
        from trainer.evaluation.predictions import Cancelled

        raise Cancelled(f"{what}: cancelled; the copy is incomplete")


def _copy_folders(root: Path, out: Path, state: dict[str, str], progress: Progress,
                  cancelled: Callable[[], bool] | None) -> Path:
    from trainer.classes import UNLABELLED
    from trainer.data.folders import is_unlabelled_folder, scan_folder_dataset
    from trainer.data.input_kinds import declared_input, write_declaration

    listings = scan_folder_dataset(root)
    spelling: dict[str, str] = {}  # canonical class (or UNLABELLED) -> the dataset's folder name
    jobs: list[tuple[str, str, str, tuple[str, ...]]] = []  # (id, split, class, path below the class folder)
    for listing in listings:
        depth = 1 if listing.split else 0
        for rel, label in zip(listing.files, listing.labels):
            parts = Path(rel).parts
            if label < 0 and not is_unlabelled_folder(parts[depth]):  # a loose image: no folder above it
                jobs.append((rel, listing.split, UNLABELLED, parts[depth:]))
                continue
            cls = listing.classes[label] if label >= 0 else UNLABELLED
            spelling.setdefault(cls, parts[depth])
            jobs.append((rel, listing.split, cls, parts[depth + 1:]))
    # Files that stay in their class first: a relabelled file meeting a namesake is the one renamed.
    jobs.sort(key=lambda job: state.get(job[0], job[2]) != job[2])
    used: set[Path] = set()
    for n, (rel, split, cls, parts) in enumerate(jobs):
        if n % 200 == 0:
            _check_cancel(cancelled, str(out))
            progress(n, len(jobs))
        target = state.get(rel, cls)
        if target == EXCLUDED:
            continue
        folder = spelling.get(target, UNLABELLED if target == UNLABELLED else target.capitalize())
        dest = out.joinpath(*([split] if split else []), folder, *parts)
        dest = _unique(dest, used)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest)
    progress(len(jobs), len(jobs))
    # Every class keeps a folder in every split, empty where all its faces were relabelled away.
    for split in {split for _, split, _, _ in jobs}:
        for cls, folder in spelling.items():
            if cls == UNLABELLED:
                continue  # an empty unlabelled folder says nothing
            out.joinpath(*([split] if split else []), folder).mkdir(parents=True, exist_ok=True)
    declared = declared_input(root)
    if declared is not None:  # a copy of SFEW is face crops too, whatever its new name
        write_declaration(out, declared)
    try:
        scan_folder_dataset(out)
    except DataError as exc:  # e.g. every face of a split excluded
        raise DataError(f"{out} is written, but the trainer cannot read it as it is: {exc}") from None
    return out


def _unique(dest: Path, used: set[Path]) -> Path:
    """A relabelled file may meet a namesake in its new class folder: number it."""
    candidate, k = dest, 1
    while candidate in used:
        candidate = dest.with_name(f"{dest.stem}-{k}{dest.suffix}")
        k += 1
    used.add(candidate)
    return candidate


def _copy_fer_csv(source: Path, out: Path, state: dict[str, str], progress: Progress,
                  cancelled: Callable[[], bool] | None) -> Path:
    from trainer.classes import BASIC_CLASSES
    from trainer.data.fer2013 import open_text

    if out.suffix not in (".csv", ".gz"):
        out = out / "fer2013.csv"
    odd = sorted({v for v in state.values() if v != EXCLUDED and v not in BASIC_CLASSES})
    if odd:
        raise DataError(f"corrections to {', '.join(odd)}: FER-2013's csv has no such class (use class folders)")
    rows = {int(k.rpartition(":")[2]): v for k, v in state.items() if k.startswith("fer2013:")}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    opener = gzip.open if out.suffix == ".gz" else open
    with open_text(source) as src, opener(tmp, "wt", newline="", encoding="utf-8") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst)
        header = next(reader)
        writer.writerow(header)
        col = header.index("emotion")
        for row_index, row in enumerate(reader):
            if row_index % 2000 == 0:
                _check_cancel(cancelled, str(out))
                progress(row_index, 0)  # the row count is unknown until the end
            target = rows.get(row_index)
            if target == EXCLUDED:
                continue
            if target is not None:
                row[col] = str(BASIC_CLASSES.index(target))
            writer.writerow(row)
    tmp.replace(out)
    return out


def _write_crops(session: ReviewSession, out: Path, state: dict[str, str], progress: Progress,
                 cancelled: Callable[[], bool] | None) -> Path:
    from trainer.classes import UNLABELLED
    from trainer.faces.io import write_image

    n = len(session)
    for i in range(n):
        if i % 500 == 0:
            _check_cancel(cancelled, str(out))
            progress(i, n)
        target = state.get(session.ids[i], session.given_name(i))
        if target in (EXCLUDED, UNLABELLED):
            continue
        split = session.splits[i] or ""
        dest = out.joinpath(*([split] if split else []), target.capitalize(),
                            session.ids[i].replace(":", "-") + ".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_image(dest, session.samples.images[i])
    progress(n, n)
    return out
