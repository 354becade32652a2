"""The review window: a top-level window beside the live view, because reviewing is its own
task (a grid of thousands of faces wants the whole screen, not a dock beside a webcam).

The grid fills the middle under its filter bar; the confusion matrix docks on the left and
the selected sample's detail on the right. All label changes go through the ReviewSession
(journal first, then the screen) and a QUndoStack."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fer_desktop._qt.banner import MessageBanner
from fer_desktop._qt.context import AppContext
from fer_desktop._qt.errors import guarded
from fer_desktop._qt.jobs import JobsIndicator, ThreadJob
from fer_desktop._qt.settings import value
from fer_desktop._qt.tools.review.commands import LabelCommand
from fer_desktop._qt.tools.review.detail import DetailView
from fer_desktop._qt.tools.review.filter_bar import FilterBar
from fer_desktop._qt.tools.review.grid import SampleGrid
from fer_desktop._qt.tools.review.matrix import ConfusionMatrix
from fer_desktop._qt.tools.review.recent import fill_recent_menu, remember
from fer_desktop.review import NONE, Compared, DatasetRequest, Filter, ReviewSession, and_list
from trainer.data.relabel import EXCLUDED

if TYPE_CHECKING:
    from trainer.evaluation.agreement import Agreement

MAX_CLASSES = 8  # number keys 1-8 (FER+ has contempt)
CONFIRM_ABOVE = 50  # a key press that changes more faces than this asks first (Ctrl+A, then a digit)
RELEARN_EVERY = 20  # once suggestions are learnt (Ctrl+L), they are learnt again after this many new labels


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area: a dock can then be narrower and shorter than its
    content (a 1366x768 laptop screen) and scrolls instead of pushing the window past the screen."""
    area = QScrollArea()
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the grid
    area.setWidget(widget)
    return area


def _home(path: str | Path) -> str:
    """A path with the home folder as ~ (window titles)."""
    p, home = str(path), str(Path.home())
    return "~" + p[len(home):] if p.startswith(home + "/") else p


def scores_note(s: ReviewSession) -> str:
    """How the ranking was made and what the tile marks mean (below the matrix)."""
    if s.issues is None:
        return ""
    method = s.issues.method.replace("_", " ")
    flagged = int(s.flagged.sum())
    lacked = [c for c, lacks in zip(s.classes, s.model_lacks) if lacks]
    n_lacked = sum(1 for g in s.given if g >= 0 and s.model_lacks[g])
    unscored = (f" The {n_lacked:,} faces labelled {', '.join(lacked)}, a class the model does not have, are "
                "not scored: nothing it says can confirm or doubt such a label." if n_lacked else "")
    labelled = int((s.given >= 0).sum())
    errors = (f"<p><b>Likely label errors</b>: {flagged:,} of {labelled:,} labelled faces flagged by cleanlab. "
              f"Scores ({method}, 0–1, low = likely wrong) from {s.issues.which_probabilities()}.{unscored}</p>"
              if labelled else "")  # images that all came without a label have none to doubt
    return (f"{_to_label_note(s)}{errors}"
            "<p><b>Tiles</b>: <span style='color:#30a46c'>▌</span> prediction agrees with the label, "
            "<span style='color:#e5484d'>▌</span> it does not; "
            "<span style='background:#ffc53d'>&nbsp;!&nbsp;</span> flagged; "
            "<span style='color:#f76b15'>◥</span> relabelled; "
            "<span style='background:#30a46c; color:#ffffff'>&nbsp;✓&nbsp;</span> label confirmed; "
            "<span style='color:#e5484d'>✕</span> excluded; "
            "<span style='background:#60646c; color:#ffffff'>&nbsp;∅&nbsp;</span> no face found; "
            "<span style='background:#0090ff; color:#ffffff'>&nbsp;=&nbsp;</span> an exact copy is in the data, "
            "<span style='background:#0090ff; color:#ffffff'>&nbsp;≈&nbsp;</span> a near copy (cropped, lit or encoded otherwise, or mirrored).</p>"
            f"{_non_faces_note(s)}{_copies_note(s)}"
            "<p><b>Keys</b>: 1–{k} label (the given label's own key confirms it: checked, kept), Enter the "
            "suggested class (the model's, until Ctrl+L learns from your labels), 0 back to untouched, X not a face, "
            "Space / arrows next and "
            "previous, Shift/Ctrl+click or Ctrl+A select several (a key then changes them all), Ctrl+Z / "
            "Ctrl+Shift+Z undo and redo. Every change is in the journal at once.</p>"
            ).replace("{k}", str(len(s.classes)))


def team_note(s: ReviewSession) -> str:
    """With a team compared: how far everyone agrees, and each against the others' majority."""
    team = s.team_agreement()
    if team is None:
        return ""
    from trainer.evaluation.agreement import coefficient

    each = ", ".join(f"{name} {100 * alike / n:.0f}% of {n:,}" if n else f"{name} -"
                     for name, (alike, n) in team.with_the_others().items())
    names = and_list([m.name for m in s.other.members] + ["you"])
    return (f"<p><b>The team</b> ({names}): Krippendorff's alpha {coefficient(team.alpha)} on the faces two or more "
            f"judged. Each against the others' majority: {each}; one far below the rest judges differently "
            f"(careless, or seeing what the others miss). {_split_the_team(len(s.other.split))} "
            "(Show ▸ <i>the team is split</i>).</p>")


