"""``fer-train train / cascade / evaluate / predict`` end to end on tiny generated data, and
the one-line errors (exit status 2, no traceback) for mistakes a user can make."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.cli import main
from trainer.data.relabel import EXCLUDED, RelabelJournal
from trainer.data.samples import DataError
from trainer.data.synthetic import pattern_image, write_class_folders, write_fer_csv
from trainer.errors import UsageError
from trainer.training.cascade import bundled_configs, load_cascade, stage_spec

TINY = ["--model", "timm:test_resnet", "--no-pretrained", "--input-size", "32", "--batch-size", "32"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch, one_torch_thread):
    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # default run folders (runs/...) land in tmp


@pytest.fixture
def fer_csv(tmp_path) -> Path:
    return write_fer_csv(tmp_path / "data" / "fer2013" / "fer2013.csv.gz",
                         {"Training": 192, "PublicTest": 48, "PrivateTest": 48})


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for f in fragments:
        assert f in lines[0], lines[0]


def test_train_evaluate_predict(tmp_path, capsys, fer_csv):
    code, out, err = cli(capsys, "train", "--data", f"{fer_csv}#Training", "--val", f"{fer_csv}#PublicTest",
                         *TINY, "--epochs", "2", "--preset", "modern", "--out", tmp_path / "run", "--progress", "json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]  # every stdout line is one JSON object
    kinds = {e["event"] for e in events}
    assert {"stage", "epoch_start", "batch", "epoch_end", "done"} <= kinds
    assert events[-1]["event"] == "done" and 0.0 <= events[-1]["val_accuracy"] <= 1.0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"] == "fer2013/Training" and config["config"]["epochs"] == 2

    code, out, err = cli(capsys, "evaluate", "--model", tmp_path / "run" / "model", "--data", fer_csv, "--json",
                         "--plot", tmp_path / "conf.png")
    assert code == 0, err
    result = json.loads(out)  # exactly one JSON object
    assert result["split"] == "fer2013/PrivateTest" and result["n"] == 48
    assert {"accuracy", "per_class_recall", "confusion", "classes", "macro_f1", "model", "data"} <= set(result)
    assert np.array(result["confusion"]).sum() == 48 and (tmp_path / "conf.png").is_file()

    code, out, err = cli(capsys, "evaluate", "--model", tmp_path / "run" / "model.safetensors",
                         "--data", fer_csv, "--split", "PublicTest", "--record")
    assert code == 0 and "accuracy" in out and "confusion" in out
    card = json.loads((tmp_path / "run" / "model.json").read_text())  # --record wrote it into the card
    recorded = card["metrics"]["fer2013/PublicTest"]
    assert 0 <= recorded["accuracy"] <= 1 and recorded["n"] == 48 and set(recorded["per_class_recall"])
    assert recorded["command"].startswith("fer-train evaluate --data ") and "--split PublicTest" in recorded["command"]
    assert list(card["metrics"]) == ["fer2013/PublicTest"]  # replaces training's entry for the same split

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), pattern_image(1, 48, np.random.default_rng(0)))
    code, out, err = cli(capsys, "predict", "--model", tmp_path / "run" / "model", "--crops", image, "--json")
    assert code == 0, err
    answer = json.loads(out)
    probs = answer["images"][0]["faces"][0]["probs"]
    assert set(probs) == set(answer["classes"]) and sum(probs.values()) == pytest.approx(1, abs=1e-4)

    # A finished run: --resume has nothing to train; without it the folder is refused.
    code, _, err = cli(capsys, "train", "--data", f"{fer_csv}#Training", "--val", f"{fer_csv}#PublicTest",
                       *TINY, "--epochs", "2", "--preset", "modern", "--out", tmp_path / "run")
    assert_user_error(code, err, "already holds a run", "--resume")


def test_user_errors(tmp_path, capsys, fer_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n3," + " ".join(["1"] * 2304) + ",Training\n3,1 2 3,Training\n")
    code, _, err = cli(capsys, "train", "--data", bad, *TINY)
    assert_user_error(code, err, "bad.csv:3", "3 pixels, expected 2304")

    root = write_class_folders(tmp_path / "folders", 2, splits=["Train", "Val"])
    for f in (root / "Train").glob("*/*.png"):
        f.unlink()
    code, _, err = cli(capsys, "train", "--data", root, "--faces", "none", *TINY)
    assert_user_error(code, err, "Train: no images in its class folders")

    code, _, err = cli(capsys, "train", "--data", fer_csv, "--model", "resnet9000")
    assert_user_error(code, err, "unknown model 'resnet9000'")

    code, _, err = cli(capsys, "train", "--data", tmp_path / "nothing.csv", *TINY)
    assert_user_error(code, err, "not found")

    (tmp_path / "broken.safetensors").write_bytes(b"\x00garbage")
    (tmp_path / "broken.json").write_text(json.dumps({"name": "b", "backbone": "timm:test_resnet", "classes": ["a", "b"],
                                                      "input_size": 32, "mean": [0.5], "std": [0.5]}))
    code, _, err = cli(capsys, "evaluate", "--model", tmp_path / "broken", "--data", fer_csv)
    assert_user_error(code, err, "not a valid safetensors file")

    code, _, err = cli(capsys, "evaluate", "--model", tmp_path / "absent", "--data", fer_csv)
    assert_user_error(code, err, "model card not found")


def test_training_on_a_teams_votes(tmp_path, capsys):
    """--team: two annotators' journals vote with the dataset's label; most votes win, "not a
    face" from most leaves a face out, --soft-labels trains on the distribution, and the run
    says what the team changed."""
    root = write_class_folders(tmp_path / "target", 12, splits=["Train", "Val"], colour=True, size=40)
    for name in ("ann", "bob"):
        journal = RelabelJournal(tmp_path / f"{name}.jsonl")
        journal.set("Train/Angry/000.png", "happy", user=name)  # 2 votes to 1: happy
        journal.set("Val/Angry/001.png", EXCLUDED, user=name)  # 2 of 3 say no face: left out
    RelabelJournal(tmp_path / "ann.jsonl").set("Train/Angry/002.png", "sad", user="ann")  # 1 to 1: stays angry
    code, _, err = cli(capsys, "train", "--data", root, "--faces", "none", "--crop-size", "40", *TINY,
                       "--epochs", "1", "--team", tmp_path / "ann.jsonl", tmp_path / "bob.jsonl", "--soft-labels",
                       "--out", tmp_path / "run", "--freeze-backbone")
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["team"] == {"journals": [str(tmp_path / "ann.jsonl"), str(tmp_path / "bob.jsonl")],
                                      "train": 1, "val": 0}
    assert config["config"]["soft_labels"] is True and config["val_samples"] == 4 * 12 - 1
    code, out, err = cli(capsys, "evaluate", "--model", tmp_path / "run" / "model", "--data", root, "--split", "Val",
                         "--team", tmp_path / "ann.jsonl", tmp_path / "bob.jsonl", "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 4 * 12 - 1  # scored on the team's labels: its no-face left out
    code, _, err = cli(capsys, "train", "--data", root, *TINY, "--team", tmp_path / "ann.jsonl")
    assert_user_error(code, err, "a team is two or more journals")
    code, _, err = cli(capsys, "train", "--data", root, *TINY, "--team", tmp_path / "ann.jsonl", tmp_path / "cy.jsonl")
    assert_user_error(code, err, "team journal not found")


def test_folder_training_with_relabels_and_default_val(tmp_path, capsys):
    root = write_class_folders(tmp_path / "target", 12, splits=["Train", "Val"], colour=True, size=40)
    journal = RelabelJournal(tmp_path / "relabels.jsonl")
    journal.set("Train/Angry/000.png", "happy")
    journal.set("Val/Angry/000.png", "sad")
    code, _, err = cli(capsys, "train", "--data", root, "--faces", "none", "--crop-size", "40", *TINY,
                       "--epochs", "1", "--relabels", tmp_path / "relabels.jsonl", "--out", tmp_path / "run",
                       "--freeze-backbone")
    assert code == 0, err
    assert "validating on" in err  # Train for training, Val for validation without being told
    assert "backbone frozen" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["freeze_backbone"] is True
    assert (config["train"], config["val"]) == ("target/Train", "target/Val")
    assert config["data"]["relabels"]["train"] == 1 and config["data"]["relabels"]["val"] == 1
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    # "mode": the crops went in as they were; the card says so, but evaluation makes faces the
    # way the app does for what the data is (these folders declare nothing: auto) ...
    assert card["preprocessing"] == {"faces": "crops", "mode": "none", "grey": True, "crop_size": 40}
    code, out, err = cli(capsys, "evaluate", "--model", tmp_path / "run" / "model", "--data", root,
                         "--split", "Val", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["input"] == "auto" and result["preprocessing"]["faces"] == "align"
    assert sum(result["face_methods"].values()) == result["n"]
    # ... and --input none is the training protocol: the images as they are.
    code, out, err = cli(capsys, "evaluate", "--model", tmp_path / "run" / "model", "--data", root,
                         "--split", "Val", "--json", "--input", "none")
    assert code == 0, err
    assert json.loads(out)["preprocessing"]["faces"] == "crops" and "faces_found" not in json.loads(out)


def test_cascade_end_to_end(tmp_path, capsys, fer_csv):
    data = fer_csv.parents[1]
    write_class_folders(data / "sfew2", 8, splits=["Train", "Val"], size=40)
    config = tmp_path / "tiny.toml"
    config.write_text(f"""
