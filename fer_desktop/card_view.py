"""A model card as a person reads it (Qt-free): what the model is, what it was trained on, and
its measured accuracies as a table of percentages with the data each was measured on. The
dialog in ``fer_desktop._qt.model_dialog`` only lays these out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Row = tuple[str, str]

FACE_MODES = {
    "crops": "face crops, used as they are (grey, resized)",
    "align": "faces found and aligned by the eyes (Ng et al. crop)",
    "detect": "faces found in photos and aligned by the eyes",
    "auto": "photos detected and aligned, small images taken as crops",
    "none": "images used as they are (grey, resized)",
}


def percent(value: Any) -> str:
    """0.4896 -> "49.0%"; anything that is not a fraction is shown as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return f"{100 * value:.1f}%"
    return "—" if value is None else str(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def overview_rows(card: Any, *, path: str | None = None, device: str | None = None) -> list[Row]:
    prep = card.preprocessing or {}
    mean = ", ".join(f"{v:g}" for v in card.mean)
    std = ", ".join(f"{v:g}" for v in card.std)
    colour = "grey" if prep.get("grey", len(card.mean) == 1) else "colour"
    rows = [
        ("Classes", f"{len(card.classes)}: " + ", ".join(card.classes)),
        ("Input", f"{card.input_size}×{card.input_size} px {colour}, normalised (x − {mean}) / {std}"),
        ("Faces", _faces_text(prep)),
        ("Network", card.backbone),
    ]
    members = getattr(card, "members", 1)
    if members > 1:
        rows[-1] = ("Network", f"{members} × {card.backbone}, an ensemble: their probabilities averaged, "
                               f"{members}× the classifier's time")
    views = getattr(card, "test_views", None) or []
    if views:
        total = (len(views) + 1) * members  # every view goes through every member
        rows.append(("Test views", f"each face also seen {len(views)} more ways (turned, scaled, shifted a little) "
                                   f"and the probabilities averaged: {total}× the classifier's time"
                                   + (f" in all ({members} networks × {len(views) + 1} views)" if members > 1 else "")))
    if device:
        rows.append(("Runs on", device))
    if path:
        rows.append(("File", path))
    return rows


def _faces_text(prep: dict[str, Any]) -> str:
    mode = prep.get("faces") or prep.get("mode")
    text = FACE_MODES.get(str(mode), str(mode) if mode else "not recorded")
    if prep.get("detector"):
        text += f"; detector {prep['detector']}"
    if prep.get("crop_size"):
        text += f"; {prep['crop_size']} px crops"
    return text


def _names(value: Any) -> str:
    """A dataset reference as the card stores it (a name, a list of paths, or a replay record
    ``{"name", "samples", ...}``) in words."""
    if isinstance(value, dict):
        name = str(value.get("name", ""))
        return f"{name} ({_count(value['samples'])} images)" if value.get("samples") else name
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value) if value else ""


def training_rows(card: Any) -> list[Row]:
    """The training data and recipe, in words; what the card does not record is left out."""
    t = card.training or {}
    data = t.get("data") or {}
    cfg = t.get("config") or {}
    return [*_start_rows(t, cfg, card.backbone), *_data_rows(t, data, cfg), *_recipe_rows(t, cfg),
            *_member_rows(t), *_provenance_rows(card.provenance or {})]


def _member_rows(t: dict[str, Any]) -> list[Row]:
    """An ensemble's members (trainer.models.ensemble): each one's name and what it learnt from."""
    rows: list[Row] = []
    for k, member in enumerate(t.get("ensemble") or [], 1):
        data = (member.get("training") or {}).get("data") or {}
        train = data.get("train_name") or _names(data.get("train"))
        rows.append((f"Member {k}", str(member.get("name") or member.get("model") or "?")
                     + (f", trained on {train}" if train else "")))
    return rows