def _to_label_note(s: ReviewSession) -> str:
    """What to do with faces that came without a label (an image each, or cut from photos: every face)."""
    new = int((s.given < 0).sum())
    if not new:
        return ""
    return (f"<p><b>To label</b>: {new:,} face{'s' * (new != 1)} came without a label (Label ▸ <i>unlabelled</i> "
            "shows those still without one, the model's least sure first). Enter takes the suggested class "
            "for the selected faces, 1–{k} another; after some labels, Ctrl+L learns suggestions from them. "
            "Export Corrected Dataset writes class folders, the images still to label in <i>unlabelled/</i>.</p>")


def _non_faces_note(s: ReviewSession) -> str:
    if s.doubts is None:
        return ""
    missing, blank = int(s.face_missing.sum()), int(s.doubts.blank.sum())
    return (f"<p><b>Not a face?</b> No face found in {missing:,}" + (f" ({blank:,} blank)" if blank else "")
            + "; Order ▸ <i>likely not a face first</i> puts them first, then the faces the model finds least "
            "like the others. Ctrl+4 shows them; Ctrl+A, X excludes them all.</p>")


def _copies_note(s: ReviewSession) -> str:
    copied = int(s.copied().sum())
    if not copied:
        return ""
    from trainer.evaluation.duplicates import UNIQUE, disagreeing

    groups = int(s.copy_group.max()) + 1  # numbered 0 .. groups - 1
    given_otherwise = int(disagreeing(s.copy_group, s.given).sum())  # the dataset's labels: fixed, unlike corrections
    split = int(s.copied("split").sum())
    exact = int((s.exact_group != UNIQUE).sum())
    return (f"<p><b>Copies</b>: {copied:,} faces in {groups:,} group{'s' * (groups != 1)} of one photo each "
            f"({exact:,} exact copies: =, the rest near copies: ≈); the dataset gives "
            f"{given_otherwise:,} of them a label their copy does not have (Ctrl+5 shows those still in conflict), "
            f"{split:,} have a copy in another split. Ctrl+D shows a face's copies.</p>")