name = "tiny"
data_root = "{data.as_posix()}"

[defaults]
model = "timm:test_resnet"
pretrained = false
input_size = 32
batch_size = 32
epochs = 3

[[stages]]
name = "fer"
train = ["fer2013/fer2013.csv.gz#Training"]
val = "fer2013/fer2013.csv.gz#PublicTest"
preset = "modern"

[[stages]]
name = "target"
variant = "sfew2"
faces = "none"
preset = "small-target"
batch_size = 16
[stages.augment]
erasing = 0.0
""")
    code, _, err = cli(capsys, "cascade", config, "--set", "epochs=1", "--set", "target.epochs=2",
                       "--out", tmp_path / "casc")
    assert code == 0, err
    out = tmp_path / "casc"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and [s["name"] for s in summary["stages"]] == ["fer", "target"]
    assert summary["stages"][1]["val"] == "sfew2/Val"
    # The file's prose does not know about --set; the record says what was overridden.
    assert json.loads((out / "cascade.json").read_text())["overrides"] == ["epochs=1", "target.epochs=2"]
    second = json.loads((out / "2-target" / "model.json").read_text())
    assert second["training"]["init_from"] == str(out / "1-fer" / "model")
    assert second["training"]["epochs_run"] == 2 and second["training"]["config"]["augment"]["erasing"] == 0.0
    assert (out / "model.safetensors").is_file() and json.loads((out / "model.json").read_text())["name"] == "target"
    for stage in ("1-fer", "2-target"):
        assert (out / stage / "confusion.png").is_file() and (out / stage / "curves.png").is_file()

    code, _, err = cli(capsys, "cascade", config, "--out", out)
    assert_user_error(code, err, "--resume")


def test_bundled_configs_resolve(tmp_path):
    names = bundled_configs()
    assert {"best.toml", "sfew-only.toml", "fer28.toml", "fer32.toml", "fer28-sfew.toml", "fer32-sfew.toml",
            "fer32+sfew.toml", "app-crops.toml"} <= set(names)
    for name in names:
        plan = load_cascade(name, data_root=tmp_path)
        previous = None
        for i, settings in enumerate(plan.stages, start=1):
            spec = stage_spec(settings, i, tmp_path / "out", plan, previous)
            previous = spec.out / "model"
            assert spec.variant or spec.train
            if i > 1:
                before = f"{i - 1}-{plan.stages[i - 2]['name']}"
                assert spec.config.init_from == str(tmp_path / "out" / before / "model")
    best = load_cascade("best")
    first = stage_spec(best.stages[0], 1, tmp_path, best, None)
    assert (first.variant, first.config.model, first.config.epochs, first.config.input_size,
            first.config.batch_size, first.config.select, first.config.optimizer) == \
        ("fer32", "efficientnet-lite0", 10, 64, 64, "last", "adamw")


def test_the_app_crops_recipe_trains_on_the_apps_faces(tmp_path):
    plan = load_cascade("app-crops", data_root=tmp_path)
    ferplus = stage_spec(plan.stages[0], 1, tmp_path, plan, None)
    sfew = stage_spec(plan.stages[1], 2, tmp_path, plan, ferplus.out / "model")
    for spec in (ferplus, sfew):
        assert spec.load.faces.mode == "crops" and spec.load.faces_on_csv and spec.load.contempt == "drop"
        assert spec.config.augment.jpeg > 0 and spec.config.augment.low_light > 0
    assert (ferplus.variant, ferplus.config.soft_labels, ferplus.config.select) == ("ferplus-votes", True, "best")
    assert ferplus.config.input_size == sfew.config.input_size == 96  # the bundled model's size
    assert sfew.no_val and sfew.load.ferplus_mode == "votes" and sfew.config.soft_labels
    assert sfew.replay == ["ferplus/fer2013new.csv#Training"] and sfew.config.class_balance == "weights"


def test_a_cascade_stage_can_choose_on_a_fold(tmp_path):
    config = tmp_path / "fold.toml"
    config.write_text('name = "f"\n[[stages]]\ntrain = ["sfew2#Train"]\nval_fold = [0, 5]\n')
    plan = load_cascade(str(config), data_root=tmp_path)
    assert stage_spec(plan.stages[0], 1, tmp_path, plan, None).val_fold == (0, 5)
    config.write_text('name = "f"\n[[stages]]\ntrain = ["sfew2#Train"]\nval_fold = [5, 5]\n')
    plan = load_cascade(str(config), data_root=tmp_path)
    with pytest.raises(DataError, match="val_fold"):
        stage_spec(plan.stages[0], 1, tmp_path, plan, None)
    config.write_text('name = "f"\n[[stages]]\ntrain = ["sfew2#Train"]\nval_fold = [0, 5]\nfold_by = "film"\n')
    plan = load_cascade(str(config), data_root=tmp_path)
    assert stage_spec(plan.stages[0], 1, tmp_path, plan, None).fold_by == "film"
    config.write_text('name = "f"\n[[stages]]\ntrain = ["sfew2#Train"]\nval_fold = [0, 5]\nfold_by = "movie"\n')
    with pytest.raises(DataError, match="fold_by"):
        load_cascade(str(config), data_root=tmp_path)
    # how to cut a fold, with no fold to cut, is refused rather than silently ignored
    config.write_text('name = "f"\n[[stages]]\ntrain = ["sfew2#Train"]\nfold_by = "film"\n')
    plan = load_cascade(str(config), data_root=tmp_path)
    with pytest.raises(UsageError, match=r"set val_fold = \[K, N\]"):
        stage_spec(plan.stages[0], 1, tmp_path, plan, None)


def test_variant_implied_settings(tmp_path):
    config = tmp_path / "votes.toml"
    config.write_text('name = "v"\n[[stages]]\nvariant = "ferplus-votes"\n[[stages]]\nvariant = "sfew2"\n'
                      'soft_labels = false\n')
    plan = load_cascade(config, data_root=tmp_path)
    first = stage_spec(plan.stages[0], 1, tmp_path, plan, None)
    assert first.config.soft_labels  # training on the vote distributions is the variant's point
    assert not stage_spec(plan.stages[1], 2, tmp_path, plan, tmp_path / "m").config.soft_labels


def test_folder_stage_with_replay(tmp_path, capsys, fer_csv):
    root = write_class_folders(tmp_path / "target", 8, splits=["Train", "Val"], size=40)
    journal = RelabelJournal(tmp_path / "relabels.jsonl")
    journal.set("fer2013:192", "sad")  # the first PublicTest row  # a FER fix made in the app reaches the replayed copy too
    code, _, err = cli(capsys, "train", "--data", root, "--faces", "none", *TINY, "--epochs", "1",
                       "--replay", f"{fer_csv}#PublicTest", "--replay-ratio", "2", "--relabels",
                       tmp_path / "relabels.jsonl", "--out", tmp_path / "run")
    assert code == 0, err
    assert "replaying fer2013/PublicTest (48)" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["stage"]["replay"] == [f"{fer_csv}#PublicTest"]
    assert config["config"]["replay_ratio"] == 2.0
    assert config["data"]["replay"] == {"name": "fer2013/PublicTest", "samples": 48, "relabelled": 1}
    code, _, err = cli(capsys, "train", "--data", root, "--faces", "none", *TINY, "--epochs", "1",
                       "--replay", tmp_path / "absent.csv", "--out", tmp_path / "run2")
    assert_user_error(code, err, "absent.csv")


def test_val_fold_chooses_on_a_fixed_fold_of_the_training_data(tmp_path, capsys):
    root = write_class_folders(tmp_path / "target", 10, splits=["Train", "Val"], colour=True, size=40)
    runs = {}
    for seed in ("0", "1"):
        code, _, err = cli(capsys, "train", "--data", f"{root}#Train", "--val-fold", "1/5", "--faces", "none",
                           "--crop-size", "40", *TINY, "--epochs", "1", "--seed", seed, "--out", tmp_path / seed)
        assert code == 0, err
        runs[seed] = json.loads((tmp_path / seed / "config.json").read_text())
    config = runs["0"]
    # 10 images in each of 4 classes: 2 of each held out, the same ones whatever the seed.
    assert (config["train_samples"], config["val_samples"]) == (32, 8)
    assert config["val"] == "target/Train[fold1of5]" and config["train"] == "target/Train[-fold1of5]"
    assert runs["1"]["val"] == config["val"] and config["data"]["val_fold"] == [1, 5]
    with pytest.raises(SystemExit) as exit_:
        cli(capsys, "train", "--data", f"{root}#Train", "--val-fold", "5/5", *TINY)
    assert exit_.value.code == 2 and "0 <= K < N" in capsys.readouterr().err
    code, _, err = cli(capsys, "train", "--data", f"{root}#Train", "--val-fold", "0/5", "--no-val", *TINY)
    assert_user_error(code, err, "--val-fold")
    code, _, err = cli(capsys, "train", "--data", f"{root}#Train", "--fold-by", "film", *TINY)
    assert_user_error(code, err, "'film' (--fold-by)", "--val-fold K/N")
    code, _, err = cli(capsys, "train", "--data", f"{root}#Train", "--val-fold", "1/5", "--fold-by", "film",
                       "--faces", "none", "--crop-size", "40", *TINY, "--epochs", "1", "--out", tmp_path / "films")
    assert code == 0, err
    films = json.loads((tmp_path / "films" / "config.json").read_text())
    assert films["val"] == "target/Train[fold1of5-films]" and films["data"]["fold_by"] == "film"
