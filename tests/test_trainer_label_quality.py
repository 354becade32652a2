"""Per-sample predictions and label-issue ranking: scores find labels known to be wrong,
predictions round-trip and cache, and ``fer-train issues`` / ``evaluate --predictions``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import DataError, SampleSet
from trainer.evaluation.label_quality import (ambiguity, disagreement_scores, find_issues, label_quality_scores,
                                              out_of_fold_probs, rank, score_labels, vote_entropy)
from trainer.evaluation.predictions import Cancelled, Predictions, cached_predict, predict_samples


def _blobs(n_per_class=80, classes=4, flip=0.1, seed=0):
    """Embeddings in well-separated clusters with a known fraction of labels flipped."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(classes, 16))
    true = np.repeat(np.arange(classes), n_per_class)
    x = centres[true] + rng.normal(0, 1, size=(len(true), 16))
    given = true.copy()
    flipped = rng.choice(len(true), int(flip * len(true)), replace=False)
    given[flipped] = (true[flipped] + rng.integers(1, classes, len(flipped))) % classes
    return x.astype(np.float32), given, flipped


def test_out_of_fold_scores_find_flipped_labels():
    x, given, flipped = _blobs()
    probs = out_of_fold_probs(x, given, folds=5, seed=0)
    assert probs.shape == (len(given), 4) and np.allclose(probs.sum(axis=1), 1)
    order = rank(label_quality_scores(given, probs))
    top = set(order[: len(flipped)].tolist())
    # The head never saw a sample's own label: the flipped ones sink to the bottom of the scores.
    assert len(top & set(flipped.tolist())) >= 0.9 * len(flipped)


def test_a_memorising_model_hides_errors_that_out_of_fold_scores_find():
    """In-sample probabilities that copy the given labels rate every label as right."""
    x, given, flipped = _blobs(seed=1)
    memorised = np.eye(4)[given] * 0.9 + 0.025
    in_sample = rank(label_quality_scores(given, memorised))[: len(flipped)]
    out_of_fold = rank(label_quality_scores(given, out_of_fold_probs(x, given)))[: len(flipped)]
    hits = lambda idx: len(set(idx.tolist()) & set(flipped.tolist()))  # noqa: E731
    assert hits(out_of_fold) > 3 * max(1, hits(in_sample))


def test_scores_rank_unlabelled_last_and_baselines():
    labels = np.array([0, 1, -1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])
    scores = label_quality_scores(labels, probs)
    assert np.isnan(scores[2]) and scores[1] < scores[0] and scores[1] < scores[3]
    assert list(rank(scores)) == [1, 0, 3]
    assert list(disagreement_scores(labels, probs)[[0, 1, 3]]) == [1, 0, 1]
    with pytest.raises(DataError):
        label_quality_scores(np.array([0, 5]), probs[:2])
    with pytest.raises(DataError):
        label_quality_scores(np.array([0, 1]), np.array([[np.nan, 1.0], [0.5, 0.5]]))


def test_ambiguity_and_vote_entropy():
    assert np.allclose(ambiguity(np.array([[1.0, 0, 0, 0], [0.25] * 4])), [0, 1], atol=1e-6)
    votes = np.array([[10, 0, 0], [5, 5, 0], [0, 0, 0]])
    entropy = vote_entropy(votes)
    assert entropy[0] == pytest.approx(0, abs=1e-6) and entropy[1] == pytest.approx(np.log(2) / np.log(3))
    assert np.isnan(entropy[2])


def test_predictions_round_trip_and_reject_garbage(tmp_path):
    pred = Predictions(ids=["a", "b"], labels=np.array([0, -1]), probs=np.array([[0.7, 0.3], [0.4, 0.6]]),
                       classes=("happy", "sad"), embeddings=np.ones((2, 3)), splits=np.array(["Train", "Val"]),
                       meta={"model": "m"})
    back = Predictions.load(pred.save(tmp_path / "p.npz"))
    assert back.ids == ["a", "b"] and back.classes == ("happy", "sad") and back.meta == {"model": "m"}
    assert list(back.predicted) == [0, 1] and np.allclose(back.confidence, [0.7, 0.6])
    assert list(back.splits) == ["Train", "Val"] and back.embeddings.shape == (2, 3)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError):
        Predictions.load(tmp_path / "bad.npz")
    with pytest.raises(DataError):
        Predictions(ids=["a"], labels=np.array([0, 1]), probs=np.zeros((1, 2)), classes=("x", "y"))


