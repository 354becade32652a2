"""The review session without Qt: filters, sorts, relabel / undo / redo through the journal,
the accuracy line, and exports that the trainer's own readers load back with the corrections.
A tiny random-weights model on generated class folders keeps it fast and data-free."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_desktop.review import DatasetRequest, Filter, ReviewSession
from trainer.classes import BASIC_CLASSES
from trainer.data.relabel import EXCLUDED, RelabelJournal
from trainer.data.samples import DataError, SampleSet

CLASS_FOLDERS = ["Angry", "Disgust", "Fear", "Happy"]
PER_CLASS = 5


@pytest.fixture(scope="session")
def review_model(tmp_path_factory) -> Path:
    """Random weights, a card saying the data are ready crops (no face detection)."""
    import torch

    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model

    torch.manual_seed(0)
    model, _ = create_model("efficientnet-lite0", len(BASIC_CLASSES), pretrained=False)
    card = ModelCard(name="tiny-review", backbone="efficientnet-lite0", classes=list(BASIC_CLASSES), input_size=48,
                     mean=[0.5], std=[0.5], preprocessing={"faces": "crops", "mode": "none", "grey": True,
                                                           "crop_size": 48},
                     training={"data": {"train": ["faces#Train"]}})
    weights, _ = save_model(model, card, tmp_path_factory.mktemp("model") / "tiny")
    return weights


@pytest.fixture(scope="session")
def faces_root(tmp_path_factory) -> Path:
    """``faces/{Train,Val}/{Angry,Disgust,Fear,Happy}/00N.png``: 40 generated 48x48 crops."""
    from trainer.data.synthetic import write_class_folders

    return write_class_folders(tmp_path_factory.mktemp("data") / "faces", PER_CLASS, class_names=CLASS_FOLDERS,
                               splits=["Train", "Val"], size=48)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """Journals and caches in the test's folder, never the user's."""
    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "home"


@pytest.fixture
def session(faces_root, review_model, home, tmp_path, one_torch_thread) -> ReviewSession:
    from fer_desktop.review_io import open_session

    return open_session(DatasetRequest(str(faces_root), model=str(review_model)), cache_dir=tmp_path / "predictions")


def small_session(tmp_path: Path, n: int = 12) -> ReviewSession:
    """No model: ids, labels and a journal (what the crash test's child uses too)."""
    samples = SampleSet(ids=[f"s{i:02d}" for i in range(n)], images=np.zeros((n, 4, 4), np.uint8),
                        labels=np.arange(n) % 4, classes=BASIC_CLASSES, name="small/all", meta={"dataset": "small"})
    return ReviewSession(samples, tmp_path / "journal.jsonl")


def test_open_reads_every_split_with_predictions_and_scores(session, faces_root):
    assert len(session) == 2 * len(CLASS_FOLDERS) * PER_CLASS
    assert session.splits_present() == ["Train", "Val"]
    assert session.dataset == "faces" and session.kind == "folder"
    # Counted on disk, not by the code under test.
    on_disk = {(p.parent.parent.name, p.parent.name) for p in faces_root.rglob("*.png")}
    assert {(s.split("/")[0], s.split("/")[1]) for s in session.ids} == on_disk
    assert session.paths[0] == str(faces_root / session.ids[0]) and Path(session.paths[0]).is_file()
    assert np.allclose(session.probs.sum(1), 1, atol=1e-4)
    assert not np.isnan(session.scores).any()
    # The card says the model was trained on faces#Train: those are scored out of fold.
    assert session.out_of_sample[session.splits == "Train"].all()
    assert not session.out_of_sample[session.splits == "Val"].any()
    summary = session.summary()
    assert summary["n"] == 40 and summary["confusion"].sum(1)[:4].tolist() == [10] * 4
    assert summary["headline"].startswith(f"accuracy {100 * summary['accuracy']:.1f}% on faces/Train+Val (40 faces)")
    assert summary["headline"].endswith("model tiny-review")


def test_filters_and_sorts(session):
    labels, pred = session.labels(), session.predicted
    wrong = session.view(Filter(correct=False))
    assert set(wrong) == set(np.flatnonzero(labels != pred))
    cell = session.view(Filter().with_cell(0, int(pred[0])))
    assert set(cell) == set(np.flatnonzero((labels == 0) & (pred == pred[0])))
    assert set(session.view(Filter(split="Val"))) == set(np.flatnonzero(session.splits == "Val"))
    by_score = session.view(sort="score")
    assert np.all(np.diff(session.scores[by_score]) >= 0)
    by_conf = session.view(sort="confidence", reverse=True)
    assert np.all(np.diff(session.confidence[by_conf]) <= 0)
    by_amb = session.view(sort="ambiguity")
    assert np.all(np.diff(session.ambiguity[by_amb]) <= 0)
    assert session.view(sort="id").tolist() == list(range(len(session)))
    assert session.view(Filter(ids=frozenset({3, 1}))).tolist() in ([1, 3], [3, 1])
    found = session.view(Filter(text="TRAIN/Fear"), sort="id")
    assert [session.ids[i] for i in found] == [f"Train/Fear/{k:03d}.png" for k in range(PER_CLASS)]
    assert session.view(Filter(text="train/fear/003", label=0)).size == 0  # with the other filters


def test_relabel_withdraw_exclude_undo_redo_in_the_journal(tmp_path):
    s = small_session(tmp_path)
    heard = []
    s.listeners.append(lambda indices, records: heard.append((indices, [r["op"] for r in records])))
    r1 = s.relabel("s01", "sad")  # given disgust
    assert (r1["from"], r1["to"], r1["op"], r1["dataset"]) == (None, "sad", "set", "small")
    assert s.relabel("s01", "sad") is None  # no change, no record
    confirm = s.relabel("s02", "fear")  # s02's given label: confirmed, checked and kept
    assert (confirm["from"], confirm["to"]) == (None, "fear") and s.labels()[2] == s.given[2]
    assert s.confirmed().tolist() == [False, False, True] + [False] * 9 and not s.relabelled()[2]
    assert s.relabel("s02", "fear") is None
    r2 = s.exclude(1)
    assert (r2["from"], r2["to"]) == ("sad", EXCLUDED)
    assert s.labels()[1] == -1 and s.view(Filter(label=1)).tolist() == [5, 9]
    [undo] = s.undo(r2)
    assert (undo["from"], undo["to"], undo["op"]) == (EXCLUDED, "sad", "undo") and s.state_of(1) == "sad"
    [redo] = s.redo(r2)
    assert redo["op"] == "redo" and s.state_of(1) == EXCLUDED
    s.relabel(3, "neutral")
    s.relabel(3, "happy")  # its given label: the correction gives way to a confirmation
    assert s.state_of(3) == "happy" and s.confirmed()[3]
    s.withdraw(3)  # untouched again
    assert s.state_of(3) is None
    assert heard == [([1], ["set"]), ([2], ["set"]), ([1], ["set"]), ([1], ["undo"]), ([1], ["redo"]), ([3], ["set"]),
                     ([3], ["set"]), ([3], ["set"])]
    # What is on disk, read by the engine's reader, is what the session shows.
    assert RelabelJournal(tmp_path / "journal.jsonl", "small").state() == {"s01": EXCLUDED, "s02": "fear"}
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["v"] == 2 for line in lines)
    again = small_session(tmp_path)
    assert again.state_of(1) == EXCLUDED and again.state_of(2) == "fear" and again.relabelled().sum() == 0
    assert set(again.view(Filter(relabelled=True))) == {1}
    assert set(again.view(Filter(checked=True))) == {1, 2} and len(again.view(Filter(checked=False))) == 10
    assert "labels with 0 corrections, 1 confirmed, 1 excluded" in again.summary()["headline"]
    with pytest.raises(DataError, match="no class"):
        s.relabel(0, "bored")


