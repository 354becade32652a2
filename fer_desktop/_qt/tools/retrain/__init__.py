"""Retrain from the app: *Training ▸ Retrain…* fine-tunes a model on the corrected labels out
of process, the training window follows the run (curves, log, Stop / Resume), and when it
ends the old and the new model are compared on the same data; *Use new model* switches the
live view and the review to it, and *Model ▸ Models trained here* goes back.

Installs the *Training* menu (a ToolSpec); talks to the rest only through the AppContext."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from fer_desktop._qt.context import AppContext
from fer_desktop._qt.jobs import ProcessJob
from fer_desktop._qt.panels import ToolSpec, menu_action
from fer_desktop._qt.settings import value
from fer_desktop.model_history import ModelHistory, entry_from_card
from fer_desktop.retrain import RunFolder

LAST_RUN_KEY = "retrain/last_run"


class RetrainTool(QObject):
    """The Training menu, the training window (made on first use) and the run it follows."""

    runStarted = Signal(object)  # TrainingJob
    runEnded = Signal(str)  # finished | stopped | failed | detached
    comparisonReady = Signal(dict)

    def __init__(self, ctx: AppContext, menu: QMenu) -> None:
        super().__init__(menu)
        self.ctx = ctx
        self.job: Any = None  # the TrainingJob being followed
        self.run: RunFolder | None = None
        self.compare_job: ProcessJob | None = None
        self.dialog: Any = None
        self._panel: Any = None
        self.history = ModelHistory()
        # What closing the app does to a running run: "ask" (a question), "keep" or "stop".
        self.close_policy = "ask"
        self.act_retrain = menu_action(menu, "&Retrain…", self.open_dialog, "Ctrl+Shift+R",
                                       "Fine-tune the model on the corrected labels, then compare old and new")
        self.act_show = menu_action(menu, "Show &Training Window", self.show_panel)
        self.act_open_run = menu_action(menu, "&Open Run Folder…", lambda: self.open_run_folder(),
                                        tip="Follow, resume or compare a run started earlier")
        menu.addSeparator()
        self.history_menu = QMenu("Models &Trained Here", menu)
        self.history_menu.aboutToShow.connect(self.fill_history_menu)
        menu.addMenu(self.history_menu)
        self._reattach()

    def shared_menus(self) -> dict[str, QMenu]:
        """Menus of this tool that belong in the window's own menus too (Model ▸ history)."""
        return {"Model": self.history_menu}

    # ---- windows ----

    def _parent(self) -> QWidget | None:
        parent = self.ctx.parent()
        return parent if isinstance(parent, QWidget) else None

    def panel(self):
        if self._panel is None:
            from fer_desktop._qt.tools.retrain.panel import TrainingPanel

            self._panel = TrainingPanel(self._parent())
            self._panel.stopRequested.connect(self.stop)
            self._panel.resumeRequested.connect(self.resume)
            self._panel.compareRequested.connect(self.compare)
            self._panel.comparison.useNewModel.connect(self.use_model)
            self._panel.comparison.showSamples.connect(self.ctx.request_show_samples)
        return self._panel

    def show_panel(self):
        panel = self.panel()
        panel.show()
        panel.raise_()
        panel.activateWindow()
        return panel

    def open_dialog(self):
        from fer_desktop._qt.tools.retrain.dialog import RetrainDialog

        if self.job is not None and self.job.running:
            self.ctx.report("A training run is going on: stop it before starting another "
                            "(Training ▸ Show Training Window).", "warning")
            self.show_panel()
            return None
        dialog = RetrainDialog(self.ctx, self._parent())
        dialog.accepted.connect(lambda: self.start_run(dialog.spec, dialog.info))
        self.dialog = dialog
        dialog.open()
        return dialog

    # ---- the run ----

    def start_run(self, spec: Any, info: Any) -> None:
        run = RunFolder.create(spec, info)
        self._follow(run, resume=False)

    def open_run_folder(self, path: str | Path | None = None) -> None:
        """Follow a run folder the app made earlier: attach if it runs, else show where it is."""
        if path is None:
            path = QFileDialog.getExistingDirectory(self._parent(), "A run folder", str(Path.home()))
            if not path:
                return
        run = RunFolder(path)
        try:
            run.info()
        except FileNotFoundError as exc:
            self.ctx.report(str(exc), "error")
            return
        self._show_existing(run)

    def _show_existing(self, run: RunFolder, show: bool = True) -> None:
        from fer_desktop._qt.tools.retrain.job import TrainingJob

        if run.running():
            self._follow(run, attach=True)
            return
        self.run = run
        job = TrainingJob(run, parent=self)  # not started: only to read what the run wrote
        for event in job.reader.read():
            job.progress_state.add(event)
        panel = self.show_panel() if show else self.panel()
        panel.show_run(run, job.progress_state, self._about(run))
        if run.finished():
            result = run.comparison()
            panel.set_state("compared" if result else "finished", "This run has finished.")
            if result:
                panel.show_comparison(result)
        else:
            panel.set_state("stopped", "This run was stopped" + (": Resume continues it." if run.can_resume() else "."))

    def _follow(self, run: RunFolder, *, resume: bool = False, attach: bool = False) -> None:
        from fer_desktop._qt.tools.retrain.job import TrainingJob

        self.run = run
        job = TrainingJob(run, resume=resume, attach=attach, parent=self)
        self.job = job
        panel = self.panel()
        job.event.connect(panel.on_event)
        job.returned.connect(self._finished)
        job.aborted.connect(self._stopped)
        job.errored.connect(self._failed)
        self.ctx.start_job(job)
        self.ctx.settings.setValue(LAST_RUN_KEY, str(run.path))
        self.ctx.settings.sync()  # a later session looks for it there, even after a crash
        panel.show_run(run, job.progress_state, self._about(run))
        panel.set_state("running", "Resuming…" if resume else "Following the run in the background"
                        if attach else "Starting: loading the data…")
        self.show_panel()
        self.runStarted.emit(job)

    def _about(self, run: RunFolder) -> str:
        info = run.info()
        journal = f", corrections from {info.journal}" if info.journal else ", no corrections"
        if info.team:
            journal += f", labels by the votes of {len(info.team)} annotators' journals"
        base = info.base_name or Path(info.base_model).name
        return (f"<b>{info.name}</b>: fine-tuning {base} on {', '.join(info.data)}{journal}"
                f"<br><span style='color:gray'>run folder {run.path}</span>")

    def stop(self) -> None:
        if self.job is None or not self.job.running:
            return
        if self.panel().state == "stopping":  # a second press: do not wait for the batch
            self.job.kill()
            return
        self.job.cancel()
        self.panel().set_state("stopping", "Stopping after this batch (the last full epoch is kept)…")

    def resume(self) -> None:
        if self.run is None or (self.job is not None and self.job.running):
            return
        self._follow(self.run, resume=True)

    def _finished(self, run: RunFolder) -> None:
        self._add_to_history(run)
        self.panel().set_state("finished", f"Finished: {run.model_path}. Comparing the old and the new model…")
        self.runEnded.emit("finished")
        self.ctx.report(f"Training finished: {run.model_path.name} in {run.path}", "info")
        self.compare()

    def _add_to_history(self, run: RunFolder) -> None:
        info = run.info()
        try:
            self.history.add(entry_from_card(run.model_path, base_model=info.base_model,
                                             data=", ".join(info.data) + (f" + {info.journal}" if info.journal else "")))
        except (OSError, ValueError) as exc:
            self.ctx.report(f"Could not add the new model to the history: {exc}", "warning")

    def _stopped(self, text: str) -> None:
        if text.startswith("left running"):
            self.runEnded.emit("detached")
            return
        self.panel().set_state("stopped", f"Stopped: {text}.")
        self.runEnded.emit("stopped")

    def _failed(self, text: str) -> None:
        self.panel().set_state("failed", text)
        self.ctx.report(text, "error")
        self.runEnded.emit("failed")

    # ---- comparison ----

    def compare(self) -> None:
        """``fer-train compare`` of the base and the new model, out of process."""
        run = self.run
        if run is None or not run.model_path.is_file():
            return
        if self.compare_job is not None and self.compare_job.running:
            return
        command = run.compare_command()
        job = ProcessJob(command[0], command[1:], title="Comparing old and new model", parent=self)
        job.jsonObject.connect(lambda result: self._compared(run, result))
        job.line.connect(lambda text, stream: self.panel().log.appendPlainText(text) if stream == "stderr" else None)
        job.errored.connect(lambda text: self.panel().set_state("failed", f"The comparison failed: {text}"))
        self.compare_job = job
        self.panel().set_state("comparing", "Comparing the old and the new model on the same data…")
        self.ctx.start_job(job)

    def _compared(self, run: RunFolder, result: dict) -> None:
        if "sets" not in result:
            return
        import json

        run.comparison_path.write_text(json.dumps(result), encoding="utf-8")
        self._record_comparison(run, result)
        panel = self.panel()
        panel.show_comparison(result)
        first = result["sets"][0]
        panel.set_state("compared", f"{first['name']}: {100 * first['old']['accuracy']:.1f}% → "
                                    f"{100 * first['new']['accuracy']:.1f}% (old → new)")
        self.comparisonReady.emit(result)

    def _record_comparison(self, run: RunFolder, result: dict) -> None:
        for entry in self.history.entries():
            if Path(entry.path).resolve() == run.model_path.resolve():
                entry.comparison = {s["name"]: {"old": s["old"]["accuracy"], "new": s["new"]["accuracy"],
                                                "fixed": len(s["fixed"]), "broken": len(s["broken"])}
                                    for s in result["sets"]}
                for s in result["sets"]:
                    entry.metrics.setdefault(s["name"], s["new"]["accuracy"])
                self.history.add(entry)
                break

    # ---- models ----

    def use_model(self, path: str) -> None:
        """The live view, and the review if a dataset is open, switch to ``path``."""
        self.ctx.request_model(str(path))
        review = getattr(self.ctx, "review", None)
        if review is not None:
            splits = "+".join(review.splits_present()) or None
            self.ctx.request_open_dataset(review.source, splits, model=str(path), journal=str(review.journal.path))
        self.ctx.report(f"Using {Path(path).name} ({Path(path).parent}); Model ▸ Models Trained Here goes back.",
                        "info")

    def fill_history_menu(self) -> None:
        menu = self.history_menu
        menu.clear()
        bundled = menu.addAction("Bundled model")
        bundled.setStatusTip("The model that ships with fer-desktop")
        bundled.triggered.connect(lambda: self.ctx.request_model(""))
        entries = self.history.entries()
        if entries:
            menu.addSeparator()
        current = str(self.ctx.model.path) if self.ctx.model is not None and self.ctx.model.path else ""
        for entry in entries:
            act = menu.addAction(entry.label())
            act.setCheckable(True)
            act.setChecked(bool(current) and Path(current).resolve() == Path(entry.path).resolve())
            tip = f"{entry.path}\nfine-tuned from {entry.base_model} on {entry.data}"
            for name, c in entry.comparison.items():
                tip += f"\n{name}: {100 * c['old']:.1f}% → {100 * c['new']:.1f}%"
            act.setToolTip(tip)
            act.setStatusTip(entry.path)
            act.setEnabled(entry.exists())
            act.triggered.connect(lambda _=False, p=entry.path: self.use_model(p))
        menu.setToolTipsVisible(True)

    # ---- app lifetime ----

    def _reattach(self) -> None:
        """A run left training in the background by an earlier session: follow it again."""
        last = value(self.ctx.settings, LAST_RUN_KEY, "", str)
        if not last or not Path(last).is_dir():
            return
        run = RunFolder(last)
        try:
            run.info()
        except FileNotFoundError:
            return
        if run.running():
            self._follow(run, attach=True)
            self.ctx.report(f"Training {run.path.name} goes on in the background: Training ▸ Show Training Window.",
                            "info")
        elif run.finished() and run.comparison() is None:  # it ended while the app was closed
            known = {Path(e.path).resolve() for e in self.history.entries()}
            if run.model_path.resolve() not in known:
                self._add_to_history(run)
            self._show_existing(run, show=False)
            self.ctx.settings.remove(LAST_RUN_KEY)  # said once
            self.ctx.report(f"Training {run.path.name} finished while the app was closed: Training ▸ Show "
                            "Training Window compares it with the model it started from.", "info")

    def confirm_close(self) -> bool:
        """Before the app closes: keep a running run going in the background, or stop it.
        False: the user cancelled the close."""
        if self.job is None or not self.job.running:
            return True
        choice = self.close_policy
        if choice == "ask":
            box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                              "A training run is going on. Keep it training in the background (the app "
                              "follows it again when it next starts), or stop it (it keeps its last full "
                              "epoch and can be resumed)?", parent=self._parent())
            keep = box.addButton("Keep training", QMessageBox.ButtonRole.AcceptRole)
            stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            box.setDefaultButton(keep)
            box.exec()
            choice = "keep" if box.clickedButton() is keep else "stop" if box.clickedButton() is stop else "cancel"
        if choice == "cancel":
            return False
        if choice == "keep":
            self.job.detach()
        else:
            self.job.cancel()  # the window's shutdown waits for it a few seconds
        if self.compare_job is not None and self.compare_job.running:
            self.compare_job.cancel()
        if self._panel is not None:
            self._panel.close()
        return True


def retrain_tool() -> ToolSpec:
    return ToolSpec("Training", "&Training", RetrainTool)