@pytest.fixture
def tiny_model(one_torch_thread):
    from trainer.models.card import ModelCard
    from trainer.models.registry import create_model

    model, _ = create_model("timm:test_resnet", 4, pretrained=False)
    card = ModelCard(name="tiny", backbone="timm:test_resnet", classes=list(BASIC_CLASSES[:4]), input_size=32,
                     mean=[0.5], std=[0.5])
    return model, card


def _set(n=40, classes=BASIC_CLASSES[:4]):
    rng = np.random.default_rng(0)
    return SampleSet(ids=[f"s{i}" for i in range(n)], images=rng.integers(0, 255, (n, 48, 48), dtype=np.uint8),
                     labels=np.arange(n) % len(classes), classes=tuple(classes), name="toy")


def test_predict_samples_progress_embeddings_classes_and_cancel(tiny_model):
    model, card = tiny_model
    seen = []
    pred = predict_samples(model, card, _set(), batch_size=16, embeddings=True,
                           progress=lambda done, total: seen.append((done, total)))
    assert seen == [(16, 40), (32, 40), (40, 40)]
    assert pred.probs.shape == (40, 4) and np.allclose(pred.probs.sum(axis=1), 1, atol=1e-5)
    assert pred.embeddings.shape[0] == 40 and pred.embeddings.shape[1] > 0
    # Data with a class the model lacks: that column is 0, the others renormalised.
    wider = _set(classes=BASIC_CLASSES[:5])
    pred5 = predict_samples(model, card, wider, batch_size=64)
    assert np.all(pred5.probs[:, 4] == 0) and np.allclose(pred5.probs.sum(axis=1), 1, atol=1e-5)
    asked = []
    with pytest.raises(Cancelled):  # asked before every batch: the second ask stops it
        predict_samples(model, card, _set(), batch_size=16, cancelled=lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2


def test_cached_predict_reuses_and_rebuilds(tiny_model, tmp_path):
    model, card = tiny_model
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(b"stand-in: the cache key reads the file's stamp")
    samples = _set()
    first, hit, _ = cached_predict(weights, model, card, samples, "toy", cache_dir=tmp_path / "c")
    assert not hit
    again, hit, _ = cached_predict(weights, model, card, samples, "toy", cache_dir=tmp_path / "c")
    assert hit and np.allclose(again.probs, first.probs)
    relabelled = SampleSet(ids=samples.ids, images=samples.images, labels=(samples.labels + 1) % 4,
                           classes=samples.classes, name="toy")
    again, hit, _ = cached_predict(weights, model, card, relabelled, "toy", cache_dir=tmp_path / "c")
    assert hit and list(again.labels) == list(relabelled.labels)  # labels come from the data, not the cache
    for f in (tmp_path / "c").glob("*.npz"):
        f.write_bytes(b"garbage")
    again, hit, _ = cached_predict(weights, model, card, samples, "toy", cache_dir=tmp_path / "c")
    assert not hit and np.allclose(again.probs, first.probs)  # a broken entry is rebuilt, not fatal


@pytest.mark.slow
def test_issues_cli_ranks_corrupted_labels_first(tmp_path, capsys, monkeypatch, one_torch_thread):
    """Train a tiny model on clean folders, corrupt 8 labels through a journal, and the ranking
    (out-of-fold on the model's embeddings) puts them first. Forced: ``auto`` would score Val,
    which the model never saw, with its own probabilities, and after 4 epochs this one cannot
    tell some classes at all; a head on its embeddings can."""
    from trainer.cli import main
    from trainer.data.relabel import RelabelJournal
    from trainer.data.synthetic import write_class_folders

    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))
    data = write_class_folders(tmp_path / "toyset", 30, splits=["Train", "Val"])
    code = main(["train", "--data", f"{data}#Train", "--val", f"{data}#Val", "--faces", "none",
                 "--model", "timm:test_resnet", "--no-pretrained", "--input-size", "32", "--batch-size", "32",
                 "--epochs", "4", "--preset", "modern", "--out", str(tmp_path / "run")])
    assert code == 0
    capsys.readouterr()
    files = sorted(p.relative_to(data).as_posix() for p in (data / "Val").rglob("*.png"))
    rng = np.random.default_rng(3)
    corrupted = [files[i] for i in rng.choice(len(files), 8, replace=False)]
    journal = RelabelJournal(tmp_path / "j.jsonl", dataset="toyset")
    for sample_id in corrupted:
        true = sample_id.split("/")[1].lower()
        journal.set(sample_id, next(c for c in BASIC_CLASSES[:4] if c != true))
    out = tmp_path / "ranked.csv"
    code = main(["issues", str(data), "--split", "Val", "--model", str(tmp_path / "run" / "model"),
                 "--relabels", str(journal.path), "--out", str(out), "--json", "--probs", "out-of-fold"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert len(rows) == summary["ranked"] == 120 and list(rows[0]) == [
        "rank", "id", "path", "split", "given", "predicted", "confidence", "score", "ambiguity", "flagged",
        "not_a_face", "face_doubts", "copies"]
    top = {r["id"] for r in rows[:8]}
    assert len(top & set(corrupted)) >= 6, (top, corrupted)
    assert (data / rows[0]["id"]).as_posix() == rows[0]["path"].replace("\\", "/") or rows[0]["path"].endswith(rows[0]["id"])
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores)

    code = main(["evaluate", "--model", str(tmp_path / "run" / "model"), "--data", str(data), "--split", "Val",
                 "--predictions", str(tmp_path / "pred.npz"), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    pred = Predictions.load(tmp_path / "pred.npz")
    assert len(pred) == result["n"] == 120 and pred.embeddings is not None
    assert pred.meta["root"] and (tmp_path / "toyset").resolve().as_posix() in pred.meta["root"].replace("\\", "/")
    assert np.mean(pred.predicted == pred.labels) == pytest.approx(result["accuracy"])


def test_auto_scores_out_of_fold_only_where_the_model_memorised():
    x, given, flipped = _blobs(seed=2)
    memorised = Predictions(ids=[str(i) for i in range(len(given))], labels=given,
                            probs=np.eye(4)[given] * 0.9 + 0.025, classes=tuple(BASIC_CLASSES[:4]), embeddings=x)
    found = find_issues(memorised)  # 100% on its labels vs ~90% for the head: memorised
    assert found.out_of_sample and found.memorisation_gap > 0.05
    assert len(set(found.order[: len(flipped)].tolist()) & set(flipped.tolist())) >= 0.9 * len(flipped)
    honest_probs = out_of_fold_probs(x, given, seed=5)  # as accurate as the head: its own are used
    honest = Predictions(ids=memorised.ids, labels=given, probs=honest_probs, classes=memorised.classes, embeddings=x)
    found = find_issues(honest)
    assert not found.out_of_sample and abs(found.memorisation_gap) <= 0.05
    assert np.allclose(found.probs, honest_probs.astype(np.float32))


def test_score_labels_goes_out_of_fold_only_for_memorised_samples_it_was_trained_on():
    x, given, flipped = _blobs(seed=4)
    n = len(given)
    trained = np.arange(n) % 2 == 0  # the model saw every other sample
    # It learnt the labels it saw by heart (100%, flipped ones too) and rates the others honestly.
    honest = out_of_fold_probs(x, given, seed=7)
    probs = np.where(trained[:, None], np.eye(4)[given] * 0.9 + 0.025, honest)
    pred = Predictions(ids=[str(i) for i in range(n)], labels=given, probs=probs, classes=tuple(BASIC_CLASSES[:4]),
                       embeddings=x)
    found = score_labels(pred, trained)
    assert np.array_equal(found.out_of_sample, trained) and found.memorisation_gap > 0.05
    own = find_issues(pred, out_of_sample=False)
    assert np.allclose(found.scores[~trained], own.scores[~trained])  # never seen: its own probabilities
    # The memorised half's flipped labels are found anyway: they are scored by the head.
    flipped_seen = [i for i in flipped if trained[i]]
    top = set(found.order[: len(flipped)].tolist())
    assert len(top & set(flipped_seen)) >= 0.8 * len(flipped_seen)
    # Unseen data keeps the model's own probabilities, whatever the head would say.
    nothing = score_labels(pred, np.zeros(n, bool))
    assert not nothing.out_of_sample.any() and np.allclose(nothing.scores, own.scores)
    # Seen but not memorised (as accurate as the head): its own probabilities too.
    fair = Predictions(ids=pred.ids, labels=given, probs=honest, classes=pred.classes, embeddings=x)
    assert not score_labels(fair, np.ones(n, bool)).out_of_sample.any()


def test_extra_views_rescore_only_the_likeliest_errors_and_round_trip(tiny_model, tmp_path):
    from trainer.evaluation.views import VIEWS, View

    model, card = tiny_model
    samples = _set(n=40)
    pred = predict_samples(model, card, samples, batch_size=16, views=True)
    again = np.isfinite(pred.view_probs).all(axis=1)
    assert again.sum() == 40  # fewer labelled samples than MIN_CANDIDATES: all of them
    own = pred.probs[np.arange(40), pred.labels]
    assert np.allclose(pred.view_probs.sum(axis=1), 1, atol=1e-5)
    assert not np.allclose(pred.view_probs, pred.probs)  # the views did change something
    loaded = Predictions.load(pred.save(tmp_path / "p.npz"))
    assert np.array_equal(loaded.view_probs, pred.view_probs, equal_nan=True)
    # Only the lowest share is re-scored when there are more samples than the minimum.
    from trainer.evaluation import views

    picked = views.candidates(np.concatenate([own, np.full(5, np.nan)]), share=0.25, minimum=3)
    assert len(picked) == 10 and set(picked) == set(np.argsort(own)[:10]) and picked.max() < 40
    # An identity view reproduces the plain probabilities: the averaging itself adds nothing.
    same = views.view_probs(lambda crops: predict_samples(model, card, SampleSet(
        ids=[str(i) for i in range(len(crops))], images=crops, labels=np.zeros(len(crops), int),
        classes=samples.classes, name="v"), views=False).probs, list(samples.images), pred.probs, views=[View()])
    assert np.allclose(same, pred.probs, atol=1e-6)
    assert len(VIEWS) == 8 and all(v != View() for v in VIEWS)


def test_find_issues_scores_rescored_samples_from_their_views():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.45, 0.55], [0.4, 0.6], [0.1, 0.9], [0.2, 0.8]])
    pred = Predictions(ids=list("abcd"), labels=labels, probs=probs, classes=("a", "b"))
    assert list(find_issues(pred, out_of_sample=False).order[:2]) == [1, 0]
    # Seen again from more views, sample 1 looks right after all and sample 0 more wrong.
    view = np.full(probs.shape, np.nan)
    view[0], view[1] = [0.2, 0.8], [0.95, 0.05]
    pred.view_probs = view
    found = find_issues(pred, out_of_sample=False)
    assert list(found.order) == [0, 3, 2, 1]