def test_many_faces_change_in_one_write_and_undo_in_one_step(tmp_path):
    """A multi-selection relabelled at once: one notice, one record per face that changes (a
    face already so labelled writes none), and undo puts each face's own previous state back."""
    s = small_session(tmp_path)
    heard = []
    s.listeners.append(lambda indices, records: heard.append(indices))
    s.relabel("s05", "fear")
    records = s.set_states(["s01", "s03", "s05", "s07"], EXCLUDED)
    s.set_states([3, 7], EXCLUDED)  # nothing changes: no record, no notice
    assert [r["id"] for r in records] == ["s01", "s03", "s05", "s07"] and heard == [[5], [1, 3, 5, 7]]
    assert [s.state_of(i) for i in (1, 3, 5, 7)] == [EXCLUDED] * 4
    confirmed = s.set_states(["s00", "s04"], "angry")  # their given label: confirmed, in one write
    assert [r["id"] for r in confirmed] == ["s00", "s04"] and s.confirmed()[[0, 4]].all()
    assert s.set_states(["s00", "s04"], "angry") == []  # confirmed already: nothing changes
    s.undo(records)
    assert [s.state_of(i) for i in (1, 3, 5, 7)] == [None, None, "fear", None]
    s.redo(records)
    assert RelabelJournal(tmp_path / "journal.jsonl", "small").state() == {
        **{f"s0{i}": EXCLUDED for i in (1, 3, 5, 7)}, "s00": "angry", "s04": "angry"}
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 1 + 4 + 2 + 4 + 4


