"""Help > About: what this is, which version, which model, the licences, where to read more."""

from __future__ import annotations

import html
import sys
from typing import TYPE_CHECKING

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QMessageBox, QWidget

if TYPE_CHECKING:
    from fer_desktop.results import ModelInfo

PAPER = ("H.-W. Ng, V. D. Nguyen, V. Vonikakis, S. Winkler: <i>Deep learning for emotion recognition on "
         "small datasets using transfer learning</i>, ICMI 2015")


def app_version() -> str:
    from trainer.version import package_version

    return package_version()


def about_html(model: ModelInfo | None) -> str:
    torch = sys.modules.get("torch")  # loaded by the inference thread by now; never imported here
    versions = f"Python {sys.version.split()[0]}, PySide6 {pyside_version}"
    if torch is not None:
        versions += f", PyTorch {torch.__version__}"
    model_line = (f"{html.escape(model.name)} on {html.escape(model.device)}" if model is not None
                  else "none loaded")
    return (
        f"<h2>fer-desktop {html.escape(app_version())}</h2>"
        "<p>Facial-expression recognition on images, folders, videos and the webcam: every face "
        "with its box, label and class probabilities, offline.</p>"
        f"<p><b>Model:</b> {model_line} (Model &#9656; Model Card for its training data and accuracy)</p>"
        f"<p><b>Method:</b> two-stage transfer learning after {PAPER}.</p>"
        "<p><b>Licence:</b> Apache-2.0. The bundled model was fine-tuned on FER-2013 (with FER+'s labels, MIT) "
        "and SFEW 2.0, which are for research use: check their terms before using it commercially.</p>"
        f"<p style='color:gray'>{html.escape(versions)}</p>"
    )


def show_about(parent: QWidget, model: ModelInfo | None) -> QMessageBox:
    """Modeless, so the live view goes on behind it; one box, brought back each time."""
    box = getattr(parent, "about_box", None)
    if isinstance(box, QMessageBox):
        box.setText(about_html(model))
        box.open()
        return box
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About fer-desktop", about_html(model),
                      QMessageBox.StandardButton.Close, parent)
    box.setObjectName("aboutBox")
    icon = parent.windowIcon()
    if not icon.isNull():
        box.setIconPixmap(icon.pixmap(64, 64))
    box.open()
    parent.about_box = box  # for scripts and tests
    return box
