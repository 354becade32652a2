"""SampleSet.split_fold: the held-out folds partition the set, keep its class mix and depend on
the sample ids alone."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import DataError, SampleSet, film_of


def _set(order: np.ndarray) -> SampleSet:
    labels = np.repeat(np.arange(7), [50, 10, 20, 90, 40, 30, 60])[order]
    ids = [f"img{i:03d}" for i in order]
    return SampleSet(ids, np.zeros((len(ids), 8, 8), np.uint8), labels.astype(np.int64), BASIC_CLASSES, name="s")


def test_folds_partition_the_set_stratified_and_fixed_by_id():
    n = 300
    s = _set(np.arange(n))
    held = [s.split_fold(k, 5)[1] for k in range(5)]
    assert sorted(i for h in held for i in h.ids) == sorted(s.ids)  # every sample held out exactly once
    for h in held:
        assert np.array_equal(np.bincount(h.labels, minlength=7), [10, 2, 4, 18, 8, 6, 12])
    rest, fold = s.split_fold(2, 5)
    assert not set(rest.ids) & set(fold.ids) and len(rest) + len(fold) == n
    shuffled = _set(np.random.default_rng(0).permutation(n))  # the same samples in another order
    assert sorted(shuffled.split_fold(2, 5)[1].ids) == sorted(fold.ids)


@pytest.mark.parametrize("fold, folds", [(5, 5), (-1, 5), (0, 1)])
def test_impossible_folds_are_refused(fold, folds):
    with pytest.raises(DataError):
        _set(np.arange(300)).split_fold(fold, folds)


@pytest.mark.parametrize("sample_id, film", [
    ("Train/Happy/Juno_000123_00000004.png", "Juno"),
    ("Val/Sad/The_Hangover_2_001942320_00000012.png", "The_Hangover_2"),  # the film's name has numbers
    ("Train/Happy/IMG1234.jpg", "Train/Happy/IMG1234.jpg"),  # not a film frame: its own film
    ("fer2013:17", "fer2013:17"),
])
def test_the_film_of_a_frame_is_its_name_before_the_frame_and_face_numbers(sample_id, film):
    assert film_of(sample_id) == film


def _films(order: np.ndarray) -> SampleSet:
    """24 films of 10 frames each; each film mostly one class, as a scene is."""
    labels = (np.arange(240) // 10 + (np.arange(240) % 10 == 0)) % 7
    ids = [f"Train/x/film{i // 10:02d}_{1000 + i:06d}_{i % 3:08d}.png" for i in range(240)]
    return SampleSet([ids[i] for i in order], np.zeros((240, 8, 8), np.uint8), labels[order].astype(np.int64),
                     BASIC_CLASSES, name="s")


def test_folds_by_film_never_split_a_film_and_depend_on_the_ids_alone():
    s = _films(np.arange(240))
    held = [s.split_fold(k, 5, by="film")[1] for k in range(5)]
    assert sorted(i for h in held for i in h.ids) == sorted(s.ids)
    for k, h in enumerate(held):
        rest, _ = s.split_fold(k, 5, by="film")
        assert not {film_of(i) for i in h.ids} & {film_of(i) for i in rest.ids}
        assert 30 <= len(h) <= 60 and h.name == f"s[fold{k}of5-films]"
    by_sample = s.split_fold(0, 5)[1]
    assert {film_of(i) for i in by_sample.ids} & {film_of(i) for i in s.split_fold(0, 5)[0].ids}  # what film folds avoid
    shuffled = _films(np.random.default_rng(1).permutation(240))
    assert sorted(shuffled.split_fold(3, 5, by="film")[1].ids) == sorted(held[3].ids)


def test_folds_by_film_need_a_film_for_every_fold_and_a_known_unit():
    few = _films(np.arange(240)).subset(np.arange(40))  # 4 films
    with pytest.raises(DataError, match="4 films for 5 folds"):
        few.split_fold(0, 5, by="film")
    with pytest.raises(DataError, match="folds by 'movie'"):
        few.split_fold(0, 2, by="movie")


def test_fold_scores_score_saved_predictions_on_the_folds_a_run_holds_out():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from fold_scores import scores_of_predictions

    s = _films(np.random.default_rng(2).permutation(240))
    probs = np.eye(7, dtype=np.float32)[s.labels]
    wrong = np.array([film_of(i) == "film03" for i in s.ids])  # one film's frames all misread
    probs[wrong] = np.roll(probs[wrong], 1, axis=1)
    result = scores_of_predictions(np.array(s.ids), s.labels, probs, s.classes, 5, "film")
    scores = result.accuracies
    assert result.confusion.sum() == 240  # every face is held out once
    for k, score in enumerate(scores):
        held = s.split_fold(k, 5, by="film")[1]
        misread = sum(film_of(i) == "film03" for i in held.ids)
        assert score == pytest.approx(1 - misread / len(held))
    assert sum(score < 1 for score in scores) == 1  # the film sits in one fold only


def test_fold_scores_take_each_fold_from_its_own_predictions_file(tmp_path):
    # An ensemble of fold runs has no metrics.json: file K (a model that never saw fold K) is
    # scored on fold K alone, whatever it says about the other folds.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from fold_scores import scores_of_fold_predictions

    s = _films(np.random.default_rng(3).permutation(240))
    right = np.eye(7, dtype=np.float32)[s.labels]
    files = []
    for k in range(5):
        probs = np.roll(right, 1, axis=1)  # wrong everywhere ...
        held = np.isin(s.ids, s.split_fold(k, 5, by="film")[1].ids)
        probs[held] = right[held] if k != 2 else probs[held]  # ... but on its own fold, except file 2
        files.append(tmp_path / f"fold{k}.npz")
        np.savez(files[-1], ids=np.array(s.ids), labels=s.labels, probs=probs, classes=np.array(s.classes))
    assert scores_of_fold_predictions(files, "film").accuracies == [1, 1, 0, 1, 1]
    np.savez(files[4], ids=np.array(s.ids)[::-1], labels=s.labels[::-1], probs=right, classes=np.array(s.classes))
    with pytest.raises(SystemExit, match="not the same samples"):
        scores_of_fold_predictions(files, "film")


def _fold_run(root, fold: int, folds: int, correct: int, total: int, fold_by: str = "film"):
    """A cascade folder as a fold run leaves it: stage 2's config.json and metrics.json."""
    import json

    stage = root / f"run{fold}" / "2-sfew"
    stage.mkdir(parents=True)
    (stage / "config.json").write_text(json.dumps({"data": {"val_fold": [fold, folds], "fold_by": fold_by}}))
    confusion = np.zeros((7, 7), int)
    confusion[0, 0], confusion[0, 1] = correct, total - correct  # every face angry, `correct` read so
    (stage / "metrics.json").write_text(json.dumps({"val": {
        "accuracy": correct / total, "confusion": confusion.tolist(), "classes": list(BASIC_CLASSES)}}))
    return root / f"run{fold}"


def test_fold_scores_of_a_stage_2_need_one_run_for_every_fold(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from fold_scores import scores_of_runs

    runs = [_fold_run(tmp_path, k, 3, correct, 10) for k, correct in enumerate([4, 6, 8])]
    scores, by = scores_of_runs(runs[::-1])  # any order: each run says which fold it held out
    assert by == "film" and scores.accuracies == [0.4, 0.6, 0.8]
    assert scores.mean == pytest.approx(0.6) and scores.recall()["angry"] == pytest.approx(18 / 30)
    with pytest.raises(SystemExit, match=r"folds \[2\] of 3 have no run"):
        scores_of_runs(runs[:2])
    with pytest.raises(SystemExit, match="fold 1 given twice"):
        scores_of_runs([runs[0], runs[1], runs[1]])
    other = _fold_run(tmp_path / "by-sample", 2, 3, 5, 10, fold_by="sample")
    with pytest.raises(SystemExit, match="cut SFEW Train differently"):
        scores_of_runs([runs[0], runs[1], other])