def test_exports_load_back_with_the_corrections(session, faces_root, tmp_path):
    from fer_desktop.review_io import export_corrected, export_csv, export_journal
    from trainer.data.crops import FaceOptions
    from trainer.data.datasets import LoadOptions, load_samples

    ids = session.ids
    moved, gone = ids[0], ids[PER_CLASS]  # Train/Angry/000.png -> fear; Train/Disgust/000.png excluded
    session.relabel(moved, "fear")
    session.exclude(gone)
    rows = list(csv.DictReader(export_csv(session, tmp_path / "ranked.csv").open()))
    assert len(rows) == len(session) and list(rows[0]) == ["id", "path", "given", "corrected", "predicted",
                                                           "confidence", "score", "not_a_face", "face_doubts",
                                                           "copies", "compared"]
    by_id = {r["id"]: r for r in rows}
    assert by_id[moved]["corrected"] == "fear" and by_id[gone]["corrected"] == EXCLUDED
    assert by_id[ids[1]]["corrected"] == "" and by_id[moved]["given"] == "angry"
    assert [float(r["score"]) for r in rows] == sorted(float(r["score"]) for r in rows)
    copy = export_journal(session, tmp_path / "copy.jsonl")
    assert RelabelJournal(copy, "faces").state() == {moved: "fear", gone: EXCLUDED}

    out = export_corrected(session, tmp_path / "corrected")
    loaded = load_samples(f"{out}#Train+Val", LoadOptions(faces=FaceOptions(mode="none", crop_size=48), use_cache=False))
    got = {(i.split("/")[0], Path(i).name, loaded.classes[k]) for i, k in zip(loaded.ids, loaded.labels)}
    # The moved file meets Fear's own 000.png: the moved one is renamed, the original keeps its name.
    expected = {(i.split("/")[0], "000-1.png" if i == moved else Path(i).name,
                 "fear" if i == moved else session.given_name(n)) for n, i in enumerate(ids) if i != gone}
    assert got == expected and len(loaded) == len(session) - 1
    assert (out / "Train" / "Fear" / "000-1.png").read_bytes() == (faces_root / moved).read_bytes()
    with pytest.raises(DataError, match="not an empty folder"):
        export_corrected(session, out)


