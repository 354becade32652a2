"""Two models on the same samples with the same labels: the numbers side by side, the two
confusion matrices and their difference, and the samples the new model fixed or broke.

Pure functions of two :class:`~trainer.evaluation.predictions.Predictions` (each made with
its own model's face preprocessing); ``fer-train compare`` loads, predicts and calls them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainer.data.samples import DataError
from trainer.evaluation.evaluate import class_mapping, summarise_predictions
from trainer.evaluation.predictions import Predictions

HEADLINE = ("accuracy", "macro_f1", "mean_class_recall")


def restricted_predictions(pred: Predictions, model_classes: list[str]) -> np.ndarray:
    """Each sample's predicted class (an index into ``pred.classes``) among the classes both
    the model and the data have, as :func:`summarise_predictions` counts them."""
    common, _ = class_mapping(model_classes, pred.classes)
    columns = np.array([pred.classes.index(c) for c in common])
    if not len(pred):
        return np.zeros(0, dtype=np.int64)
    return columns[pred.probs[:, columns].argmax(axis=1)]


def align(old: Predictions, new: Predictions) -> tuple[Predictions, Predictions, list[str]]:
    """Both restricted to the samples they share, in ``old``'s order. The labels must agree:
    a comparison on different labels compares nothing."""
    if tuple(old.classes) != tuple(new.classes):
        raise DataError(f"the two predictions are over different classes ({', '.join(old.classes)} vs "
                        f"{', '.join(new.classes)}): load both from the same data")
    where = {sample_id: i for i, sample_id in enumerate(new.ids)}
    both = [i for i, sample_id in enumerate(old.ids) if sample_id in where]
    notes = []
    if len(both) < max(len(old), len(new)):
        notes.append(f"{len(old) - len(both)} sample(s) only the old model saw and {len(new) - len(both)} only "
                     f"the new one saw are left out (their face preprocessing differs)")
    a, b = old.subset(both), new.subset([where[old.ids[i]] for i in both])
    differ = int((a.labels != b.labels).sum())
    if differ:
        raise DataError(f"{differ} shared sample(s) have different labels in the two predictions; "
                        "apply the same relabel journal to both")
    return a, b, notes


def compare_predictions(old: Predictions, new: Predictions, old_classes: list[str],
                        new_classes: list[str]) -> dict[str, Any]:
    """Summaries of both, their deltas, the confusion difference (new - old) and the fixed /
    broken samples (wrong before and right now / the reverse), likeliest first."""
    old, new, notes = align(old, new)
    summary_old = summarise_predictions(old, old_classes)
    summary_new = summarise_predictions(new, new_classes)
    delta: dict[str, Any] = {k: summary_new[k] - summary_old[k] for k in HEADLINE}
    delta["per_class_recall"] = {
        c: (None if summary_old["per_class_recall"].get(c) is None or summary_new["per_class_recall"].get(c) is None
            else summary_new["per_class_recall"][c] - summary_old["per_class_recall"][c])
        for c in summary_new["classes"]}
    if summary_old["classes"] == summary_new["classes"]:
        diff = (np.array(summary_new["confusion"]) - np.array(summary_old["confusion"])).tolist()
    else:
        diff = None
        notes.append("the models have different classes: no confusion difference")
    labelled = old.labels >= 0
    right_old = labelled & (restricted_predictions(old, old_classes) == old.labels)
    right_new = labelled & (restricted_predictions(new, new_classes) == new.labels)
    return {
        "n": int(labelled.sum()), "old": summary_old, "new": summary_new, "delta": delta, "confusion_diff": diff,
        "fixed": _changed(old, new, ~right_old & right_new & labelled, old_classes, new_classes),
        "broken": _changed(old, new, right_old & ~right_new & labelled, old_classes, new_classes),
        "notes": notes,
    }


def _changed(old: Predictions, new: Predictions, mask: np.ndarray, old_classes: list[str],
             new_classes: list[str]) -> list[dict[str, Any]]:
    """The samples in ``mask``, each with its label and both predictions, the surest change first."""
    idx = np.flatnonzero(mask)
    p_old, p_new = restricted_predictions(old, old_classes), restricted_predictions(new, new_classes)
    rows = [{"id": old.ids[i], "label": old.classes[old.labels[i]],
             "old": old.classes[p_old[i]], "old_confidence": float(old.probs[i, p_old[i]]),
             "new": new.classes[p_new[i]], "new_confidence": float(new.probs[i, p_new[i]]),
             "label_prob_change": float(new.probs[i, new.labels[i]] - old.probs[i, old.labels[i]])} for i in idx]
    return sorted(rows, key=lambda r: -abs(r["label_prob_change"]))


def format_comparison(result: dict[str, Any], listed: int = 10) -> str:
    """Plain text: per set, the headline numbers, per-class recall, both confusions and the
    difference, and the first ``listed`` fixed / broken samples."""
    lines = [f"old: {result['old_model']['name']} ({result['old_model']['path']})",
             f"new: {result['new_model']['name']} ({result['new_model']['path']})"]
    for s in result["sets"]:
        lines += ["", f"== {s['role']}: {s['name']} (n={s['n']}"
                  + (f", {s['relabelled']} relabelled, {s['excluded']} excluded" if s.get("relabels") else "") + ")"]
        for note in s.get("notes") or []:
            lines.append(f"note: {note}")
        lines.append(f"{'':18}{'old':>8}{'new':>8}{'change':>9}")
        for key in HEADLINE:
            lines.append(_row(key.replace("_", " "), s["old"][key], s["new"][key]))
        lines.append("recall per class")
        for c in s["new"]["classes"]:
            lines.append(_row("  " + c, s["old"]["per_class_recall"].get(c), s["new"]["per_class_recall"].get(c)))
        lines += _matrix("old confusion (rows: true)", s["old"]["confusion"], s["old"]["classes"])
        lines += _matrix("new confusion", s["new"]["confusion"], s["new"]["classes"])
        if s["confusion_diff"] is not None:
            lines += _matrix("difference (new - old)", s["confusion_diff"], s["new"]["classes"], signed=True)
        for kind in ("fixed", "broken"):
            rows = s[kind]
            lines.append(f"{kind}: {len(rows)}" + (":" if rows else ""))
            for r in rows[:listed]:
                lines.append(f"  {r['id']}  label {r['label']}: old {r['old']} ({100 * r['old_confidence']:.0f}%) "
                             f"-> new {r['new']} ({100 * r['new_confidence']:.0f}%)")
            if len(rows) > listed:
                lines.append(f"  ... {len(rows) - listed} more (--json lists all)")
    return "\n".join(lines)


def _row(name: str, old: float | None, new: float | None) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    change = "" if old is None or new is None else f"{100 * (new - old):+.1f}"
    return f"{name:<18}{pct(old):>8}{pct(new):>8}{change:>9}"


def _matrix(title: str, matrix: list[list[int]], classes: list[str], signed: bool = False) -> list[str]:
    width = max(8, *(len(c) for c in classes))
    out = [title, " " * width + " " + " ".join(f"{c[:6]:>6}" for c in classes)]
    for c, row in zip(classes, matrix):
        out.append(f"{c:<{width}} " + " ".join((f"{v:+6d}" if v else f"{'.':>6}") if signed else f"{v:>6}"
                                               for v in row))
    return out
