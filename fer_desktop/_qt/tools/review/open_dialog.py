"""*Review > Open dataset…*: the data (csv or class folders), its splits, the model and the
journal, with the defaults filled in."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from fer_desktop.review import DatasetRequest
from trainer.data.every_face import EVERY_S

_FER_SPLITS = ("Training", "PublicTest", "PrivateTest")


def split_choices(path: str) -> list[str]:
    """Cheap guesses for the split box (reading FER-2013 to list its splits takes seconds)."""
    p = Path(path).expanduser()
    if p.is_dir():
        from trainer.data.folders import split_names

        try:
            return split_names(p)
        except Exception:  # noqa: BLE001 - a half-typed path: no suggestions
            return []
    if p.suffix in (".csv", ".gz"):
        return list(_FER_SPLITS)
    return []


class OpenDatasetDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, *, path: str = "", model: str = "", start_dir: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a dataset for review")
        self.start_dir = start_dir
        self.path = QLineEdit(path, self)
        self.path.setPlaceholderText("a FER-2013 / FER+ csv, a folder with one folder per class, or images to label")
        folder = QPushButton("Folder…", self)
        csv = QPushButton("CSV…", self)
        folder.clicked.connect(self._pick_folder)
        csv.clicked.connect(self._pick_csv)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(folder)
        row.addWidget(csv)
        self.split = QComboBox(self)
        self.split.setEditable(True)
        self.split.setToolTip("One split, several joined with '+', or all of them")
        self.model = QLineEdit(model, self)
        self.model.setPlaceholderText("the bundled model")
        model_button = QPushButton("Model…", self)
        model_button.clicked.connect(self._pick_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(model_button)
        self.journal = QLineEdit(self)
        self.journal.setPlaceholderText("default: one journal per dataset in your data folder")
        self.face_crops = QCheckBox("These are face crops", self)
        self.face_crops.setToolTip("Each image is a face crop (FER-2013's, SFEW's): pad it, find the face again and "
                                   "re-align it, else use it as it is. Otherwise faces are found in the images. "
                                   "Set by itself for known crop datasets")
        self.every_face = QCheckBox("Every face (group photos, videos)", self)
        self.every_face.setToolTip("One sample a face: every face of each photo, and of a frame of each video every "
                                   "so many seconds, is cut once into a folder of its own (in your data folder) and "
                                   "reviewed face by face. Otherwise an image is one sample, its largest face")
        self.every_s = QDoubleSpinBox(self)
        self.every_s.setRange(0.04, 60.0)
        self.every_s.setDecimals(2)
        self.every_s.setSingleStep(0.5)
        self.every_s.setValue(EVERY_S)
        self.every_s.setPrefix("videos: a frame every ")
        self.every_s.setSuffix(" s")
        self.every_s.setEnabled(False)
        self.face_crops.toggled.connect(lambda on: on and self.every_face.setChecked(False))
        self.every_face.toggled.connect(lambda on: on and self.face_crops.setChecked(False))
        self.every_face.toggled.connect(self.every_s.setEnabled)
        self._declared: str | None = None  # what the typed dataset declares (trainer.data.input_kinds)
        form = QFormLayout(self)
        form.addRow("Dataset", row)
        form.addRow("Split", self.split)
        form.addRow("Model", model_row)
        form.addRow("Journal", self.journal)
        form.addRow("Images", self.face_crops)
        every_row = QHBoxLayout()
        every_row.addWidget(self.every_face)
        every_row.addWidget(self.every_s)
        every_row.addStretch(1)
        form.addRow("", every_row)
        note = QLabel("The model runs over every face once; the result is cached, so reopening is instant.", self)
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.path.textChanged.connect(self._fill_splits)
        self._fill_splits(path)
        self.resize(620, self.sizeHint().height())

    def _fill_splits(self, path: str) -> None:
        self._follow_declared(path)
        current = self.split.currentText()
        self.split.clear()
        choices = split_choices(path)
        self.split.addItem("all splits")
        self.split.addItems(choices)
        if current and current != "all splits":
            self.split.setEditText(current)

    def _follow_declared(self, path: str) -> None:
        """A known crop dataset (FER-2013, FER+, SFEW, a fer-dataset.json) ticks the box."""
        from trainer.data.input_kinds import declared_input

        declared = declared_input(path) if path.strip() else None
        if declared != self._declared:
            self._declared = declared
            self.face_crops.setChecked(declared == "crop")

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.start_dir)
        if path:
            self.path.setText(path)

    def _pick_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "FER-2013 or FER+ csv", self.start_dir,
                                              "CSV (*.csv *.csv.gz);;All files (*)")
        if path:
            self.path.setText(path)

    def _pick_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model", self.start_dir, "Models (*.safetensors *.json)")
        if path:
            self.model.setText(path)

    def request(self) -> DatasetRequest | None:
        path = self.path.text().strip()
        if not path:
            return None
        split = self.split.currentText().strip()  # an item's text is its split, or typed by hand
        split = "" if split == "all splits" else split
        crops = self.face_crops.isChecked()
        every_face = self.every_face.isChecked()
        # As declared when the box says what the dataset says; the user's choice otherwise.
        kind = None if every_face or crops == (self._declared == "crop") else ("crop" if crops else "auto")
        return DatasetRequest(path, split or None, self.model.text().strip() or None,
                              self.journal.text().strip() or None, kind, every_face,
                              self.every_s.value() if every_face and self.every_s.value() != EVERY_S else None)