def test_a_class_relabelled_away_from_a_split_still_trains(session, tmp_path, capsys):
    """Every Disgust face of Val relabelled: the copy keeps an empty Val/Disgust, reads back with
    the same classes, and the trainer trains on it (it used to refuse the copy)."""
    from fer_desktop.review_io import export_corrected
    from trainer.cli import main as fer_train
    from trainer.data.crops import FaceOptions
    from trainer.data.datasets import LoadOptions, load_samples

    for i in [i for i in session.ids if i.startswith("Val/Disgust/")]:
        session.relabel(i, "angry")
    out = export_corrected(session, tmp_path / "corrected")
    assert (out / "Val" / "Disgust").is_dir() and not any((out / "Val" / "Disgust").iterdir())
    val = load_samples(f"{out}#Val", LoadOptions(faces=FaceOptions(mode="none", crop_size=48), use_cache=False))
    assert val.classes == BASIC_CLASSES and list(val.class_counts()[:4]) == [2 * PER_CLASS, 0, PER_CLASS, PER_CLASS]
    for f in (out / "Train" / "Fear").iterdir():  # and a class no training face has: said, not refused
        f.unlink()
    code = fer_train(["train", "--data", f"{out}#Train", "--val", f"{out}#Val", "--faces", "none", "--model",
                      "timm:test_resnet", "--no-pretrained", "--input-size", "32", "--epochs", "1",
                      "--batch-size", "8", "--out", str(tmp_path / "run")])
    assert code == 0
    assert "no training sample labelled fear, sad, surprise, neutral" in capsys.readouterr().err


def test_fer_csv_export(tmp_path, review_model, home, one_torch_thread):
    from fer_desktop.review_io import export_corrected, open_session
    from trainer.data.datasets import load_samples
    from trainer.data.synthetic import write_fer_csv

    from trainer.data.synthetic import write_ferplus_csv

    fer = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 12, "PublicTest": 6}, num_classes=4)
    # FER+ votes beside it: row r gets r votes for neutral (and 10 - r for happiness).
    write_ferplus_csv(tmp_path / "fer2013new.csv", [("Training" if r < 12 else "PublicTest", f"fer{r:07d}.png",
                                                     [r % 11, 10 - r % 11, 0, 0, 0, 0, 0, 0, 0, 0]) for r in range(18)])
    s = open_session(DatasetRequest(str(fer), split="Training", model=str(review_model)),
                     cache_dir=tmp_path / "predictions")
    assert len(s) == 12 and s.dataset == "fer2013" and s.kind == "fer2013" and s.paths[0] is None
    rows = [int(i.split(":")[1]) for i in s.ids]
    assert s.votes[:, 0].tolist() == [r % 11 for r in rows] and s.vote_names[:2] == ("neutral", "happiness")
    first = s.ids[0]
    s.relabel(first, "surprise")
    s.exclude(s.ids[1])
    out = export_corrected(s, tmp_path / "fixed.csv")
    train = load_samples(f"{out}#Training")
    assert len(train) == 11 and train.classes[train.labels[0]] == "surprise"
    assert len(load_samples(f"{out}#PublicTest")) == 6  # the splits not reviewed are copied as they were


def test_folder_without_splits(tmp_path, review_model, home, one_torch_thread):
    from fer_desktop.review_io import open_session
    from trainer.data.synthetic import write_class_folders

    root = write_class_folders(tmp_path / "flat", 3, class_names=["Happy", "Sad"], size=48)
    s = open_session(DatasetRequest(str(root), model=str(review_model)), cache_dir=tmp_path / "predictions")
    assert len(s) == 6 and s.splits_present() == [] and s.ids[0] == "Happy/000.png"
    assert not s.out_of_sample.any()  # the card names faces#Train, not this folder