def test_progress_counts_both_passes_under_one_total(tiny_model):
    from trainer.evaluation.views import VIEWS

    model, card = tiny_model
    seen = []
    predict_samples(model, card, _set(n=40), batch_size=16, views=True, progress=lambda d, t: seen.append((d, t)))
    total = 40 + len(VIEWS) * 40  # 40 labelled, fewer than the minimum: all re-scored
    assert {t for _, t in seen} == {total}
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == total


def test_a_label_the_model_cannot_predict_is_not_scored():
    """FER+'s contempt under a 7-class model: its column is 0, so self-confidence would put
    every contempt face first as a 'likely error'; it is left unscored and unflagged instead."""
    x, given, flipped = _blobs(seed=5)
    classes = tuple(BASIC_CLASSES[:4])
    probs = out_of_fold_probs(x, given, seed=1)
    probs[:, 3] = 0.0  # the model has no class 3
    probs /= probs.sum(axis=1, keepdims=True)
    pred = Predictions(ids=[str(i) for i in range(len(given))], labels=given, probs=probs, classes=classes,
                       embeddings=x, meta={"model_classes": list(classes[:3])})
    assert pred.model_lacks.tolist() == [False, False, False, True]
    lacked = given == 3
    for found in (find_issues(pred, out_of_sample=False), find_issues(pred, out_of_sample=True)):
        assert np.isnan(found.scores[lacked]).all() and not found.is_issue[lacked].any()
        assert not np.isnan(found.scores[~lacked]).any()
        assert set(found.order.tolist()) == set(np.flatnonzero(~lacked).tolist())
    # Unrecorded model classes (predictions made by hand, older files): every label is scored.
    pred.meta = {}
    assert not np.isnan(find_issues(pred, out_of_sample=False).scores).any()


def test_the_scores_say_which_probabilities_they_came_from():
    """The four cases of score_labels, and the two forced by ``fer-train issues --probs``, in words."""
    from trainer.evaluation.label_quality import IssueScores

    n = 8
    no, yes, half = np.zeros(n, bool), np.ones(n, bool), np.arange(n) >= 4

    def words(out_of_sample, trained) -> str:
        return IssueScores(np.linspace(0, 1, n), no, out_of_sample, "self_confidence", 0.01,
                           trained).which_probabilities()

    assert words(no, no).endswith("(its card says it never trained on these samples)")
    assert words(yes, yes).startswith("out-of-fold probabilities of a light head on the model's features (the model was trained on these")
    assert "trained on 8 of these samples but did not learn their labels by heart" in words(no, yes)
    assert words(half, half).startswith("out-of-fold probabilities for the 4 samples of splits the model trained on")
    assert words(no, None) == "the model's own probabilities"
    assert words(yes, None) == "out-of-fold probabilities of a light head on the model's features"
