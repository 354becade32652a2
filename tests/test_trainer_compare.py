"""Comparing two models: hand-made predictions with known fixed / broken samples and
confusions, and ``fer-train compare`` end to end, checked against ``fer-train evaluate``
run on each model separately."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainer.cli import main
from trainer.data.relabel import RelabelJournal
from trainer.data.samples import DataError
from trainer.data.synthetic import write_class_folders, write_fer_csv
from trainer.evaluation.compare import compare_predictions, format_comparison
from trainer.evaluation.predictions import Predictions

CLASSES = ("angry", "happy", "sad")


def _pred(ids, labels, predicted, confidence=0.8):
    probs = np.full((len(ids), 3), (1 - confidence) / 2, dtype=np.float32)
    probs[np.arange(len(ids)), predicted] = confidence
    return Predictions(ids=list(ids), labels=np.array(labels), probs=probs, classes=CLASSES)


IDS = [f"s{i}" for i in range(6)]
LABELS = [0, 1, 2, 0, 1, 2]


def test_hand_made_predictions():
    old = _pred(IDS, LABELS, [0, 0, 2, 1, 1, 2])  # wrong: s1, s3
    new = _pred(IDS, LABELS, [0, 1, 2, 0, 2, 2], 0.9)  # wrong: s4
    r = compare_predictions(old, new, list(CLASSES), list(CLASSES))
    assert r["n"] == 6
    assert r["old"]["accuracy"] == pytest.approx(4 / 6) and r["new"]["accuracy"] == pytest.approx(5 / 6)
    assert r["delta"]["accuracy"] == pytest.approx(1 / 6)
    assert r["old"]["per_class_recall"] == pytest.approx({"angry": 0.5, "happy": 0.5, "sad": 1.0})
    assert r["new"]["per_class_recall"] == pytest.approx({"angry": 1.0, "happy": 0.5, "sad": 1.0})
    assert r["delta"]["per_class_recall"] == pytest.approx({"angry": 0.5, "happy": 0.0, "sad": 0.0})
    assert r["old"]["confusion"] == [[1, 1, 0], [1, 1, 0], [0, 0, 2]]
    assert r["new"]["confusion"] == [[2, 0, 0], [0, 1, 1], [0, 0, 2]]
    assert r["confusion_diff"] == [[1, -1, 0], [-1, 0, 1], [0, 0, 0]]
    assert sorted(x["id"] for x in r["fixed"]) == ["s1", "s3"]
    assert [x["id"] for x in r["broken"]] == ["s4"]
    assert r["broken"][0] == {"id": "s4", "label": "happy", "old": "happy", "old_confidence": pytest.approx(0.8),
                              "new": "sad", "new_confidence": pytest.approx(0.9),
                              "label_prob_change": pytest.approx(0.05 - 0.8)}
    text = format_comparison({"old_model": {"name": "a", "path": "a"}, "new_model": {"name": "b", "path": "b"},
                              "sets": [{"role": "validation", "name": "toy", **r}]})
    assert "fixed: 2" in text and "broken: 1" in text and "+16.7" in text


def test_alignment_and_unlabelled_samples():
    old = _pred(IDS, LABELS, [0, 0, 2, 1, 1, 2])
    order = [5, 4, 3, 2, 1, 0]
    new = _pred([IDS[i] for i in order] + ["extra"], [LABELS[i] for i in order] + [1],
                [[0, 1, 2, 0, 2, 2][i] for i in order] + [1])
    r = compare_predictions(old, new, list(CLASSES), list(CLASSES))
    assert r["n"] == 6 and sorted(x["id"] for x in r["fixed"]) == ["s1", "s3"]
    assert any("only the new one saw" in n for n in r["notes"])

    unlabelled = _pred(IDS, [0, -1, 2, 0, -1, 2], [0, 0, 2, 1, 1, 2])
    r = compare_predictions(unlabelled, _pred(IDS, [0, -1, 2, 0, -1, 2], [0, 1, 2, 0, 2, 2]),
                            list(CLASSES), list(CLASSES))
    assert r["n"] == 4 and [x["id"] for x in r["fixed"]] == ["s3"] and r["broken"] == []


def test_refuses_different_labels_and_restricts_to_the_models_classes():
    with pytest.raises(DataError, match="different labels"):
        compare_predictions(_pred(IDS, LABELS, LABELS), _pred(IDS, [1] * 6, LABELS), list(CLASSES), list(CLASSES))
    # a model without "sad": its sad-looking answers count as its best other class, so the
    # sad samples it could never get right are fixed by a model that has the class
    old = _pred(IDS, LABELS, [0, 1, 2, 0, 1, 2])
    old.probs[:, 1] += 0.01  # second choice: happy
    r = compare_predictions(old, _pred(IDS, LABELS, [0, 1, 2, 0, 1, 2]), ["angry", "happy"], list(CLASSES))
    assert r["old"]["classes"] == ["angry", "happy"] and r["old"]["n"] == 4 and r["confusion_diff"] is None
    assert [(x["id"], x["old"]) for x in r["fixed"]] == [("s2", "happy"), ("s5", "happy")] and r["broken"] == []


@pytest.fixture
def two_models(tmp_path, monkeypatch, one_torch_thread):
    from trainer.classes import BASIC_CLASSES
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model

    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))
    paths = []
    for seed in (0, 1):
        import torch

        torch.manual_seed(seed)
        model, _ = create_model("timm:test_resnet", 4, pretrained=False)
        card = ModelCard(name=f"m{seed}", backbone="timm:test_resnet", classes=list(BASIC_CLASSES[:4]),
                         input_size=32, mean=[0.5], std=[0.5],
                         preprocessing={"faces": "crops", "grey": True, "crop_size": 40, "mode": "none"})
        paths.append(save_model(model, card, tmp_path / f"m{seed}")[0])
    return paths


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_command_agrees_with_evaluate(tmp_path, capsys, two_models):
    root = write_class_folders(tmp_path / "target", 6, splits=["Train", "Val"], size=40)
    fer = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 8, "PrivateTest": 16})
    journal = RelabelJournal(tmp_path / "j.jsonl", dataset="target")
    journal.set("Val/Angry/000.png", "happy", previous="angry")
    journal.set("Val/Angry/001.png", "not-a-face", previous="angry")
    old, new = two_models
    code, out, err = _run(capsys, "compare", old, new, "--data", root, "--relabels", tmp_path / "j.jsonl",
                          "--test", f"{fer}#PrivateTest", "--json")
    assert code == 0, err
    result = json.loads(out)
    val, test = result["sets"]
    assert (val["name"], val["n"], val["relabelled"], val["excluded"]) == ("target/Val", 23, 1, 1)
    assert test["relabels"] is None and test["n"] == 16
    for key, path in (("old", old), ("new", new)):
        code, out, err = _run(capsys, "evaluate", "--model", path, "--data", root, "--split", "Val",
                              "--relabels", tmp_path / "j.jsonl", "--json")
        assert code == 0, err
        alone = json.loads(out)
        assert val[key]["accuracy"] == pytest.approx(alone["accuracy"])
        assert val[key]["confusion"] == alone["confusion"]
    gained = round((val["new"]["accuracy"] - val["old"]["accuracy"]) * val["n"])
    assert len(val["fixed"]) - len(val["broken"]) == gained
    code, out, _ = _run(capsys, "compare", "--list", "2", old, new, "--data", root)
    assert code == 0 and "== validation: target/Val (n=24)" in out and "difference (new - old)" in out


def test_compare_user_errors(tmp_path, capsys, two_models):
    old, new = two_models
    code, _, err = _run(capsys, "compare", old, tmp_path / "absent", "--data", tmp_path)
    assert code == 2 and "model card not found" in err and "Traceback" not in err
    code, _, err = _run(capsys, "compare", old, new, "--data", tmp_path, "--relabels", tmp_path / "none.jsonl")
    assert code == 2 and "relabel journal not found" in err


def test_compare_on_the_fold_a_run_held_out(tmp_path, capsys, two_models):
    """Data without a Val split: a run validates on fold 0 of 5 of it (after the journal) and
    compare --val-fold 0/5 scores the same faces: 10 a class, one angry face relabelled happy,
    so the fold holds 2 + 2 + 2 + 3 (every 5th of each class, counted by hand)."""
    root = write_class_folders(tmp_path / "flat", 10, size=40)
    RelabelJournal(tmp_path / "j.jsonl", dataset="flat").set("Angry/000.png", "happy", previous="angry")
    old, new = two_models
    code, out, err = _run(capsys, "compare", old, new, "--data", root, "--relabels", tmp_path / "j.jsonl",
                          "--val-fold", "0/5", "--json")
    assert code == 0, err
    val = json.loads(out)["sets"][0]
    assert val["n"] == 9 and val["name"] == "flat[fold0of5]" and val["relabelled"] == 1
    code, _, err = _run(capsys, "train", "--data", root, "--relabels", tmp_path / "j.jsonl", "--val-fold", "0/5",
                        "--faces", "none", "--crop-size", "40", "--model", "timm:test_resnet", "--no-pretrained",
                        "--input-size", "32", "--epochs", "1", "--batch-size", "8", "--out", tmp_path / "run")
    assert code == 0, err
    described = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert (described["val_samples"], described["train_samples"]) == (9, 31)
    with pytest.raises(SystemExit) as usage:  # argparse's own exit: a usage line, status 2
        _run(capsys, "compare", old, new, "--data", root, "--val-fold", "5/5")
    assert usage.value.code == 2 and "need N >= 2 and 0 <= K < N" in capsys.readouterr().err