def test_new_images_are_labelled_with_the_models_help_and_exported(tmp_path, review_model, home,
                                                                   one_torch_thread, capsys):
    """Images with no label yet (an unlabelled/ folder beside the class folders): shown by the
    "not labelled" filter, counted in the headline but not in the accuracy, labelled one by one
    or as the model predicts, and exported as class folders with the rest still unlabelled."""
    from fer_desktop.review import NONE
    from fer_desktop.review_io import export_corrected, open_session
    from trainer.data.crops import FaceOptions
    from trainer.data.datasets import LoadOptions, load_samples
    from trainer.data.synthetic import write_class_folders

    root = write_class_folders(tmp_path / "part", 3, class_names=["Happy", "Sad", "unlabelled"], size=48)
    s = open_session(DatasetRequest(str(root), model=str(review_model)), cache_dir=tmp_path / "predictions")
    todo = [i for i, sample_id in enumerate(s.ids) if sample_id.startswith("unlabelled/")]
    assert len(todo) == 3 and list(s.view(Filter(label=NONE), "id")) == todo
    summary = s.summary()
    assert summary["n"] == 6 and summary["unlabelled"] == 3 and "3 not labelled yet" in summary["headline"]
    assert np.isnan(s.scores[todo]).all()  # no label, no label-error score
    from trainer.cli import main as fer_train

    assert fer_train(["issues", str(root), "--model", str(review_model), "--out", str(tmp_path / "r.csv")]) == 0
    assert "3 without a label are not ranked" in capsys.readouterr().out

    first, rest = todo[0], todo[1:]
    s.relabel(first, "surprise")
    records = s.label_as_suggested(rest)  # the model's classes: nothing learnt yet
    predicted = {s.ids[i]: s.classes[s.predicted[i]] for i in rest}
    assert {r["id"]: r["to"] for r in records} == predicted and all(r["from"] is None for r in records)
    assert not s.unlabelled().any() and s.summary()["n"] == 9
    s.undo(records)
    assert list(s.view(Filter(label=NONE), "id")) == rest

    out = export_corrected(s, tmp_path / "labelled")
    back = load_samples(str(out), LoadOptions(faces=FaceOptions(mode="none", crop_size=48), use_cache=False))
    files = {Path(i).parent.name: sorted(Path(j).name for j in back.ids if Path(j).parent == Path(i).parent)
             for i in back.ids}
    assert files == {"Happy": ["000.png", "001.png", "002.png"], "Sad": ["000.png", "001.png", "002.png"],
                     "Surprise": ["000.png"], "unlabelled": ["001.png", "002.png"]}
    assert sorted(back.classes[k] if k >= 0 else "?" for k in back.labels) == \
        ["?", "?"] + ["happy"] * 3 + ["sad"] * 3 + ["surprise"]


def test_a_folder_of_loose_images_opens_for_labelling(tmp_path, review_model, home, one_torch_thread):
    from fer_desktop.review import NONE
    from fer_desktop.review_io import export_corrected, open_session
    from trainer.data.synthetic import write_class_folders

    gen = write_class_folders(tmp_path / "gen", 2, class_names=["Happy"], size=48)
    loose = tmp_path / "new photos"
    (gen / "Happy").rename(loose)
    s = open_session(DatasetRequest(str(loose), model=str(review_model)), cache_dir=tmp_path / "predictions")
    assert s.ids == ["000.png", "001.png"] and s.unlabelled().all() and s.classes == BASIC_CLASSES
    assert s.summary()["headline"].startswith("no labelled faces yet on new photos (0 faces; 2 not labelled yet)")
    assert list(s.view(Filter(label=NONE), "confidence")) == list(np.argsort(s.confidence, kind="stable"))
    s.relabel("001.png", "happy")
    out = export_corrected(s, tmp_path / "out")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["Happy/001.png", "unlabelled/000.png"]


def test_trained_splits_reads_the_bundled_card():
    from trainer.evaluation.trained_on import trained_splits

    training = {"data": {"train": ["/nowhere/sfew2"], "stage": {"replay": ["/nowhere/fer2013.csv.gz#Training+PublicTest"]}},
                "init_training": {"data": {"train": "fer2013/FER28"}}}
    assert trained_splits(training) == {("sfew2", "train"), ("sfew2", "training"), ("fer2013", "training"),
                                        ("fer2013", "publictest")}
    assert trained_splits({}) == set()


