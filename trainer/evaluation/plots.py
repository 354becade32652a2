"""PNG plots for run folders: confusion matrix, loss and accuracy curves.

Figures are built with matplotlib's object API on the Agg canvas, never through pyplot, so
nothing here touches a global backend (the GUI may run in the same process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path,
                   title: str = "") -> Path:
    """Rows: true class; cells coloured by the row-normalised rate, labelled count and percent."""
    conf = np.asarray(confusion, dtype=np.int64)
    rates = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    fig = Figure(figsize=(1.0 + 0.9 * n, 0.8 + 0.8 * n))
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    for i in range(n):
        for j in range(n):
            colour = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, f"{conf[i, j]}\n{100 * rates[i, j]:.0f}%", ha="center", va="center",
                    fontsize=8, color=colour)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(conf.sum())
    accuracy = np.trace(conf) / total if total else 0.0
    ax.set_title(f"{title + ': ' if title else ''}accuracy {100 * accuracy:.1f}% (n={total})")
    return _save(fig, path)


def plot_history(history: list[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Training loss, and training/validation accuracy, per epoch."""
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4))
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.legend()
    loss_ax.grid(alpha=0.3)
    acc_ax.plot(epochs, [h["train_accuracy"] for h in history], marker="o", label="train")
    if any("val_accuracy" in h for h in history):
        acc_ax.plot([h["epoch"] for h in history if "val_accuracy" in h],
                    [h["val_accuracy"] for h in history if "val_accuracy" in h], marker="o", label="val")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_ylim(0, 1)
    acc_ax.legend()
    acc_ax.grid(alpha=0.3)
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return _save(fig, path)
