"""Training specs: the command line, a model's card and the JSON the app writes all give the
same StageSpec; a card's recipe is taken over (optimizer, schedule, face crops, replay data
found on this machine) and overrides win; runs never land in the bundled models' folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.cli import build_parser, main
from trainer.classes import BASIC_CLASSES
from trainer.data.samples import DataError
from trainer.data.synthetic import write_class_folders, write_fer_csv
from trainer.models.card import ModelCard, save_model
from trainer.training.config import PRESETS, resolve_config
from trainer.training.progress import EstimateEvent, parse_event
from trainer.training.spec import (
    Overrides,
    card_recipe,
    load_spec,
    save_spec,
    spec_from_card,
    spec_to_dict,
)

TINY = "timm:test_resnet"
TINY_FLAGS = ["--model", TINY, "--no-pretrained", "--input-size", "32", "--batch-size", "32"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch, one_torch_thread):
    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def _tiny_model(path: Path, training: dict | None = None, classes=BASIC_CLASSES[:4]) -> Path:
    from trainer.models.registry import create_model

    model, _ = create_model(TINY, len(classes), pretrained=False)
    card = ModelCard(name="tiny", backbone=TINY, classes=list(classes), input_size=32, mean=[0.5], std=[0.5],
                     preprocessing={"faces": "crops", "grey": True, "crop_size": 40, "mode": "none"},
                     training=training or {})
    weights, _ = save_model(model, card, path)
    return weights


def _args(*argv):
    return build_parser().parse_args(["train", *map(str, argv)])


def _recorded(tmp_path: Path) -> dict:
    """A card's training record as the loop writes it: small-target, 7 epochs, FER replay x3
    (the replay path relative to the repository the model sits in, as the bundled card's)."""
    write_fer_csv(tmp_path / "repo" / "data" / "fer.csv", {"Training": 64, "PrivateTest": 32})
    cfg = resolve_config("small-target", model=TINY, pretrained=False, input_size=32, batch_size=16, epochs=7,
                         replay_ratio=3.0, init_from="old/stage1/model", device="cuda:3")
    return {"config": cfg.to_dict(), "data": {"train": ["data/target"], "stage": {"replay": ["data/fer.csv#Training"]}}}


def test_cli_spec_and_json_round_trip(tmp_path):
    from trainer.commands.train import build_stage

    root = write_class_folders(tmp_path / "target", 4, splits=["Train", "Val"], size=40)
    for name in ("ann", "bob"):
        (tmp_path / f"{name}.jsonl").write_text("")
    args = _args("--data", root, "--faces", "none", "--crop-size", "40", *TINY_FLAGS, "--preset", "paper",
                 "--epochs", "3", "--relabels", tmp_path / "j.jsonl", "--replay", f"{tmp_path}/fer.csv#Training",
                 "--replay-ratio", "2", "--team", tmp_path / "ann.jsonl", tmp_path / "bob.jsonl",
                 "--out", tmp_path / "run")
    spec = build_stage(args)
    assert spec.team == (tmp_path / "ann.jsonl", tmp_path / "bob.jsonl")
    assert spec.config.optimizer == "sgd" and spec.config.epochs == 3 and spec.config.replay_ratio == 2
    assert spec.load.faces.mode == "none" and spec.load.faces.crop_size == 40
    assert spec.relabels == tmp_path / "j.jsonl" and spec.replay == [f"{tmp_path}/fer.csv#Training"]
    path = save_spec(spec, tmp_path / "run" / "spec.json")
    again = load_spec(path)
    assert spec_to_dict(again) == spec_to_dict(spec)
    # --spec is the whole run: it takes no other setting
    assert build_stage(_args("--spec", path)).config == spec.config
    with pytest.raises(ValueError, match="--epochs"):
        build_stage(_args("--spec", path, "--epochs", "9"))


def test_card_recipe_is_taken_over_and_overrides_win(tmp_path):
    model = _tiny_model(tmp_path / "repo" / "models" / "tiny", _recorded(tmp_path))
    recipe = card_recipe(model)
    assert recipe.recorded and recipe.config["optimizer"] == "adamw" and recipe.config["epochs"] == 7
    assert recipe.config["init_from"] == str(model.resolve())  # fine-tune this model, not its ancestor
    assert recipe.config["device"] == "auto"  # the old run's device is not this machine's
    # the relative replay path was found beside the model's repository
    assert recipe.replay == [f"{(tmp_path / 'repo' / 'data' / 'fer.csv').resolve()}#Training"]
    assert recipe.faces.mode == "none" and recipe.faces.crop_size == 40
    assert "adamw" in recipe.describe() and "replay" in recipe.describe()

    data = [str(write_class_folders(tmp_path / "target", 4, splits=["Train", "Val"], size=40))]
    spec = spec_from_card(model, data, relabels=tmp_path / "j.jsonl")
    assert spec.config.epochs == 7 and spec.config.lr == PRESETS["small-target"]["lr"]
    assert spec.config.replay_ratio == 3 and spec.replay == recipe.replay
    assert spec.relabels == tmp_path / "j.jsonl" and spec.train == data
    assert spec.load.faces.mode == "none"
    assert tmp_path / "home" / "runs" in spec.out.parents  # the user's data dir, never the repository

    spec = spec_from_card(model, data, overrides=Overrides(preset="paper", epochs=2, seed=5, input_size=48,
                                                           replay=[], out=tmp_path / "r2"))
    assert (spec.config.optimizer, spec.config.epochs, spec.config.seed) == ("sgd", 2, 5)
    assert spec.config.input_size == 48 and spec.load.faces.crop_size == 48  # crops never below the input
    assert spec.replay == [] and spec.out == tmp_path / "r2"


def test_card_without_recipe_or_replay_data(tmp_path):
    bare = card_recipe(_tiny_model(tmp_path / "bare"))
    assert not bare.recorded and bare.config["optimizer"] == PRESETS["small-target"]["optimizer"]
    assert any("no training recipe" in n for n in bare.notes)

    record = _recorded(tmp_path)
    record["data"]["stage"]["replay"] = ["nowhere/fer.csv#Training"]
    lost = card_recipe(_tiny_model(tmp_path / "lost" / "tiny", record))
    assert lost.replay == [] and any("nowhere/fer.csv" in n for n in lost.notes)


def test_a_cascade_cards_replay_is_found_under_its_data_root(tmp_path, monkeypatch):
    """A cascade stage records its specs relative to its data root (as the bundled card records
    its FER+ replay): the retrain keeps the replay. The data is generated under tmp_path, in a
    data root beside the repository."""
    record = _recorded(tmp_path)
    write_fer_csv(tmp_path / "datasets" / "ferplus" / "fer.csv", {"Training": 64, "PrivateTest": 32})
    record["data"]["stage"].update(replay=["ferplus/fer.csv#Training"], data_root="../datasets")
    (tmp_path / "repo").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path / "repo")  # run from the repository, as the card's relative root assumes
    record["data"]["stage"].update(ferplus={"mode": "votes", "contempt": "drop", "ties": "drop"}, align_csv=True)
    model = _tiny_model(tmp_path / "elsewhere" / "tiny", record)
    recipe = card_recipe(model)
    assert recipe.replay == [f"{(tmp_path / 'datasets' / 'ferplus' / 'fer.csv').resolve()}#Training"]
    assert not any("not on this machine" in n for n in recipe.notes)
    # ... and read as the model learnt it: FER+ votes, contempt dropped (its 7 classes), re-aligned.
    data = [str(write_class_folders(tmp_path / "target", 4, splits=["Train", "Val"], size=40))]
    load = spec_from_card(model, data).load
    assert (load.ferplus_mode, load.contempt, load.ties, load.faces_on_csv) == ("votes", "drop", "drop", True)
    # What the user sets wins; the rest stays the card's.
    load = spec_from_card(model, data, overrides=Overrides(data={"contempt": "disgust"})).load
    assert (load.ferplus_mode, load.contempt, load.faces_on_csv) == ("votes", "disgust", True)
    from trainer.commands.train import build_stage

    cli = build_stage(_args("--from-model", model, "--data", data[0], "--contempt", "disgust"))
    assert (cli.load.ferplus_mode, cli.load.contempt, cli.load.faces_on_csv) == ("votes", "disgust", True)