def test_fer_train_issues_ranks_as_the_window_does(session, faces_root, review_model, tmp_path, capsys):
    """One rule for both: the card says the model was trained on faces#Train, so those 20 are
    scored out of fold (it would rate labels it learnt as right) and Val's 20 with its own
    probabilities, in the CLI's CSV as in the window's order."""
    from trainer.cli import main

    out = tmp_path / "ranked.csv"
    assert main(["issues", str(faces_root), "--split", "Train+Val", "--model", str(review_model),
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trained_on"] == 20 and summary["out_of_sample"] == 20
    assert [r["id"] for r in csv.DictReader(open(out, encoding="utf-8"))] == [
        session.ids[i] for i in session.view(sort="score")]


def ann_and_bob(tmp_path: Path) -> tuple[ReviewSession, ReviewSession]:
    """Two annotators on the same small data, each with a journal of their own (Bob's in bob/)."""
    mine = small_session(tmp_path)
    mine.user = "ann"
    (tmp_path / "bob").mkdir()
    bob = small_session(tmp_path / "bob")
    bob.user = "bob"
    return mine, bob


def test_accuracy_leaves_out_faces_of_a_class_the_model_lacks(tmp_path):
    """As fer-train evaluate does (FER+'s contempt under a 7-class model): in the matrix, not in
    the accuracy, and the headline says so."""
    from trainer.evaluation.predictions import Predictions

    classes = ("happy", "sad", "contempt")
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[0.9, 0.1, 0], [0.2, 0.8, 0], [0.3, 0.7, 0], [0.6, 0.4, 0], [0.5, 0.5, 0], [0.1, 0.9, 0]])
    samples = SampleSet(ids=[f"s{i}" for i in range(6)], images=np.zeros((6, 4, 4), np.uint8), labels=labels,
                        classes=classes, name="votes/PublicTest", meta={"dataset": "votes"})
    pred = Predictions(ids=samples.ids, labels=labels, probs=probs, classes=classes,
                       meta={"model_classes": ["happy", "sad"]})
    summary = ReviewSession(samples, tmp_path / "j.jsonl", predictions=pred).summary()
    assert summary["n"] == 4 and summary["correct"] == 2 and summary["accuracy"] == 0.5
    assert summary["confusion"][2].sum() == 2 and summary["recall"][2] is None
    assert "(4 faces; 2 labelled contempt left out: the model has no such class)" in summary["headline"]


def with_extras(faces_root: Path, tmp_path: Path) -> tuple[Path, str, tuple[str, str], tuple[str, str]]:
    """faces_root plus an all-black image, an exact copy of a Train face put in Val under another
    class, and a near copy (moved 2 px, brighter) of another Train face put in Val under another
    class: (root, the black image's id, (the original's id, the copy's id), (the same for the
    near copy))."""
    import cv2

    root = tmp_path / "with-extras"
    shutil.copytree(faces_root, root)
    black = "Val/Happy/black.png"
    cv2.imwrite(str(root / black), np.zeros((48, 48), np.uint8))
    original, copy = "Train/Angry/000.png", "Val/Fear/copy.png"
    shutil.copyfile(root / original, root / copy)
    near_original, near = "Train/Disgust/002.png", "Val/Happy/near.png"
    face = cv2.imread(str(root / near_original), cv2.IMREAD_GRAYSCALE)
    moved = cv2.warpAffine(face, np.float32([[1, 0, 2], [0, 1, 0]]), (48, 48), borderMode=cv2.BORDER_REPLICATE)
    cv2.imwrite(str(root / near), np.clip(moved.astype(int) + 25, 0, 255).astype(np.uint8))
    return root, black, (original, copy), (near_original, near)


