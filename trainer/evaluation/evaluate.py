"""Evaluate a saved model on a labelled set, feeding it crops made the way its card says.

When the model's classes and the data's differ (an 8-class FER+ model on 7-class data, or the
reverse) they are matched by name: data samples of classes the model lacks are left out, and
predictions are restricted to the classes both have. The result's ``class_mapping`` says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from trainer.data.crops import FaceOptions
from trainer.data.samples import DataError, SampleSet
from trainer.evaluation.calibration import calibration_summary
from trainer.evaluation.metrics import confusion_matrix, renormalised, summarise
from trainer.evaluation.predictions import Predictions, predict_samples
from trainer.models.card import ModelCard


def face_options_for_card(card: ModelCard, mode: str | None = None, detector: str | None = None) -> FaceOptions:
    """The face crops a model was trained on, for folder data: its aligner settings and crop
    size, and the mode its training folders went through (a retraining recipe repeats it);
    ``mode``/``detector`` override. Evaluation and the app use :func:`face_options_for_input`."""
    prep = card.preprocessing or {}
    aligner = dict(prep.get("aligner") or {})
    aligner.pop("size", None)
    default_mode = prep.get("mode", "auto")
    return FaceOptions(mode=mode or default_mode, crop_size=card.crop_size(),
                       detector=detector or prep.get("detector", "auto"), aligner=aligner)


def face_options_for_input(card: ModelCard, kind: str, detector: str | None = None) -> FaceOptions:
    """The crops the app makes for images of input ``kind`` (auto | photo | crop; ``none``:
    used as they are, the old protocol for ready-made crops) with ``card``'s aligner, crop size
    and detector: what evaluation and the review feed a model, whatever its training data was."""
    return face_options_for_card(card, kind, detector)


def class_mapping(model_classes: list[str], data_classes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(classes both have, in the data's order; human-readable notes on what differs)."""
    common = [c for c in data_classes if c in model_classes]
    if not common:
        raise DataError(f"the model's classes ({', '.join(model_classes)}) and the data's "
                        f"({', '.join(data_classes)}) have nothing in common")
    notes = []
    lacking = [c for c in data_classes if c not in model_classes]
    extra = [c for c in model_classes if c not in data_classes]
    if lacking:
        notes.append(f"the model has no class {', '.join(lacking)}: those samples are left out")
    if extra:
        notes.append(f"the data has no class {', '.join(extra)}: predictions are restricted to "
                     f"{', '.join(common)}")
    return common, notes


def evaluate_samples(model: torch.nn.Module, card: ModelCard, samples: SampleSet, *, device: str = "auto",
                     tta_flip: bool = True, batch_size: int = 256) -> dict[str, Any]:
    """Accuracy, per-class recall/precision, macro F1 and the confusion matrix (rows: true)."""
    class_mapping(list(card.classes), samples.classes)  # refuse disjoint classes before the work
    pred = predict_samples(model, card, samples, device=device, tta_flip=tta_flip, batch_size=batch_size)
    return summarise_predictions(pred, list(card.classes))


def summarise_predictions(pred: Predictions, model_classes: list[str]) -> dict[str, Any]:
    """The evaluation summary of per-sample predictions. Samples of classes the model lacks
    are left out and predictions are restricted to the classes both have (``class_mapping``)."""
    common, notes = class_mapping(model_classes, pred.classes)
    columns = [pred.classes.index(c) for c in common]
    to_common = np.array([common.index(c) if c in common else -1 for c in pred.classes])
    labels = np.where(pred.labels >= 0, to_common[np.maximum(pred.labels, 0)], -1)
    keep = np.flatnonzero(labels >= 0)
    if not len(keep):  # an accuracy of nothing is no accuracy: refuse rather than print 0.0
        raise DataError(f"no labelled samples of the model's classes ({', '.join(common)}) to evaluate on "
                        f"({len(pred)} samples, none usable)")
    probs = pred.probs[keep][:, columns]
    predictions = probs.argmax(axis=1)
    summary = summarise(confusion_matrix(labels[keep], predictions, len(common)), common)
    summary["class_mapping"] = notes or None
    summary["left_out"] = len(pred) - len(keep)
    summary["calibration"] = calibration_summary(renormalised(probs), labels[keep])
    return summary


def format_report(result: dict[str, Any]) -> str:
    """A plain-text report: headline numbers, per-class table, confusion matrix."""
    classes = result["classes"]
    width = max(8, *(len(c) for c in classes))
    lines = [f"accuracy {100 * result['accuracy']:.2f}%  macro F1 {100 * result['macro_f1']:.2f}%  "
             f"mean class recall {100 * result['mean_class_recall']:.2f}%  (n={result['n']})"]
    for note in result.get("class_mapping") or []:
        lines.append(f"note: {note}")
    calibration = result.get("calibration")
    if calibration:
        lines.append(f"calibration: mean top probability {100 * calibration['mean_confidence']:.1f}% for "
                     f"{100 * result['accuracy']:.1f}% right; ECE {calibration['ece']:.3f} "
                     f"(0: the top bar says how often it is right), NLL {calibration['nll']:.3f}")
    lines.append("")
    lines.append(f"{'class':<{width}}  recall  precision  n")
    for i, c in enumerate(classes):
        r, p = result["per_class_recall"][c], result["per_class_precision"][c]
        n = sum(result["confusion"][i])
        lines.append(f"{c:<{width}}  {'-' if r is None else f'{100 * r:.1f}%':>6}  "
                     f"{'-' if p is None else f'{100 * p:.1f}%':>9}  {n}")
    lines.append("")
    lines.append("confusion (rows: true, columns: predicted)")
    lines.append(" " * width + "  " + " ".join(f"{c[:6]:>6}" for c in classes))
    for c, row in zip(classes, result["confusion"]):
        lines.append(f"{c:<{width}}  " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines)