def _start_rows(t: dict[str, Any], cfg: dict[str, Any], backbone: str) -> list[Row]:
    """Where training started: another model (with what that one was trained on) or ImageNet."""
    if t.get("init_card") or t.get("init_from"):
        first = (t.get("init_training") or {}).get("data") or {}
        start = str(t.get("init_card") or t.get("init_from"))
        first_train = first.get("train_name") or _names(first.get("train"))
        if first_train:
            first_val = first.get("val_name") or _names(first.get("val"))
            start += f" (trained on {first_train}" + (f", validated on {first_val})" if first_val else ")")
        return [("Started from", start)]
    if cfg.get("pretrained"):
        return [("Started from", f"{cfg.get('model', backbone)} ImageNet weights")]
    return []


def _with_count(name: str, n: Any) -> str:
    return f"{name} ({_count(n)} images)" if n else name


def _data_rows(t: dict[str, Any], data: dict[str, Any], cfg: dict[str, Any]) -> list[Row]:
    """The data trained on, replayed and validated on."""
    rows: list[Row] = []
    train = data.get("train_name") or _names(data.get("train"))
    if train:
        rows.append(("Trained on", _with_count(train, data.get("train_samples"))))
    if data.get("replay"):
        ratio = cfg.get("replay_ratio")
        rows.append(("Replayed", _names(data["replay"]) + (f", {ratio:g} images per training image" if ratio else "")))
    val = data.get("val_name") or data.get("val")
    if val:
        rows.append(("Validated on", _with_count(str(val), data.get("val_samples"))))
    if t.get("datasets") and not train:
        rows.append(("Data", ", ".join(map(str, t["datasets"]))))
    return rows


def _recipe_rows(t: dict[str, Any], cfg: dict[str, Any]) -> list[Row]:
    """The optimisation settings a reader compares runs by, and a weight average if it is one."""
    recipe = [f"{t['epochs_run']} epochs" if t.get("epochs_run") else "",
              f"{cfg['optimizer']} lr {cfg['lr']:g}" if cfg.get("optimizer") and cfg.get("lr") else "",
              f"batch {cfg['batch_size']}" if cfg.get("batch_size") else "",
              f"label smoothing {cfg['label_smoothing']:g}" if cfg.get("label_smoothing") else "",
              "soft labels (vote distributions)" if cfg.get("soft_labels") else "",
              "class weights" if cfg.get("class_balance") == "weights" else ""]
    rows: list[Row] = []
    if any(recipe):
        rows.append(("Recipe", ", ".join(r for r in recipe if r)))
    merged = t.get("merged") or {}
    if merged.get("models"):
        rows.append(("Weights", f"average of {len(merged['models'])} fine-tunings: "
                                + ", ".join(map(str, merged["models"]))))
    return rows


PROVENANCE_LABELS = (("created", "Created"), ("hardware", "Hardware"), ("reproduce", "Reproduce"),
                     ("selection", "Chosen by"))


def _provenance_rows(prov: dict[str, Any]) -> list[Row]:
    return [(label, str(prov[key])) for key, label in PROVENANCE_LABELS if prov.get(key)]


@dataclass
class MetricsTable:
    headers: list[str]
    rows: list[list[str]]
    commands: list[str]  # per row: the command that measured it ("" when not recorded)


def metrics_table(card: Any) -> MetricsTable:
    """One row per measurement: the data it was measured on, how many images, accuracy,
    macro F1, then recall per class, all in percent."""
    classes = list(card.classes)
    headers = ["Measured on", "Images", "Accuracy", "Macro F1"] + [f"{c} recall" for c in classes]
    rows, commands = [], []
    for key, entry in (card.metrics or {}).items():
        if isinstance(entry, dict):
            recall = entry.get("per_class_recall") or {}
            rows.append([str(key), _count(entry.get("n", "—")), percent(entry.get("accuracy")),
                         percent(entry.get("macro_f1"))] + [percent(recall.get(c)) for c in classes])
            commands.append(str(entry.get("command", "")))
        else:  # a flat number, as older or hand-written cards have
            rows.append([str(key), "—", percent(entry), "—"] + ["—"] * len(classes))
            commands.append("")
    return MetricsTable(headers, rows, commands)