def test_copies_are_found_and_settled_by_relabelling(faces_root, review_model, home, tmp_path, one_torch_thread,
                                                    capsys):
    """A Train face copied into Val under another class, and another moved and brightened into
    Val under another class: each pair is "copied", "in another split" and "labelled otherwise"
    until relabelled; the exact copy is told from the near one; the CSV names them."""
    from fer_desktop.review_io import export_csv, open_session
    from trainer.evaluation.duplicates import NEAR_COPY_SIMILARITY, UNIQUE

    root, black, (original, copy), (near_original, near) = with_extras(faces_root, tmp_path)
    session = open_session(DatasetRequest(str(root), model=str(review_model)), cache_dir=tmp_path / "predictions")
    pair = sorted([session.index[original], session.index[copy]])
    near_pair = sorted([session.index[near_original], session.index[near]])
    # The generated faces hold near copies of their own (one class's stripes, shifted), each
    # group of one class: only the groups the planted copies joined are labelled otherwise.
    planted = np.flatnonzero(np.isin(session.copy_group, session.copy_group[pair + near_pair])).tolist()
    assert session.view(Filter(copies="disagree"), sort="id").tolist() == planted
    for kind in ("any", "split"):
        assert set(pair + near_pair) <= set(session.view(Filter(copies=kind)).tolist()), kind
    assert np.flatnonzero(session.exact_group != UNIQUE).tolist() == pair  # the one exact copy
    assert pair[1] in session.copies_of(pair[0]) and near_pair[1] in session.copies_of(near_pair[0])
    assert session.copy_likeness(*pair) is None
    alike, mirrored = session.copy_likeness(*near_pair)
    assert NEAR_COPY_SIMILARITY <= alike < 1 and not mirrored
    assert session.copies_of(session.index[black]).tolist() == []
    rows = {r["id"]: r for r in csv.DictReader(export_csv(session, tmp_path / "ranked.csv").open())}
    assert copy in rows[original]["copies"].split("; ") and original in rows[copy]["copies"].split("; ")
    assert near in rows[near_original]["copies"].split("; ")
    assert sum(bool(r["copies"]) for r in rows.values()) == int(session.copied().sum())
    # fer-train issues names the same copies, and counts them
    from trainer.cli import main

    out = tmp_path / "issues.csv"
    assert main(["issues", str(root), "--split", "Train+Val", "--model", str(review_model), "--out", str(out),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["copied"] == int(session.copied().sum())
    assert summary["copies_labelled_otherwise"] == len(session.view(Filter(copies="disagree")))
    cli = {r["id"]: set(filter(None, r["copies"].split("; "))) for r in csv.DictReader(open(out, encoding="utf-8"))}
    assert cli == {i: set(filter(None, r["copies"].split("; "))) for i, r in rows.items()}
    session.relabel(copy, "angry")
    session.relabel(near, "disgust")
    assert session.view(Filter(copies="disagree")).tolist() == []
    assert set(pair) <= set(session.view(Filter(copies="split")).tolist())
    # reopening takes the groups from the cache beside the predictions, the same
    again = open_session(DatasetRequest(str(root), model=str(review_model)), cache_dir=tmp_path / "predictions")
    assert list((tmp_path / "predictions").rglob("*.copies*.npz"))
    assert np.array_equal(again.copy_group, session.copy_group)


def test_a_black_frame_comes_first_as_not_a_face(faces_root, review_model, home, tmp_path, one_torch_thread, capsys):
    """A dataset with one all-black image among faces (SFEW has twelve): "likely not a face first"
    puts it first, the "no face found" filter shows it alone, and both CSVs (the window's export
    and fer-train issues) say why; the label-issue order is not where it is found."""
    from fer_desktop.review_io import export_csv, open_session
    from trainer.cli import main

    root, black, *_copies = with_extras(faces_root, tmp_path)
    session = open_session(DatasetRequest(str(root), model=str(review_model)), cache_dir=tmp_path / "predictions")
    i = session.index[black]
    assert session.view(sort="not_a_face")[0] == i
    # Generated faces the detector misses are "no face found" too; only the black one is blank.
    missing = session.view(Filter(face=False), sort="id").tolist()
    assert i in missing and missing == np.flatnonzero(session.face_missing).tolist()
    assert sorted(missing + session.view(Filter(face=True)).tolist()) == list(range(len(session)))
    rows = list(csv.DictReader(export_csv(session, tmp_path / "ranked.csv").open()))
    by_id = {r["id"]: r for r in rows}
    assert by_id[black]["face_doubts"].startswith("blank image")
    assert float(by_id[black]["not_a_face"]) == max(float(r["not_a_face"]) for r in rows)
    assert not any("blank" in r["face_doubts"] for r in rows if r["id"] != black)

    out = tmp_path / "issues.csv"
    assert main(["issues", str(root), "--split", "Train+Val", "--model", str(review_model), "--out", str(out),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["blank"] == 1
    cli = list(csv.DictReader(open(out, encoding="utf-8")))
    top = max(cli, key=lambda r: float(r["not_a_face"]))
    assert top["id"] == black and top["face_doubts"] == by_id[black]["face_doubts"]
    # The same signals in both: the window's and the command's not-a-face scores agree.
    assert {r["id"]: round(float(r["not_a_face"]), 3) for r in cli} == {
        r["id"]: round(float(r["not_a_face"]), 3) for r in rows}


def test_the_suggestion_table_counts_by_hand():
    """bench/label_assist.py's table on four faces counted by hand (the unlabelled one left out)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from label_assist import suggestion_table

    rows = suggestion_table(np.array([0, 1, 2, -1]), np.array([0, 2, 2, 1]), np.array([0.9, 0.8, 0.5, 0.99]),
                            shares=(1.0, 0.5, 0.25))
    assert [(r["taken"], r["by_hand"], r["lowest_confidence"]) for r in rows] == [(3, 0, 0.5), (2, 1, 0.8), (1, 2, 0.9)]
    assert [r["accuracy"] for r in rows] == pytest.approx([2 / 3, 0.5, 1.0])
    assert [r["set_error"] for r in rows] == pytest.approx([1 / 3, 1 / 3, 0.0])


def test_the_headline_says_how_far_down_the_flagged_faces_the_checking_has_come(tmp_path):
    s = small_session(tmp_path)
    s.flagged[[1, 4, 6]] = True  # as if cleanlab flagged three
    s.relabel("s04", s.given_name(4))  # flagged, confirmed
    s.exclude("s06")  # flagged, excluded
    s.relabel("s00", "sad")  # not flagged: relabelled, not counted among the flagged
    assert "labels with 1 correction, 1 confirmed, 1 excluded; 2 of 3 flagged checked" in s.summary()["headline"]


def test_each_face_says_who_changed_it_last_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "ann")
    monkeypatch.setenv("LOGNAME", "ann")
    s = small_session(tmp_path)
    assert s.last_change(1) is None
    r = s.relabel("s01", "sad")
    assert r["user"] == "ann" and s.last_change(1).startswith("relabelled sad by ann, 20")
    s.relabel("s02", "fear")  # its given label
    s.exclude("s03")
    [undone] = s.undo(r)
    assert s.last_change(1).startswith("withdrawn: untouched (undo) by ann")
    again = small_session(tmp_path)  # read back from the journal
    assert [again.last_change(i).split(" by ")[0] for i in (1, 2, 3)] == [
        "withdrawn: untouched (undo)", "confirmed fear", "excluded (not a face)"]
    assert again.last_change(0) is None


def test_another_annotators_journal_is_imported_newest_first_and_undone_in_one_step(tmp_path, monkeypatch):
    """Ann and Bob label the same data in their own journals; Ann imports Bob's: his changes
    arrive under his name, except where Ann changed the face after him; ids and classes her
    data lacks are counted, not applied; one undo takes the import back."""
    import time as clock

    mine, bob = ann_and_bob(tmp_path)
    mine.relabel("s01", "sad")  # ann first ...
    clock.sleep(0.01)
    bob.relabel("s01", "angry")  # ... bob later: his wins
    bob.exclude("s03")
    bob.relabel("s05", "happy")
    clock.sleep(0.01)
    mine.relabel("s05", "surprise")  # ann after bob: hers stays
    bob.journal.set("nobody.png", "sad", user="bob")
    bob.journal.set("s06", "contempt", user="bob")  # not one of this data's classes
    records, counts = mine.import_journal(bob.journal.path)
    assert counts == {"taken": 2, "kept": 1, "not_here": 1, "unusable": 1}
    assert (mine.state_of(1), mine.state_of(3), mine.state_of(5)) == ("angry", EXCLUDED, "surprise")
    assert {r["user"] for r in records} == {"bob"} and {r["op"] for r in records} == {"import"}
    assert mine.last_change(1).startswith("relabelled angry (import) by bob")
    assert mine.import_journal(bob.journal.path)[1]["taken"] == 0  # nothing new the second time
    mine.undo(records)
    assert (mine.state_of(1), mine.state_of(3)) == ("sad", None)
    (tmp_path / "notes.csv").write_text("id,label\ns01,happy\n")
    with pytest.raises(DataError, match="no label changes for small in it"):
        mine.import_journal(tmp_path / "notes.csv")
    with pytest.raises(DataError, match="no such journal"):
        mine.import_journal(tmp_path / "gone.jsonl")