def test_runs_never_go_into_the_bundled_models_folder(tmp_path):
    from trainer.inference.bundled import resources_dir

    model = _tiny_model(tmp_path / "tiny")
    with pytest.raises(DataError, match="bundled"):
        spec_from_card(model, [str(tmp_path)], overrides=Overrides(out=resources_dir() / "models" / "x"))


def test_from_model_flag_equals_the_card_builder(tmp_path, capsys):
    from trainer.commands.train import build_stage

    model = _tiny_model(tmp_path / "repo" / "models" / "tiny", _recorded(tmp_path))
    data = str(write_class_folders(tmp_path / "target", 4, splits=["Train", "Val"], size=40))
    via_cli = build_stage(_args("--from-model", model, "--data", data, "--epochs", "2", "--lr", "0.01",
                                "--out", tmp_path / "run"))
    direct = spec_from_card(model, [data], overrides=Overrides(epochs=2, lr=0.01, out=tmp_path / "run"))
    assert spec_to_dict(via_cli) == spec_to_dict(direct)
    # without --out: runs/NAME, as every fer-train train, so that --resume finds the run again
    assert build_stage(_args("--from-model", model, "--data", data)).out == Path("runs") / "target-retrain"

    code = main(["train", "--from-model", str(model), "--variant", "fer28"])
    assert code == 2 and "drop --variant" in capsys.readouterr().err


