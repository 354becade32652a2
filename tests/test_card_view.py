"""The model card in words (fer_desktop.card_view): each part of a card's training record
becomes the row a reader expects, and what a card leaves out gives no row."""

from __future__ import annotations

from types import SimpleNamespace

from fer_desktop.card_view import metrics_table, percent, training_rows


def card(training=None, provenance=None, metrics=None, classes=("happy", "sad")) -> SimpleNamespace:
    return SimpleNamespace(training=training, provenance=provenance, metrics=metrics, classes=list(classes),
                           backbone="efficientnet-lite1")


def test_a_second_stage_reads_as_its_start_data_recipe_and_provenance():
    rows = training_rows(card(
        training={
            "init_card": "stage-one",
            "init_training": {"data": {"train_name": "ferplus/Training", "val_name": "ferplus/PublicTest"}},
            "data": {"train_name": "sfew2/Train", "train_samples": 864,
                     "replay": {"name": "ferplus/Training[votes]", "samples": 27928},
                     "val_name": "sfew2/Val", "val_samples": 431},
            "config": {"replay_ratio": 3.0, "optimizer": "adamw", "lr": 3e-4, "batch_size": 32,
                       "soft_labels": True, "class_balance": "weights"},
            "epochs_run": 10,
            "merged": {"models": ["a/model", "b/model"]},
        },
        provenance={"created": "2026-12-03", "selection": "best FER+ valid", "unknown": "ignored"},
    ))
    assert rows == [
        ("Started from", "stage-one (trained on ferplus/Training, validated on ferplus/PublicTest)"),
        ("Trained on", "sfew2/Train (864 images)"),
        ("Replayed", "ferplus/Training[votes] (27,928 images), 3 images per training image"),
        ("Validated on", "sfew2/Val (431 images)"),
        ("Recipe", "10 epochs, adamw lr 0.0003, batch 32, soft labels (vote distributions), class weights"),
        ("Weights", "average of 2 fine-tunings: a/model, b/model"),
        ("Created", "2026-12-03"),
        ("Chosen by", "best FER+ valid"),
    ]


def test_a_first_stage_starts_from_imagenet_and_lists_its_data_files():
    rows = training_rows(card(training={
        "data": {"train": ["x.csv", "y.csv"], "val": "z.csv"},
        "config": {"pretrained": True, "model": "efficientnet-lite0"},
    }))
    assert rows == [("Started from", "efficientnet-lite0 ImageNet weights"), ("Trained on", "x.csv, y.csv"),
                    ("Validated on", "z.csv")]


def test_what_a_card_does_not_record_gives_no_row():
    assert training_rows(card()) == []
    assert training_rows(card(training={"init_from": "runs/a/model"})) == [("Started from", "runs/a/model")]
    # An old card names only its datasets.
    assert training_rows(card(training={"datasets": ["fer2013", "sfew2"]})) == [("Data", "fer2013, sfew2")]


def test_metrics_read_as_percentages_with_their_commands():
    table = metrics_table(card(metrics={
        "sfew2/Val": {"n": 431, "accuracy": 0.4571, "macro_f1": 0.3867,
                      "per_class_recall": {"happy": 0.708}, "command": "fer-train evaluate ..."},
        "old": 0.5,
    }))
    assert table.headers == ["Measured on", "Images", "Accuracy", "Macro F1", "happy recall", "sad recall"]
    assert table.rows == [["sfew2/Val", "431", "45.7%", "38.7%", "70.8%", "—"], ["old", "—", "50.0%", "—", "—", "—"]]
    assert table.commands == ["fer-train evaluate ...", ""]
    assert percent(1.5) == "1.5" and percent(None) == "—" and percent(True) == "True"


def test_the_overview_says_when_a_card_asks_for_test_views():
    from fer_desktop.card_view import overview_rows
    from trainer.inference.bundled import bundled_models
    from trainer.models.card import read_card

    bundled = read_card(bundled_models()["fer2013-labels"])
    rows = dict(overview_rows(bundled))
    passes = 9 * bundled.members  # the bundled one is a two-network ensemble: each view through each network
    assert rows["Test views"].startswith("each face also seen 8 more ways") and \
        f"{passes}× the classifier's time" in rows["Test views"]
    assert "Test views" not in dict(overview_rows(read_card(bundled_models()["default"])))


def test_an_ensemble_reads_as_its_members_and_their_cost():
    from fer_desktop.card_view import overview_rows

    members = [{"model": "runs/a/model", "name": "a", "training": {"data": {"train_name": "fer2013/Training"}}},
               {"model": "runs/b/model", "name": "b", "training": {}}]
    c = card(training={"ensemble": members})
    c.members, c.mean, c.std, c.input_size, c.preprocessing = 2, [0.5], [0.5], 96, {}
    rows = dict(training_rows(c))
    assert rows["Member 1"] == "a, trained on fer2013/Training" and rows["Member 2"] == "b"
    assert dict(overview_rows(c))["Network"].startswith("2 × efficientnet-lite1, an ensemble")
