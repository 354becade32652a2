"""Classification metrics from a confusion matrix (rows: true class, columns: predicted)."""

from __future__ import annotations

from typing import Any

import numpy as np


def renormalised(probs: np.ndarray, *, empty: float | None = None) -> np.ndarray:
    """Rows of probabilities over some of a model's classes made to sum to 1 again (the bars as
    they read over the classes a model and its data share). A row with nothing left gets
    ``empty`` in every column, a uniform row by default."""
    probs = np.asarray(probs)
    fill = 1 / probs.shape[1] if empty is None else empty
    total = probs.sum(axis=1, keepdims=True)
    return np.divide(probs, total, out=np.full_like(probs, fill), where=total > 0)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    keep = labels >= 0
    return np.bincount(
        labels[keep] * num_classes + predictions[keep], minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)


def summarise(confusion: np.ndarray, classes: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, per-class recall and precision, macro F1; classes absent from the data get
    recall None and are left out of the macro average."""
    confusion = np.asarray(confusion, dtype=np.int64)
    total = int(confusion.sum())
    correct = int(np.trace(confusion))
    true_counts = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    recall: dict[str, float | None] = {}
    precision: dict[str, float | None] = {}
    f1_values = []
    for i, name in enumerate(classes):
        tp = int(confusion[i, i])
        r = tp / true_counts[i] if true_counts[i] else None
        p = tp / predicted_counts[i] if predicted_counts[i] else (0.0 if true_counts[i] else None)
        recall[name] = r
        precision[name] = p
        if r is not None:
            f1_values.append(0.0 if (p is None or p + r == 0) else 2 * p * r / (p + r))
    return {
        "n": total,
        "accuracy": correct / total if total else 0.0,
        "per_class_recall": recall,
        "per_class_precision": precision,
        "macro_f1": float(np.mean(f1_values)) if f1_values else 0.0,
        "mean_class_recall": float(np.mean([r for r in recall.values() if r is not None])) if f1_values else 0.0,
        "classes": list(classes),
        "confusion": confusion.tolist(),
    }
