"""*Training ▸ Retrain…*: what to fine-tune, on which (corrected) data, with which recipe, where
to; and how long it will take on this machine. Defaults make "Start" enough: the loaded model,
the dataset under review with its journal, the recipe the model's card records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fer_desktop._qt.context import AppContext
from fer_desktop._qt.jobs import ProcessJob, ThreadJob
from fer_desktop.retrain import HOLD_OUT, RunInfo, default_test_spec, format_duration, trainer_command, val_spec_of

AS_RECORDED = "as its card records"
PRESET_TITLES = {"paper": "paper (SGD, lr 1e-3, step decay)", "modern": "modern (AdamW, cosine)",
                 "small-target": "small-target (AdamW 3e-4, class weights)"}


def _path_row(edit: QLineEdit, *buttons: QPushButton) -> QWidget:
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    for b in buttons:
        lay.addWidget(b)
    return row


def _note(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class RetrainDialog(QDialog):
    recipeLoaded = Signal(object)  # CardRecipe
    estimated = Signal(object)  # EstimateEvent

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Retrain the model on the corrected labels")
        self.setObjectName("retrainDialog")
        self.ctx = ctx
        self.recipe: Any = None  # trainer.training.spec.CardRecipe
        self.estimate: Any = None  # trainer.training.progress.EstimateEvent
        self._estimate_inputs: tuple | None = None
        self._recipe_job: ThreadJob | None = None
        self._estimate_job: ProcessJob | None = None
        # Fields the dialog fills from the data until the user types into them.
        self._edited: set[str] = set()

        # -- start from --
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("a model file (NAME.safetensors + NAME.json)")
        browse_model = QPushButton("Browse…")
        browse_model.clicked.connect(self._browse_model)
        self.model_edit.editingFinished.connect(self.load_recipe)
        self.card_note = _note("Reading the model's card…")
        model_box = QGroupBox("Start from")
        f = QFormLayout(model_box)
        f.addRow("Model:", _path_row(self.model_edit, browse_model))
        f.addRow(self.card_note)

        # -- data --
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("the dataset: class folders, FER-2013 csv or FER+ csv")
        folder, file = QPushButton("Folder…"), QPushButton("File…")
        folder.clicked.connect(lambda: self._browse_data(folder=True))
        file.clicked.connect(lambda: self._browse_data(folder=False))
        self.data_edit.editingFinished.connect(self._data_changed)
        self.journal_edit = QLineEdit()
        self.journal_edit.setPlaceholderText("relabel journal (JSONL); empty: the dataset's labels as they are")
        browse_journal = QPushButton("Browse…")
        browse_journal.clicked.connect(self._browse_journal)
        self.journal_edit.editingFinished.connect(self._update_journal_note)
        self.journal_edit.textEdited.connect(lambda _t: self._edited.add("journal"))
        self.journal_note = _note()
        # A team compared in the review (several journals): their votes can label the data too.
        self.team: tuple[str, ...] = ()
        self.team_check = QCheckBox()
        self.team_check.setToolTip("Each face labelled by the votes of the team compared in the review (the "
                                   "dataset's label one more) and trained on their distribution, as FER+'s ten "
                                   "taggers; the corrections above have the last word")
        self.team_check.hide()
        self.team_check.toggled.connect(lambda _on: self._update_val_note())  # the note names the labels
        self._val: str | None = None  # the data's validation split (None: a held-out fold); see _data_changed
        self.replay_check = QCheckBox("Replay")
        self.replay_check.setToolTip("Mix an earlier dataset into every epoch so the model does not forget it "
                                     "(e.g. FER-2013 while fine-tuning on SFEW)")
        self.replay_edit = QLineEdit()
        self.replay_edit.setPlaceholderText("PATH[#SPLIT+SPLIT]")
        self.ratio_spin = QDoubleSpinBox()
        self.ratio_spin.setRange(0.1, 64)
        self.ratio_spin.setDecimals(1)
        self.ratio_spin.setPrefix("× ")
        self.ratio_spin.setToolTip("Replayed samples per training sample, each epoch")
        self.replay_check.toggled.connect(self.replay_edit.setEnabled)
        self.replay_check.toggled.connect(self.ratio_spin.setEnabled)
        data_box = QGroupBox("Data")
        f = QFormLayout(data_box)
        f.addRow("Dataset:", _path_row(self.data_edit, folder, file))
        f.addRow("Corrections:", _path_row(self.journal_edit, browse_journal))
        f.addRow(self.journal_note)
        f.addRow(self.team_check)
        f.addRow(self.replay_check, _path_row(self.replay_edit, self.ratio_spin))

        # -- recipe --
        self.preset_combo = QComboBox()
        self.preset_combo.addItem(AS_RECORDED, None)
        for key, title in PRESET_TITLES.items():
            self.preset_combo.addItem(title, key)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(16, 512)
        self.size_spin.setSingleStep(8)
        self.size_spin.setSuffix(" px")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        recipe_box = QGroupBox("Recipe")
        grid = QFormLayout(recipe_box)
        grid.addRow("Preset:", self.preset_combo)
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        for label, spin in (("Epochs", self.epochs_spin), ("Input size", self.size_spin),
                            ("Batch", self.batch_spin), ("Seed", self.seed_spin)):
            h.addWidget(QLabel(label))
            h.addWidget(spin)
        h.addStretch(1)
        grid.addRow(row)

        # -- compare on, output --
        self.val_note = _note()
        self.test_edit = QLineEdit()
        self.test_edit.setPlaceholderText("optional: a set the corrections did not touch, PATH[#SPLIT]")
        self.test_edit.setToolTip("Compared with its own labels, so that 'better' is not just 'agrees with my edits'")
        self.test_edit.textEdited.connect(lambda _t: self._edited.add("test"))
        self.out_edit = QLineEdit()
        self.out_edit.textEdited.connect(lambda _t: self._edited.add("out"))
        browse_out = QPushButton("Browse…")
        browse_out.clicked.connect(self._browse_out)
        out_box = QGroupBox("Compare and save")
        f = QFormLayout(out_box)
        f.addRow("Validation:", self.val_note)
        f.addRow("Test set:", self.test_edit)
        f.addRow("Run folder:", _path_row(self.out_edit, browse_out))

        # -- estimate, errors, buttons --
        self.estimate_label = QLabel("Time on this machine: —")
        self.estimate_label.setWordWrap(True)  # an error message can be long; the dialog keeps its width
        self.estimate_button = QPushButton("Estimate")
        self.estimate_button.setToolTip("Load the data and time a few training batches (a few seconds)")
        self.estimate_button.clicked.connect(self.start_estimate)
        self.epochs_spin.valueChanged.connect(self._show_estimate)
        est = QHBoxLayout()
        est.addWidget(self.estimate_label, 1)
        est.addWidget(self.estimate_button)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #cf222e;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start training", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        for box in (model_box, data_box, recipe_box, out_box):
            lay.addWidget(box)
        lay.addLayout(est)
        lay.addWidget(self.error_label)
        lay.addWidget(self.buttons)
        self.resize(760, 0)
        self._fill_defaults()

    # ---- defaults ----

    def _fill_defaults(self) -> None:
        model = self.ctx.model
        if model is not None and model.path:
            self.model_edit.setText(str(model.path))
        review = getattr(self.ctx, "review", None)
        if review is not None:
            self.data_edit.setText(str(review.source))
            self.journal_edit.setText(str(review.journal.path))
            self._edited.add("journal")  # the review's own journal, whatever its name
            if review.other is not None and review.other.team:
                self.team = tuple(m.path for m in review.other.members)
                self.team_check.setText(f"Also the votes of {review.other.names()} (compared in the review), "
                                        "trained on as distributions")
                self.team_check.show()
        self._set_enabled(False)
        self.load_recipe()

    def load_recipe(self) -> None:
        """Read the model's card (in a thread: the engine's imports are heavy the first time)."""
        from trainer.training.spec import card_recipe

        path = self.model_edit.text().strip()
        if not path:
            self.card_note.setText("Choose the model to start from.")
            return
        self.card_note.setText("Reading the model's card…")
        job = ThreadJob(card_recipe, path, title="Reading the model card", parent=self)
        # Only the newest request counts: a slower, older one must not overwrite its answer.
        job.returned.connect(lambda recipe: self._recipe_ready(recipe) if job is self._recipe_job else None)
        job.errored.connect(lambda exc: self._recipe_failed(exc) if job is self._recipe_job else None)
        self._recipe_job = job
        job.start()

    def _recipe_ready(self, recipe: Any) -> None:
        self.recipe = recipe
        c = recipe.config
        trained = ", ".join(recipe.train_data)
        text = f"{recipe.card_name}, trained on {trained}. Recipe{'' if recipe.recorded else ' (not recorded)'}: " \
               f"{recipe.describe()}."
        for note in recipe.notes:
            text += f"<br><i>{note}</i>"
        self.card_note.setText(text)
        self.preset_combo.setCurrentIndex(0)
        self.epochs_spin.setValue(int(c.get("epochs", 10)))
        self.size_spin.setValue(int(c.get("input_size", 64)))
        self.batch_spin.setValue(int(c.get("batch_size", 32)))
        self.seed_spin.setValue(int(c.get("seed", 0)))
        self.replay_check.setChecked(bool(recipe.replay))
        self.replay_edit.setText(" ".join(recipe.replay))
        self.replay_edit.setEnabled(bool(recipe.replay))
        self.ratio_spin.setValue(recipe.replay_ratio)
        self.ratio_spin.setEnabled(bool(recipe.replay))
        if not self.data_edit.text().strip():
            from trainer.training.spec import locate

            for text in recipe.train_data:  # the card's own training data, when it is on this machine
                found = locate(text.partition("#")[0], [Path.cwd(), recipe.model.parent, *recipe.model.parents])
                if found:
                    self.data_edit.setText(found)
                    break
        self._set_enabled(True)
        self._data_changed()  # also starts the time estimate once there is data
        self.recipeLoaded.emit(recipe)

    def _recipe_failed(self, exc: BaseException) -> None:
        self.recipe = None
        self.card_note.setText(f"Cannot read this model: {exc}")
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        self.start_button.setEnabled(on)
        self.estimate_button.setEnabled(on)

    def _data_changed(self) -> None:
        """New data: the fields that follow from it (journal, comparison sets, run folder) are
        filled again, except those the user typed into."""
        data = self.data_edit.text().strip()
        if data and "journal" not in self._edited:
            from trainer.data.relabel import default_journal_path

            journal = default_journal_path(data)
            self.journal_edit.setText(str(journal) if journal.is_file() else "")
        self._update_journal_note()
        if data:
            try:
                val = self._val = val_spec_of([data], None)
                self._update_val_note()
                replay = self.replay_edit.text().split() if self.replay_check.isChecked() else []
                if "test" not in self._edited:
                    self.test_edit.setText(default_test_spec([data], replay, val) or "")
            except (OSError, ValueError) as exc:
                self.val_note.setText(str(exc))
        if "out" not in self._edited and self.recipe is not None:
            from trainer.training.spec import default_run_dir

            name = f"{Path(data.partition('#')[0]).name.split('.')[0] or 'data'}-retrain"
            self.out_edit.setText(str(default_run_dir(name)))
        if data and self.recipe is not None:
            self.start_estimate()

    def _update_val_note(self) -> None:
        if not self.data_edit.text().strip():
            return
        k, n = HOLD_OUT
        labels = "the team's votes and the corrections" if self.team_check.isChecked() else "the corrections"
        self.val_note.setText(f"{self._val}, with {labels} applied" if self._val else
                              f"the data has no validation split: 1 in {n} of its labelled images (a fixed "
                              f"fold, {k + 1} of {n}) is held out to choose the epoch and compare on")

    def _update_journal_note(self) -> None:
        from trainer.data.relabel import EXCLUDED, RelabelJournal, dataset_key

        journal, data = self.journal_edit.text().strip(), self.data_edit.text().strip()
        if not journal:
            self.journal_note.setText("No journal: the dataset's labels as they are.")
            return
        if not Path(journal).is_file():
            self.journal_note.setText("This journal does not exist yet (no corrections).")
            return
        try:
            key = dataset_key(data) if data else None
            state = RelabelJournal(journal, dataset=key).state()
        except (OSError, ValueError) as exc:
            self.journal_note.setText(f"Cannot read the journal: {exc}")
            return
        review = getattr(self.ctx, "review", None)
        if review is not None and Path(review.journal.path) == Path(journal) and str(review.source) == data:
            counts = review.edit_counts()  # the session knows the given labels: confirmations apart
            changed = counts["labelled_here"] + counts["relabelled"]
            kept = f", {counts['confirmed']} confirmed as they were" if counts["confirmed"] else ""
            excluded = counts["excluded"]
            self.journal_note.setText(f"{changed} labelled or relabelled{kept} and {excluded} left out"
                                      + (f" for {key}" if key else "") + ", applied to training and validation.")
            return
        excluded = sum(1 for v in state.values() if v == EXCLUDED)
        self.journal_note.setText(f"{len(state) - excluded} labels set here (relabelled or confirmed) and "
                                  f"{excluded} left out"
                                  + (f" for {key}" if key else "") + ", applied to training and validation.")

    # ---- browsing ----

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model to start from", self.model_edit.text(),
                                              "Models (*.safetensors *.json)")
        if path:
            self.model_edit.setText(path)
            self.load_recipe()

    def _browse_data(self, folder: bool) -> None:
        start = self.data_edit.text()
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", start) if folder else \
            QFileDialog.getOpenFileName(self, "Dataset file", start, "csv (*.csv *.csv.gz);;All files (*)")[0]
        if path:
            self.data_edit.setText(path)
            self._edited -= {"journal", "test"}
            self._data_changed()

    def _browse_journal(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Relabel journal", self.journal_edit.text(),
                                              "Journals (*.jsonl);;All files (*)")
        if path:
            self.journal_edit.setText(path)
            self._edited.add("journal")
            self._update_journal_note()

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Run folder", str(Path(self.out_edit.text()).parent))
        if path:
            self.out_edit.setText(path)
            self._edited.add("out")

    # ---- the run ----

    def build(self, out: str | None = None) -> tuple[Any, RunInfo]:
        """(StageSpec, RunInfo) for the fields as they are; raises DataError & co. on bad input."""
        from trainer.data.samples import DataError
        from trainer.training.spec import Overrides, spec_from_card

        if self.recipe is None:
            raise DataError("choose a model whose card can be read")
        data = self.data_edit.text().strip()
        if not data:
            raise DataError("choose the dataset to train on")
        journal = self.journal_edit.text().strip() or None
        relabels = Path(journal) if journal and Path(journal).is_file() else None
        replay = self.replay_edit.text().split() if self.replay_check.isChecked() else []
        overrides = Overrides(preset=self.preset_combo.currentData(), epochs=self.epochs_spin.value(),
                              input_size=self.size_spin.value(), batch_size=self.batch_spin.value(),
                              seed=self.seed_spin.value(), replay=replay, replay_ratio=self.ratio_spin.value(),
                              out=Path(out or self.out_edit.text().strip()) if (out or self.out_edit.text().strip())
                              else None)
        val = val_spec_of([data], None)
        fold = None if val else HOLD_OUT
        team = self.team if self.team_check.isChecked() else ()
        if team:
            overrides.config["soft_labels"] = True
        spec = spec_from_card(self.recipe.model, [data], relabels=relabels, overrides=overrides, recipe=self.recipe,
                              val_fold=fold, team=[Path(p) for p in team])
        info = RunInfo(base_model=str(self.recipe.model), base_name=self.recipe.card_name, data=list(spec.train),
                       journal=str(relabels) if relabels else None, val=val,
                       test=self.test_edit.text().strip() or None, name=spec.name,
                       val_fold=list(fold) if fold else None, team=list(team))
        return spec, info

    def _accept(self) -> None:
        from trainer.data.samples import DataError
        from trainer.errors import is_user_error, one_line

        try:
            spec, info = self.build()
            if Path(spec.out).exists() and any(Path(spec.out).iterdir()):
                raise DataError(f"{spec.out} is not empty: choose a new run folder")
        except Exception as exc:  # noqa: BLE001 - the user's mistakes are shown here; bugs go on up
            if not is_user_error(exc):
                raise
            self.error_label.setText(one_line(exc))
            return
        self.spec, self.info = spec, info
        self._cancel_estimate()
        self.accept()

    # ---- time estimate ----

    def start_estimate(self) -> None:
        """Time a few real batches out of process (``fer-train train --spec ... --estimate``)."""
        from trainer.data.relabel import user_data_dir
        from trainer.errors import is_user_error, one_line
        from trainer.training.spec import save_spec

        self._cancel_estimate()
        scratch = user_data_dir() / "runs" / ".estimate"
        try:
            spec, _ = self.build(out=str(scratch / "run"))
        except Exception as exc:  # noqa: BLE001 - the user's mistakes are shown here; bugs go on up
            if not is_user_error(exc):
                raise
            self.estimate_label.setText(f"Time on this machine: cannot estimate yet ({one_line(exc)})")
            return
        path = save_spec(spec, scratch / "spec.json")
        command = trainer_command("train", "--spec", str(path), "--estimate", "--progress", "json")
        job = ProcessJob(command[0], command[1:], title="Estimating training time", parent=self)
        job.line.connect(self._estimate_line)
        job.errored.connect(lambda text: self.estimate_label.setText(f"Time on this machine: {text}"))
        self._estimate_job = job
        self._estimate_inputs = self._inputs()
        self.estimate_label.setText("Time on this machine: measuring (loading the data, timing a few batches)…")
        self.ctx.start_job(job)

    def _estimate_line(self, text: str, stream: str) -> None:
        from trainer.training.progress import EstimateEvent, parse_event

        event = parse_event(text) if stream == "stdout" else None
        if isinstance(event, EstimateEvent):
            self.estimate = event
            self._show_estimate()
            self.estimated.emit(event)

    def _show_estimate(self, *_: Any) -> None:
        e = self.estimate
        if e is None:
            return
        epochs = self.epochs_spin.value()  # the epoch count only scales the measurement
        total = epochs * (e.batches_per_epoch * e.seconds_per_batch + e.val_seconds_per_epoch)
        stale = self._estimate_inputs is not None and self._estimate_inputs[1:] != self._inputs()[1:]
        self.estimate_label.setText(
            f"Time on this machine: about <b>{format_duration(total)}</b> on {e.device} "
            f"({epochs} epochs × {e.batches_per_epoch} batches at {e.seconds_per_batch:.2f} s"
            f" + {e.val_seconds_per_epoch:.0f} s validation; {e.train_samples} training images)"
            + (" — settings changed: Estimate again" if stale else ""))

    def _inputs(self) -> tuple:
        return (self.epochs_spin.value(), self.size_spin.value(), self.batch_spin.value(), self.data_edit.text(),
                self.replay_check.isChecked(), self.replay_edit.text(), self.ratio_spin.value(),
                self.model_edit.text(), self.journal_edit.text())

    def _cancel_estimate(self) -> None:
        if self._estimate_job is not None and self._estimate_job.running:
            self._estimate_job.cancel()
        self._estimate_job = None

    def done(self, result: int) -> None:  # accepted or rejected: no estimate left running
        self._cancel_estimate()
        super().done(result)