class ReviewWindow(QMainWindow):
    sessionChanged = Signal(object)  # ReviewSession
    loadFailed = Signal(str)
    exported = Signal(str, str)  # what ("journal" | "csv" | "dataset"), path

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, *, cache_dir: str | None = None,
                 device: str = "auto") -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setObjectName("reviewWindow")
        self.setWindowTitle("Review: fer-desktop")
        self.ctx = ctx
        self.cache_dir = cache_dir
        self.device = device
        self.session: ReviewSession | None = None
        self.filter = Filter()
        self.request: DatasetRequest | None = None  # what the session was opened from (Open Recent keeps it)
        self.sort: tuple[str, bool] = ("score", False)
        self.load_job: ThreadJob | None = None
        self.export_job: ThreadJob | None = None
        self.learn_job: ThreadJob | None = None
        self.undo_stack = QUndoStack(self)
        self._build_central()
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_status()
        self.ctx.jobStarted.connect(self._track_job)
        self.resize(1500, 940)
        geometry = ctx.settings.value("review/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = ctx.settings.value("review/state")
        self._layout_restored = state is not None and self.restoreState(state)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._layout_restored:  # first run: room for the matrix and the sample
            self._layout_restored = True
            self.resizeDocks(list(self.docks.values()), [440, 460], Qt.Orientation.Horizontal)

    # ------------------------------------------------------------------ construction

    def _build_central(self) -> None:
        central = QWidget(self)
        self.banner = MessageBanner(central)
        self.filter_bar = FilterBar(central)
        self.grid = SampleGrid(central)
        self.placeholder = QWidget(central)
        self.placeholder_text = QLabel("Open a dataset to review it: Review ▸ Open dataset… (Ctrl+O).\n"
                                       "Any dataset the trainer reads: a FER-2013 or FER+ csv, class folders, "
                                       "or a folder of images to label.",
                                       self.placeholder)
        self.placeholder_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder_text.setWordWrap(True)
        self.load_indicator = JobsIndicator(self.placeholder)
        lay = QVBoxLayout(self.placeholder)
        lay.addStretch(1)
        lay.addWidget(self.placeholder_text)
        lay.addWidget(self.load_indicator, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(1)
        self.stack = QStackedWidget(central)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.grid)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(4, 4, 4, 0)
        outer.setSpacing(4)
        outer.addWidget(self.banner)
        outer.addWidget(self.filter_bar)
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.filter_bar.setEnabled(False)
        self.filter_bar.filterChanged.connect(self.apply_filter)
        self.filter_bar.sortChanged.connect(self._sort_changed)
        self.filter_bar.textDone.connect(self.grid.setFocus)
        self.grid.currentSampleChanged.connect(self._show_detail)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._show_tile_menu)
        self.grid.selectionModel().selectionChanged.connect(self._say_selection)

    def _build_docks(self) -> None:
        self.matrix = ConfusionMatrix(self)
        self.detail = DetailView(self)
        self.about_scores = QLabel(self)
        self.about_scores.setWordWrap(True)
        self.about_scores.setTextFormat(Qt.TextFormat.RichText)
        self.about_scores.setContentsMargins(6, 0, 6, 6)
        left = QWidget(self)
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.matrix)
        left_lay.addWidget(self.about_scores)
        left_lay.addStretch(1)
        self.matrix.cellClicked.connect(self._cell_clicked)
        self.detail.stateRequested.connect(self.set_state)
        self.detail.suggestedRequested.connect(self.label_as_suggested)
        self.docks: dict[str, QDockWidget] = {}
        for key, title, widget, area in (
                ("reviewMatrix", "Confusion matrix", left, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("reviewDetail", "Sample", self.detail, Qt.DockWidgetArea.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(key)
            dock.setWidget(_scrolling(widget))
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.addDockWidget(area, dock)
            self.docks[key] = dock

    def _action(self, text: str, slot, keys: list | None = None, tip: str = "", checkable: bool = False) -> QAction:
        act = QAction(text, self)
        if keys:
            act.setShortcuts([QKeySequence(k) for k in keys])
        act.setToolTip(tip or text.replace("&", "").replace("…", ""))
        act.setStatusTip(act.toolTip())
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a("&Open Dataset…", lambda: self.open_dialog(), ["Ctrl+O"])
        self.act_import_journal = a("&Import Journal…", lambda: self.import_journal(),
                                    tip="Take another annotator's labels for this dataset from their journal (or an "
                                        "export of it); where you changed a face later, yours stay. One undo step")
        self.act_compare = a("Co&mpare With Journal…", lambda: self.compare_journal(),
                             tip="Another annotator's journal beside yours, or a team's (choose several), taking "
                                 "nothing: how far you agree (Cohen's kappa; a team: Krippendorff's alpha) and the "
                                 "faces you judged differently")
        self.act_stop_comparing = a("Stop Com&paring", lambda: self.stop_comparing(),
                                    tip="Put the compared journal away; the dataset opens without it from now on")
        self.act_take_theirs = a("Take &Their Label", lambda: self.take_theirs(), ["T"],
                                 tip="Give the selected faces the compared journal's label, a team's majority (Review ▸ Compare With "
                                     "Journal)")
        self.act_export_journal = a("Export &Journal…", lambda: self.export_journal(),
                                    tip="A copy of the relabel journal (JSONL)")
        self.act_export_csv = a("Export Ranked &CSV…", lambda: self.export_csv(), ["Ctrl+E"],
                                tip="id, path, given, corrected, predicted, confidence, score; likeliest error first")
        self.act_export_data = a("Export Corrected &Dataset…", lambda: self.export_dataset(),
                                 tip="A copy of the dataset with the corrections applied and excluded faces left out")
        self.act_close = a("&Close Window", self.close, ["Ctrl+W"])
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addActions([self.act_undo, self.act_redo])
        self.label_actions: list[QAction] = []
        for k in range(MAX_CLASSES):
            act = a(f"Label {k + 1}", lambda _=False, k=k: self.set_label_index(k), [str(k + 1)])
            self.label_actions.append(act)
        self.act_accept = a("Label as &Suggested", lambda: self.label_as_suggested(), ["Return", "Enter"],
                            tip="Take the suggested class (the model's, until suggestions are learnt from your "
                                "labels) as the label of the selected faces: check, then Enter")
        self.act_learn = a("&Learn Suggestions from My Labels", lambda: self.learn_suggestions(), ["Ctrl+L"],
                           tip="Fit a head on the model's features to the labels given so far; the suggestions "
                               "follow it where it beats the model on your own labels")
        # Enter only from the grid: in the id box it ends the typing, and must not label a face.
        self.act_accept.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.removeAction(self.act_accept)
        self.grid.addAction(self.act_accept)
        self.act_withdraw = a("&Withdraw Correction", lambda: self.set_state(None), ["0", "Backspace"],
                              tip="Back to the dataset's own label, not checked (a correction, a confirmation or "
                                  "an exclusion withdrawn)")
        self.act_exclude = a("E&xclude (Not a Face)", lambda: self.set_state(EXCLUDED), ["X"],
                             tip="Leave the sample out of training and evaluation")
        self.act_select_all = a("Select &All Shown", lambda: self.grid.selectAll(), ["Ctrl+A"],
                                tip="Select every tile the grid shows: a label key then changes them all")
        self.act_advance = a("&Advance After Labelling", lambda on: self.ctx.settings.setValue("review/advance", on),
                             checkable=True, tip="Go to the next sample after a label key")
        self.act_advance.setChecked(value(self.ctx.settings, "review/advance", True, bool))
        self.act_next = a("&Next Sample", lambda: self.grid.step(1), ["Space"])
        self.act_prev = a("&Previous Sample", lambda: self.grid.step(-1), ["Shift+Space"])
        self.act_all = a("&Show All", self.show_all, ["Escape"])
        self.act_find = a("&Find by Id…", lambda: self.filter_bar.text_box.setFocus(), ["Ctrl+F"],
                          tip="Type part of an id or file path: the grid shows the samples that contain it")
        self.act_wrong = a("Show &Wrong Predictions", lambda: self.apply_filter(Filter(correct=False)), ["Ctrl+1"])
        self.act_flagged = a("Show &Flagged Labels", lambda: self.apply_filter(Filter(flagged=True)), ["Ctrl+2"])
        self.act_edited = a("Show &Relabelled", lambda: self.apply_filter(Filter(relabelled=True)), ["Ctrl+3"])
        self.act_no_face = a("Show &No Face Found", lambda: self.apply_filter(Filter(face=False)), ["Ctrl+4"],
                             tip="Blank images and crops where the detector found no face")
        self.act_disagree = a("Show Copies &Labelled Otherwise", lambda: self.apply_filter(Filter(copies="disagree")),
                              ["Ctrl+5"], tip="Copies of one photo whose labels differ: one of them is likely wrong")
        self.act_copies = a("Show &Copies of This Face", self.show_copies, ["Ctrl+D"],
                            tip="The selected face and its copies in the dataset, exact and near")
        self.act_track = a("Show This Face's &Track", self.show_track, ["Ctrl+J"],
                           tip="Every face of a video: the same person's face in the other sampled frames (then "
                               "Ctrl+A and a label key give them one label)")
        self.act_percent = a("Row &Percentages", self.matrix.normalise_box.setChecked, ["Ctrl+P"], checkable=True)
        self.act_larger = a("&Larger Tiles", lambda: self.grid.zoom(1), ["Ctrl++", "Ctrl+="], tip="Also Ctrl+wheel")
        self.act_smaller = a("&Smaller Tiles", lambda: self.grid.zoom(-1), ["Ctrl+-"], tip="Also Ctrl+wheel")
        self.grid.set_thumb(value(self.ctx.settings, "review/thumb", self.grid.cache.thumb, int))
        self.grid.thumbChanged.connect(lambda px: self.ctx.settings.setValue("review/thumb", px))
        self.matrix.normalise_box.toggled.connect(self.act_percent.setChecked)
        self._enable(False)
        self.act_take_theirs.setEnabled(False)  # until a journal is compared
        self.act_stop_comparing.setEnabled(False)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Review")
        m.addAction(self.act_open)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(
            lambda: fill_recent_menu(self.recent_menu, self.ctx.settings, self.open_dataset))
        for act in (None, self.act_import_journal, self.act_compare, self.act_stop_comparing, self.act_export_journal, self.act_export_csv,
                    self.act_export_data, None, self.act_close):
            m.addSeparator() if act is None else m.addAction(act)
        m = mb.addMenu("&Edit")
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        m.addSeparator()
        self.label_menu = m
        for act in self.label_actions:
            m.addAction(act)
        for act in (self.act_accept, self.act_learn, self.act_take_theirs, None, self.act_withdraw, self.act_exclude,
                    None, self.act_select_all, self.act_advance):
            m.addSeparator() if act is None else m.addAction(act)
        m = mb.addMenu("&Go")
        for act in (self.act_next, self.act_prev, None, self.act_all, self.act_wrong, self.act_flagged, self.act_edited,
                    self.act_no_face, self.act_disagree, self.act_copies, self.act_track, self.act_find):
            m.addSeparator() if act is None else m.addAction(act)
        m = mb.addMenu("&View")
        m.addAction(self.act_percent)
        m.addAction(self.act_larger)
        m.addAction(self.act_smaller)
        m.addSeparator()
        for dock in self.docks.values():
            m.addAction(dock.toggleViewAction())

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.jobs_indicator = JobsIndicator(bar)
        self.journal_label = QLabel("journal —", bar)
        self.journal_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addPermanentWidget(self.jobs_indicator)
        bar.addPermanentWidget(self.journal_label)

    def _enable(self, on: bool) -> None:
        for act in (self.act_import_journal, self.act_compare, self.act_export_journal, self.act_export_csv,
                    self.act_export_data, self.act_withdraw,
                    self.act_exclude, self.act_next, self.act_prev, self.act_all, self.act_wrong, self.act_flagged,
                    self.act_edited, self.act_no_face, self.act_disagree, self.act_copies, self.act_track,
                    self.act_select_all,
                    self.act_find, self.act_accept, self.act_learn, *self.label_actions):
            act.setEnabled(on)

    def _track_job(self, job) -> None:
        self.jobs_indicator.track(job)
        if job is self.load_job:
            self.load_indicator.track(job)

    # ------------------------------------------------------------------ opening

    @guarded
    def open_dialog(self) -> None:
        from fer_desktop._qt.tools.review.open_dialog import OpenDatasetDialog

        model = str(self.ctx.model.path) if self.ctx.model is not None and self.ctx.model.path else ""
        dialog = OpenDatasetDialog(self, path=value(self.ctx.settings, "review/last_path", "", str), model=model,
                                   start_dir=value(self.ctx.settings, "paths/last_dir", str(Path.home()), str))
        if dialog.exec() and dialog.request() is not None:
            self.open_dataset(dialog.request())

    @guarded
    def open_dataset(self, request: DatasetRequest) -> None:
        """Load in the background (model, faces, predictions, scores); the window stays usable."""
        from fer_desktop.review_io import open_session

        if self.load_job is not None:
            self.load_job.cancel()
        self.ctx.settings.setValue("review/last_path", request.path)
        name = Path(request.path).name + (f" ({request.split})" if request.split else "")
        job = ThreadJob(open_session, request, title=f"Opening {name}", parent=self,
                        cache_dir=self.cache_dir, device=self.device)
        job.returned.connect(lambda session: self._opened(request, session))
        job.errored.connect(self._load_failed)
        job.aborted.connect(lambda text: self.banner.show_message(f"Opening {name} cancelled.", "info", "load"))
        job.finished.connect(lambda: self._load_ended(job))
        self.load_job = job
        if self.session is None:
            self.placeholder_text.setText(f"Opening {request.path}…\nThe model runs over every face once; "
                                          "the result is cached for next time.")
        self.banner.clear_topic("load")
        self.ctx.start_job(job)

    def _opened(self, request: DatasetRequest, session: ReviewSession) -> None:
        remember(self.ctx.settings, request)
        self.set_session(session, request)

    def _load_ended(self, job: ThreadJob) -> None:
        if self.load_job is job:
            self.load_job = None
            if self.session is None:
                self.placeholder_text.setText("Open a dataset to review it: Review ▸ Open dataset… (Ctrl+O).")

    def _load_failed(self, exc: BaseException) -> None:
        from trainer.data.samples import DataError
        from trainer.models.card import ModelLoadError

        text = str(exc) if isinstance(exc, (DataError, ModelLoadError, OSError)) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (DataError, ModelLoadError, OSError)):
            from fer_desktop._qt.errors import log

            log.error("opening a dataset failed", exc_info=exc)
        self.banner.show_message(f"Could not open the dataset: {text}", "error", "load")
        self.loadFailed.emit(text)

    @guarded
    def set_session(self, session: ReviewSession, request: DatasetRequest | None = None) -> None:
        if self.session is not None:
            self.session.listeners.clear()
        self.session, self.request = session, request
        session.listeners.append(self._on_label_change)
        self.undo_stack.clear()
        self.grid.set_session(session)
        self.filter_bar.set_session(session)
        self.filter_bar.setEnabled(True)
        self.detail.set_session(session)
        for k, act in enumerate(self.label_actions):
            act.setVisible(k < len(session.classes))
            if k < len(session.classes):
                act.setText(f"Label as {session.classes[k]}")
        self._enable(True)
        self._comparing(session.other)  # the matrix and its notes; T and Stop Comparing after _enable
        self.stack.setCurrentWidget(self.grid)
        # Images to label: those first, the ones the model is least sure of at the top (they need
        # a person; the sure ones can then be taken a class at a time: Ctrl+A, Enter). Else the
        # likeliest label errors first.
        to_label = bool(session.unlabelled().any())
        self.filter_bar.set_sort("confidence" if to_label else "score")
        self.sort = self.filter_bar.sort
        self.apply_filter(Filter(label=NONE) if to_label else Filter())
        self.grid.setFocus()
        self._update_title()
        self.banner.clear_topic("load")
        if session.opening_note:
            self.banner.show_message(session.opening_note, "info", "load")
        if self.request is not None and self.request.compare:  # compared when last open: compared again
            self._compare_again(self.request.compare)
        self.ctx.dataset_opened(session)
        self.sessionChanged.emit(session)

    def _update_title(self) -> None:
        s = self.session
        if s is None:
            return
        counts = s.edit_counts()
        edits = counts["labelled_here"] + counts["relabelled"] + counts["excluded"]
        self.setWindowTitle(f"Review {s.name}: {len(s):,} faces, {edits} edited"
                            + (f", {counts['confirmed']} confirmed" if counts["confirmed"] else "")
                            + f" — journal {_home(s.journal.path)}")
        self.journal_label.setText(f"journal {_home(s.journal.path)}")
        self.journal_label.setToolTip("Every change is written here at once (append-only, fsync'ed)")

    # ------------------------------------------------------------------ what is shown

    @guarded
    def apply_filter(self, f: Filter) -> None:
        if self.session is None:
            return
        self.filter = f
        current = self.grid.current_sample()
        order = self.session.view(f, *self.sort)
        self.grid.set_order(order, keep=current if current >= 0 else None)
        self.filter_bar.set_filter(f)
        self.filter_bar.set_count(len(order), len(self.session))
        self.matrix.select_cell(f.label, f.predicted)
        if len(order) == 0:
            self.detail.show_sample(-1)

    def show_ids(self, ids: list[str], title: str) -> int:
        """Show just these samples (e.g. those a retrained model now gets wrong); returns how
        many of them this dataset has."""
        if self.session is None:
            self.banner.show_message(f"{title}: open their dataset first.", "warning", "ids")
            return 0
        found, missing = self.session.find(ids)
        self.apply_filter(Filter(ids=frozenset(found), title=f"{title} ({len(found)})"))
        if missing:
            self.banner.show_message(f"{title}: {len(missing)} of {len(ids)} ids are not in {self.session.name}.",
                                     "warning", "ids")
        self.show()
        self.raise_()
        return len(found)

    def show_copies(self) -> None:
        """The current face and its copies, exact and near (Ctrl+A then a label key relabels them together)."""
        i = self.grid.current_sample()
        if self.session is None or i < 0:
            return
        copies = self.session.copies_of(i)
        if not len(copies):
            self.banner.show_message(f"{self.session.ids[i]} has no copy in {self.session.name}.", "info", "ids")
            return
        self.apply_filter(Filter(ids=frozenset([i, *copies.tolist()]),
                                 title=f"{self.session.ids[i]} and its copies ({len(copies) + 1})"))

    def show_track(self) -> None:
        """The current face's video track, in frame order (Ctrl+A then a label key labels it whole)."""
        i = self.grid.current_sample()
        if self.session is None or i < 0:
            return
        track = self.session.track_of(i)
        if not len(track):
            self.banner.show_message(f"{self.session.ids[i]} is not a face of a video opened with Every face.",
                                     "info", "ids")
            return
        origin = self.session.origins[i]
        self.apply_filter(Filter(ids=frozenset(track.tolist()),
                                 title=f"{Path(origin.image).name}, track {origin.track + 1} ({len(track)} faces)"))
        self.filter_bar.set_sort("id")  # frame order

    def show_all(self) -> None:
        self.apply_filter(Filter())
        self.grid.setFocus()  # Esc from the text box gives the keys back to the grid

    def _sort_changed(self, key: str, reverse: bool) -> None:
        self.sort = (key, reverse)
        self.apply_filter(self.filter)

    def _cell_clicked(self, label: int | None, predicted: int | None) -> None:
        self.apply_filter(Filter().with_cell(label, predicted))
        self.grid.setFocus()

    def _say_selection(self) -> None:
        n = len(self.grid.selected_rows())
        self.detail.set_selection_count(n)
        if n > 1:
            self.statusBar().showMessage(f"{n:,} faces selected: a label key, 0 or X changes all of them")
        else:
            self.statusBar().clearMessage()

    def _show_tile_menu(self, pos) -> QMenu | None:
        """Right click: the menu for the selection, or for the tile alone when it is not in it
        (shown without waiting for it: it deletes itself once closed)."""
        from fer_desktop._qt.tools.review.tile_menu import tile_menu

        index = self.grid.indexAt(pos)
        if not index.isValid():  # the menu key, or a click between tiles: the current tile's menu
            index = self.grid.currentIndex()
            pos = self.grid.visualRect(index).center()
        if not index.isValid() or self.session is None:
            return None
        if not self.grid.selectionModel().isSelected(index):
            self.grid.setCurrentIndex(index)
        menu = tile_menu(self, self.grid.selected_samples())
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.grid.viewport().mapToGlobal(pos))
        return menu

    def _show_detail(self, sample: int) -> None:
        self.detail.show_sample(sample)

    # ------------------------------------------------------------------ labelling

    def set_label_index(self, k: int) -> None:
        if self.session is not None and k < len(self.session.classes):
            self.set_state(self.session.classes[k])

    @guarded
    def set_state(self, state: str | None) -> None:
        """Label, withdraw (None) or exclude the selected samples (the current one when one is
        selected): on disk before the screen changes, one undo step however many."""
        if self.session is None:
            return
        what = ("withdraw the corrections of" if state is None else "exclude" if state == EXCLUDED
                else f"relabel as {state}")
        self._change_selection(what, lambda samples: self.session.set_states(samples, state))

    @guarded
    def label_as_suggested(self) -> None:
        """Label the selected samples with their suggested class each: one undo step."""
        if self.session is None or not self.session.has_predictions:
            return
        self._change_selection("label as suggested", self.session.label_as_suggested)

    def _change_selection(self, what: str, change) -> None:
        """Apply ``change`` (selected samples -> journal records) to the selection, asking first
        when it is large (``what``: the change in words); one undo step; one face: go on."""
        samples = self.grid.selected_samples()
        if not samples or (len(samples) > CONFIRM_ABOVE and not self.confirm_batch(len(samples), what)):
            return
        records = change(samples)
        if records:
            self.undo_stack.push(LabelCommand(self.session, records))
        if len(samples) == 1 and self.act_advance.isChecked():
            self.grid.step(1)

    @guarded
    def learn_suggestions(self, automatic: bool = False) -> None:
        """Learn suggestions from the labels given so far, in a thread; the grid and the sample
        show them when they arrive. ``automatic``: a relearn after new labels, said quietly."""
        s = self.session
        if s is None or not s.has_predictions or self.learn_job is not None:
            return
        job = ThreadJob(s.learn_suggestions, title="Learning suggestions from your labels", parent=self)
        job.returned.connect(lambda found, s=s: self._suggestions_learnt(s, found, automatic))
        job.errored.connect(lambda exc: self.banner.show_message(f"Could not learn suggestions: {exc}", "error",
                                                                 "suggest"))
        job.finished.connect(self._learn_ended)
        self.learn_job = job
        self.ctx.start_job(job)

    def _suggestions_learnt(self, session: ReviewSession, found, automatic: bool = False) -> None:
        if session is not self.session:  # another dataset opened meanwhile
            return
        session.set_suggestions(found)
        self.grid.refresh_all()
        self.detail.show_sample(self.detail.sample)
        text = f"Suggestions: {found.describe()}."
        if automatic:
            self.statusBar().showMessage(text, 10000)
        else:
            self.banner.show_message(f"{text} They are learnt again after every {RELEARN_EVERY} new labels.",
                                     "info", "suggest")

    def _relearn_if_due(self) -> None:
        """Suggestions the user asked for keep up with the labels: learnt again every RELEARN_EVERY."""
        s = self.session
        if s is not None and s.suggestions is not None and \
                int((s.labels() >= 0).sum()) - s.suggestions.labelled >= RELEARN_EVERY:
            self.learn_suggestions(automatic=True)

    def _learn_ended(self) -> None:
        self.learn_job = None

    def confirm_batch(self, n: int, what: str) -> bool:
        """Ask before one key press changes many faces (undo would put them back, but say it);
        ``what`` is the change in words ("exclude")."""
        answer = QMessageBox.question(self, "Change many faces?",
                                      f"{what[0].upper() + what[1:]} the {n:,} selected faces? "
                                      "(Ctrl+Z undoes it in one step.)")
        return answer == QMessageBox.StandardButton.Yes

    def _on_label_change(self, indices: list[int], records: list[dict]) -> None:
        """The session changed these samples (a key, a button, undo or redo)."""
        for i in indices:
            self.grid.refresh(i)
        self.matrix.show_session(self.session)
        if self.session.other is not None and self.session.other.team:  # its agreement moves as you settle it
            self._update_about()
        if records[0]["op"] in ("undo", "redo") and len(indices) == 1:  # show what changed back
            row = self.grid.grid_model.row_of(indices[0])
            if row >= 0:
                self.grid.go_to_row(row)
        if self.detail.sample in indices:
            self.detail.show_sample(self.detail.sample)
        self._update_title()
        self._relearn_if_due()
        self.ctx.labels_changed(self.session.dataset, [self.session.ids[i] for i in indices])

    # ------------------------------------------------------------------ exports

    def _save_path(self, title: str, suggestion: str, filters: str) -> str:
        start = Path(value(self.ctx.settings, "paths/last_dir", str(Path.home()), str)) / suggestion
        path, _ = QFileDialog.getSaveFileName(self, title, str(start), filters)
        if path:
            self.ctx.settings.setValue("paths/last_dir", str(Path(path).parent))
        return path

    @guarded
    def export_journal(self, path: str | None = None) -> None:
        from fer_desktop.review_io import export_journal

        if self.session is None:
            return
        path = path or self._save_path("Export the journal", f"{self.session.dataset}-relabels.jsonl",
                                       "JSON lines (*.jsonl);;All files (*)")
        if path:
            out = export_journal(self.session, path)
            self._exported("journal", str(out))

    def _other_journals(self, title: str, paths: str | Sequence[str] | None, own: str,
                        several: bool = False) -> list[str]:
        """Other annotators' journals: ``paths``, else the one the user picks (``several``: or a
        team's); none when none is picked or one is this dataset's own (``own``: what the banner
        then says to do)."""
        if self.session is None:
            return []
        if paths is None:
            start, files = str(Path(self.session.journal.path).parent), "JSON lines (*.jsonl);;All files (*)"
            if several:
                paths, _ = QFileDialog.getOpenFileNames(self, title, start, files)
            else:
                path, _ = QFileDialog.getOpenFileName(self, title, start, files)
                paths = [path] if path else []
        paths = [paths] if isinstance(paths, str) else list(paths)
        mine = Path(self.session.journal.path).resolve()
        if any(Path(p).resolve() == mine for p in paths):
            self.banner.show_message(f"That is this dataset's own journal: {own}.", "warning", "journal")
            return []
        return paths

    @guarded
    def import_journal(self, path: str | None = None) -> dict[str, int] | None:
        """Another annotator's journal into this one: one undo step; the banner says what came."""
        paths = self._other_journals("Import a journal", path, "nothing to import")
        if not paths:
            return None
        path = paths[0]
        from trainer.data.samples import DataError

        try:
            records, counts = self.session.import_journal(path)
        except DataError as exc:  # the user's file: said here; anything else is a bug and keeps its traceback
            self.banner.show_message(f"Could not import: {exc}", "error", "journal")
            return None
        if records:
            self.undo_stack.push(LabelCommand(self.session, records))
        notes = [f"{counts['kept']} kept where you changed the face later"] if counts["kept"] else []
        if counts["not_here"]:
            notes.append(f"{counts['not_here']} for faces this data does not have")
        if counts["unusable"]:
            notes.append(f"{counts['unusable']} naming a class it does not have")
        self.banner.show_message(f"Imported {counts['taken']} label change{'s' * (counts['taken'] != 1)} from "
                                 f"{Path(path).name}" + (f" ({'; '.join(notes)})" if notes else "") + ".",
                                 "info", "journal")
        return counts

    @guarded
    def compare_journal(self, paths: str | Sequence[str] | None = None) -> Agreement | None:
        """Another annotator's journal beside this one, or a team's (several chosen at once),
        nothing taken: the banner says how far you agree, the grid shows the faces you judged
        differently, T takes their label (a team's: its majority)."""
        paths = self._other_journals("Compare with a journal (or a team's: choose several)", paths,
                                     "choose another annotator's", several=True)
        if not paths:
            return None
        from trainer.data.samples import DataError
        from trainer.evaluation.agreement import coefficient, describe

        try:
            result = self.session.compare_journals(paths)
        except DataError as exc:  # the user's file: said here; anything else is a bug and keeps its traceback
            self.banner.show_message(f"Could not compare: {exc}", "error", "journal")
            return None
        other = self.session.other
        self._comparing(other)
        self._remember_compare(tuple(paths))
        text = describe(result, "you", other.name if not other.team else "the team's majority") + "."
        team = self.session.team_agreement()
        if team is not None:
            text = (f"Compared with {other.names()}: Krippendorff's alpha {coefficient(team.alpha)} for all "
                    f"{len(team.annotators)} of you; {_split_the_team(len(other.split))}. "
                    + text[0].upper() + text[1:])
        if result.disagreeing:
            text += (f" Shown: the {len(result.disagreeing):,} you disagree on; T takes {other.name}'s label, "
                     "1–7 another.")
            self.apply_filter(Filter(annotators="disagree"))
        elif other.split:
            text += f" Shown: the {_faces(len(other.split))} the team is split on."
            self.apply_filter(Filter(annotators="split"))
        self.banner.show_message(text, "info", "journal")
        return result

    def _compare_again(self, paths: tuple[str, ...]) -> None:
        """The journals compared when this dataset was last open; gone since: said, and forgotten."""
        gone = [p for p in paths if not Path(p).is_file()]
        if not gone:
            self.compare_journal(paths)
        else:
            self._remember_compare(())
            self.banner.show_message(f"The journal compared last time is gone ({', '.join(gone)}): opened without "
                                     "comparing.", "warning", "journal")

    @guarded
    def stop_comparing(self) -> None:
        if self.session is None or self.session.other is None:
            return
        names = self.session.other.names()
        self.session.stop_comparing()
        self._comparing(None)
        self._remember_compare(())
        if self.filter.annotators is not None:
            self.apply_filter(dataclasses.replace(self.filter, annotators=None))
        self.banner.show_message(f"No longer comparing with {names}.", "info", "journal")

    def _update_about(self) -> None:
        """The notes under the matrix: the scores, the marks, the keys; a compared team's agreement."""
        if self.session is not None:
            self.about_scores.setText(team_note(self.session) + scores_note(self.session))  # the team first: asked for

    def _comparing(self, other: Compared | None) -> None:
        """What shows compared journals: the matrix headline, the filter's box, T, the team's note."""
        if self.session is not None:
            self.matrix.show_session(self.session)  # its headline says how far you agree, as you settle it
            self._update_about()
        self.filter_bar.set_other(other)
        self.act_take_theirs.setEnabled(other is not None)
        self.act_stop_comparing.setEnabled(other is not None)

    def _remember_compare(self, paths: tuple[str, ...]) -> None:
        """Open Recent reopens the dataset with the same journals compared (or none)."""
        if self.request is not None and self.request.compare != paths:
            self.request = dataclasses.replace(self.request, compare=paths)
            remember(self.ctx.settings, self.request)

    @guarded
    def take_theirs(self) -> None:
        if self.session is not None and self.session.other is not None:
            self._change_selection(f"take {self.session.other.name}'s label", self.session.take_theirs)

    @guarded
    def export_csv(self, path: str | None = None) -> None:
        from fer_desktop.review_io import export_csv

        if self.session is None:
            return
        path = path or self._save_path("Export the ranked samples", f"{self.session.dataset}-review.csv", "CSV (*.csv)")
        if path:
            out = export_csv(self.session, path)
            self._exported("csv", str(out))

    @guarded
    def export_dataset(self, path: str | None = None) -> None:
        from fer_desktop.review_io import export_corrected

        s = self.session
        if s is None:
            return
        if self.export_job is not None:
            self.banner.show_message("An export is already running.", "warning", "export")
            return
        if path is None:
            if s.kind == "fer2013":
                path = self._save_path("Export the corrected csv", "fer2013-corrected.csv.gz", "CSV (*.csv *.csv.gz)")
            else:
                path = self._save_path("Export the corrected dataset (a new folder)", f"{s.dataset}-corrected", "Folder (*)")
        if not path:
            return
        job = ThreadJob(export_corrected, s, path, title=f"Exporting {Path(path).name}", parent=self)
        job.returned.connect(lambda out: self._exported("dataset", str(out)))
        job.errored.connect(lambda exc: self.banner.show_message(f"Export failed: {exc}", "error", "export"))
        job.aborted.connect(lambda text: self.banner.show_message(text, "warning", "export"))
        job.finished.connect(self._export_ended)
        self.export_job = job
        self.ctx.start_job(job)

    def _export_ended(self) -> None:
        self.export_job = None

    def _exported(self, what: str, path: str) -> None:
        self.banner.show_message(f"Exported the {'corrected dataset' if what == 'dataset' else what} to {path}",
                                 "info", "export")
        self.exported.emit(what, path)

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self.ctx.settings.setValue("review/geometry", self.saveGeometry())
        self.ctx.settings.setValue("review/state", self.saveState())
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        for job in (self.load_job, self.export_job, self.learn_job):
            if job is not None:
                job.cancel()
                job.wait(10000)
        self.detail.originals.shutdown()


def _faces(n: int) -> str:
    return f"{n:,} face{'s' * (n != 1)}"


def _split_the_team(n: int) -> str:
    """``1 face splits the team``, ``16 faces split the team``."""
    return f"{_faces(n)} split{'s' * (n == 1)} the team"