def test_estimate_times_real_batches_and_writes_nothing(tmp_path, capsys):
    data = write_class_folders(tmp_path / "target", 20, splits=["Train", "Val"], size=40)
    spec = spec_from_card(_tiny_model(tmp_path / "tiny"), [str(data)],
                          overrides=Overrides(epochs=3, batch_size=16, out=tmp_path / "run"))
    path = save_spec(spec, tmp_path / "spec.json")
    code = main(["train", "--spec", str(path), "--estimate", "--progress", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    events = [parse_event(line) for line in out.splitlines()]
    estimate = [e for e in events if isinstance(e, EstimateEvent)]
    assert len(estimate) == 1, out
    e = estimate[0]
    assert (e.train_samples, e.val_samples, e.batches_per_epoch, e.epochs) == (80, 80, 5, 3)
    assert e.seconds_per_batch > 0 and e.val_seconds_per_epoch > 0
    assert e.total_seconds == pytest.approx(3 * (5 * e.seconds_per_batch + e.val_seconds_per_epoch))
    assert not (tmp_path / "run").exists()
    assert json.loads(path.read_text())["config"]["epochs"] == 3


def test_stop_file_stops_a_spec_run_and_resume_finishes_it(tmp_path, capsys):
    data = write_class_folders(tmp_path / "target", 8, splits=["Train", "Val"], size=40)
    spec = spec_from_card(_tiny_model(tmp_path / "tiny"), [str(data)],
                          overrides=Overrides(epochs=2, batch_size=16, out=tmp_path / "run"))
    path = save_spec(spec, tmp_path / "run" / "spec.json")
    stop = tmp_path / "run" / "STOP"
    stop.touch()
    code = main(["train", "--spec", str(path), "--stop-file", str(stop), "--progress", "json"])
    out, _ = capsys.readouterr()
    assert code == 130 and "stopped by request before epoch 1" in out
    assert not (tmp_path / "run" / "model.safetensors").exists()
    stop.unlink()
    code = main(["train", "--spec", str(path), "--stop-file", str(stop), "--progress", "json", "--resume"])
    out, err = capsys.readouterr()
    assert code == 0, err
    done = [e for e in map(parse_event, out.splitlines()) if e is not None and e.kind == "done"]
    assert done and done[-1].epochs_run == 2 and not done[-1].interrupted
    assert Path(done[-1].model).is_file()


def test_align_csv_reaches_the_loader_and_survives_the_spec(tmp_path):
    """--align-csv: FER-2013 csv crops re-aligned the way the app makes them, in training too."""
    from trainer.commands.train import build_stage
    from trainer.training.runner import load_stage_data

    csv = write_fer_csv(tmp_path / "fer.csv", {"Training": 16, "PublicTest": 8})
    plain = build_stage(_args("--data", f"{csv}#Training", "--val", f"{csv}#PublicTest", *TINY_FLAGS,
                              "--faces", "crops", "--out", tmp_path / "plain"))
    aligned = build_stage(_args("--data", f"{csv}#Training", "--val", f"{csv}#PublicTest", *TINY_FLAGS,
                                "--faces", "crops", "--align-csv", "--out", tmp_path / "aligned"))
    assert not plain.load.faces_on_csv and aligned.load.faces_on_csv
    assert load_spec(save_spec(aligned, tmp_path / "spec.json")).load.faces_on_csv
    made = load_stage_data(aligned).train
    assert made.meta["preprocessing"]["input"] == "crop"  # made by the face pipeline, not as they are
    assert made.images.shape[1:] == (96, 96)  # the aligner's crops (default size: max(96, input size))
    as_they_are = load_stage_data(plain).train
    assert (as_they_are.meta.get("preprocessing") or {}).get("input") != "crop"
    assert as_they_are.images.shape[1:] == (48, 48)  # FER's own crops


def test_from_model_takes_a_bundled_models_name(tmp_path):
    from trainer.commands.train import build_stage
    from trainer.inference.bundled import bundled_models

    data = write_class_folders(tmp_path / "target", 4, splits=["Train", "Val"], size=40)
    spec = build_stage(_args("--from-model", "paper-fer32-sfew", "--data", data, "--out", tmp_path / "run"))
    assert spec.config.init_from == str(bundled_models()["paper-fer32-sfew"].resolve())
