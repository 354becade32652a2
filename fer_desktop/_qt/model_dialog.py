"""The model card in a dialog: what the model predicts, what it was trained on, how well."""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from fer_desktop.colors import class_color
from fer_desktop.results import ModelInfo


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return html.escape(json.dumps(value, indent=1) if len(json.dumps(value)) > 80 else json.dumps(value))
    return html.escape(str(value))


def _table(title: str, data: dict[str, Any]) -> str:
    if not data:
        return f"<h3>{title}</h3><p><i>not recorded</i></p>"
    rows = "".join(f"<tr><td><b>{html.escape(str(k))}</b></td><td><pre style='margin:0'>{_fmt(v)}</pre></td></tr>"
                   if isinstance(v, (dict, list)) else
                   f"<tr><td><b>{html.escape(str(k))}</b></td><td>{_fmt(v)}</td></tr>"
                   for k, v in data.items())
    return f"<h3>{title}</h3><table cellspacing=0 cellpadding=3>{rows}</table>"


def _accuracies(metrics: dict[str, Any]) -> dict[str, Any]:
    """Accuracy-like numbers first, shown as percentages: the numbers people look for."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1 and \
                any(w in key.lower() for w in ("acc", "f1", "recall", "precision")):
            out[key] = f"{value:.1%}"
    for key, value in metrics.items():
        out.setdefault(key, value)
    return out


def card_html(info: ModelInfo) -> str:
    card = info.card
    classes = " ".join(
        f"<span style='background:{class_color(c, i)}; padding:1px 6px; border-radius:3px'>&nbsp;{html.escape(c)}&nbsp;</span>"
        for i, c in enumerate(card.classes))
    overview = {
        "name": card.name, "backbone": card.backbone, "input": f"{card.input_size}×{card.input_size} px",
        "normalisation": f"mean {card.mean}, std {card.std}", "device": info.device,
        "file": str(info.path) if info.path else "—", "format": card.format,
    }
    return (f"<h2>{html.escape(card.name)}</h2><p>{classes}</p>"
            + _table("Overview", overview)
            + _table("Accuracy and other metrics", _accuracies(card.metrics or {}))
            + _table("Training data and settings", card.training or {})
            + _table("Face preprocessing", card.preprocessing or {})
            + _table("Provenance", card.provenance or {}))


class ModelCardDialog(QDialog):
    def __init__(self, info: ModelInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model card: {info.name}")
        self.resize(620, 640)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(card_html(info))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
