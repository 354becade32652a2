"""The main window: frame view in the middle, panels docked around it, menus, status bar.

It wires the threads (capture -> inference -> GUI, each hop through a one-slot mailbox) and
turns menu actions into requests to them; it holds no image-processing logic itself."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMetaObject, QSettings, QSize, Qt, QThread, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from fer_desktop._qt.banner import MessageBanner
from fer_desktop._qt.capture import CaptureWorker
from fer_desktop._qt.context import AppContext
from fer_desktop._qt.errors import guarded, report_exception
from fer_desktop._qt.export import annotated_video_job, export_video_job, save_snapshot
from fer_desktop._qt.frame_view import FrameView
from fer_desktop._qt.inference import InferenceWorker
from fer_desktop._qt.jobs import Job, JobsIndicator, ThreadJob
from fer_desktop._qt.panels import PanelSpec, ToolSpec, default_panels, default_tools
from fer_desktop._qt.settings import value
from fer_desktop._qt.transport import TransportBar
from fer_desktop.mailbox import LatestSlot
from fer_desktop.results import FramePacket, FrameResult, ModelInfo
from fer_desktop.fps import FpsMeter
from fer_desktop.sources import IMAGE_SUFFIXES, RESOLUTIONS, VIDEO_SUFFIXES, kind_of_path

IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"
VIDEO_FILTER = "Videos (" + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES)) + ");;All files (*)"
MODEL_FILTER = "Models (*.safetensors *.json);;All files (*)"


class MainWindow(QMainWindow):
    # Requests to the worker threads (queued: the slots run in the workers' threads).
    _openCamera = Signal(int, int, int)
    _openVideo = Signal(str)
    _openImages = Signal(str)
    _togglePlay = Signal()
    _pause = Signal()
    _seek = Signal(int)
    _step = Signal(int)
    _closeSource = Signal()
    _loadModel = Signal(str)
    _setInputKind = Signal(str)
    # For scripts and tests.
    exportFinished = Signal(str, int)
    exportFailed = Signal(str)

    def __init__(self, settings: QSettings, *, model_path: str | Path | None = None,
                 panels: list[PanelSpec] | None = None, live_options: dict[str, Any] | None = None,
                 detector: str | None = None, tools: list[ToolSpec] | None = None, backend: str = "auto") -> None:
        """``live_options``: fields of trainer.inference.live.LiveConfig (default: detection
        in a background thread); a dict, so this module need not import the engine (torch).
        ``backend``: where the classifier runs (trainer.inference.backends: auto, onnx, torch)."""
        super().__init__()
        self.setWindowTitle("fer-desktop: facial expressions")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = settings
        self.ctx = AppContext(settings, self)
        self.ctx.smoothing = value(settings, "view/smoothing", True, bool)
        self.detector = detector
        self.backend = backend
        self.input_override: str | None = None  # what opened images are (--input), else their dataset's say
        self.source_kind = "none"
        self.source_name = ""
        self.fps = FpsMeter()
        self._export: Job | None = None
        self._model_requested: str | None = None
        self._shut_down = False
        self.play_when_opened = False  # --play: start the video once it is open

        self._build_central()
        self._build_status_bar()
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._build_actions()
        self._build_menus_and_toolbar()
        for spec in panels if panels is not None else default_panels():
            self.add_panel(spec)
        self.tools: dict[str, object] = {}
        for tool in tools if tools is not None else default_tools():
            self.add_tool(tool)
        self._start_workers(live_options, detector)
        self._restore_layout()

        self.ctx.message.connect(self.show_message)
        self.ctx.modelRequested.connect(self.load_model)
        self.ctx.resultShown.connect(self._paint_frame)
        self.frame_view.faceClicked.connect(self.ctx.select)
        self.load_model(str(model_path) if model_path else "")

    # ------------------------------------------------------------------ construction

    def _build_central(self) -> None:
        central = QWidget(self)
        self.banner = MessageBanner(central)
        self.frame_view = FrameView(central)
        self.transport = TransportBar(central)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 0)
        lay.setSpacing(4)
        lay.addWidget(self.banner)
        lay.addWidget(self.frame_view, 1)
        lay.addWidget(self.transport)
        self.setCentralWidget(central)
        # The frame holds the keyboard focus, not the first spin box: the arrow keys and
        # Space then reach the window's shortcuts instead of editing the camera index.
        self.frame_view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.frame_view.setFocus()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.jobs_indicator = JobsIndicator(bar)  # long work (CSV export, review, training)
        self.ctx.jobStarted.connect(self.jobs_indicator.track)
        bar.addPermanentWidget(self.jobs_indicator)
        self.fps_label = QLabel("— fps", bar)
        self.latency_label = QLabel("latency —", bar)
        self.device_label = QLabel("device —", bar)
        self.model_label = QLabel("model: loading…", bar)
        for w in (self.fps_label, self.latency_label, self.device_label, self.model_label):
            w.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(w)
        self.fps_label.setToolTip("Results shown per second")
        self.latency_label.setToolTip("From capture to result (detection, tracking, alignment, classification, waiting)")

    def _action(self, text: str, slot, shortcuts: list | None = None, tip: str = "",
                checkable: bool = False) -> QAction:
        act = QAction(text, self)
        if shortcuts:
            # Each key once: StandardKey.Quit is Ctrl+Q on Linux, and a key bound twice is an
            # "ambiguous shortcut" that Qt refuses to trigger.
            seqs = {QKeySequence(s).toString(): QKeySequence(s) for s in shortcuts}
            act.setShortcuts([s for s in seqs.values() if not s.isEmpty()])
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in act.shortcuts())
            tip = f"{tip or text.replace('…', '').replace('&', '')} ({keys})"
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        self.addAction(act)  # shortcuts work even with the menu bar hidden
        return act

    def _build_actions(self) -> None:
        a = self._action
        self.act_open_image = a("Open &Image…", lambda: self.open_image(), [QKeySequence.StandardKey.Open])
        self.act_open_folder = a("Open &Folder…", lambda: self.open_folder(), ["Ctrl+Shift+O"])
        self.act_open_video = a("Open &Video…", lambda: self.open_video(), ["Ctrl+Shift+V"])
        self.act_camera = a("&Webcam", lambda: self.open_camera(), ["Ctrl+Shift+C"], "Start the webcam chosen in the toolbar")
        self.act_stop = a("S&top Source", self.stop_source, ["Escape"])
        self.act_face_crops = a("These Are Face &Crops", self.set_face_crops, [],
                                "The opened images are face crops (like FER-2013's or SFEW's): pad each one, find "
                                "the face again and re-align it, else use it as it is. Set by itself for known crop "
                                "datasets", checkable=True)
        self.act_snapshot = a("Save &Snapshot…", lambda: self.save_snapshot(), [QKeySequence.StandardKey.Save],
                              "Save the annotated frame (PNG) and its probabilities (JSON)")
        self.act_export = a("&Export Video Probabilities (CSV)…", lambda: self.export_csv(), ["Ctrl+E"],
                            "Every frame of a video through the model, to CSV")
        self.act_export_video = a("Export &Annotated Video…", lambda: self.export_annotated_video(),
                                  ["Ctrl+Shift+E"], "The video with every face boxed and labelled, to MP4 (no sound)")
        self.act_quit = a("&Quit", self.close, [QKeySequence.StandardKey.Quit, "Ctrl+Q"])
        self.act_play = a("&Play / Pause", self.toggle_play, ["Space"])
        self.act_next = a("&Next", self.next_item, ["PgDown", "Right"], "Next image or frame")
        self.act_prev = a("P&revious", self.prev_item, ["PgUp", "Left"], "Previous image or frame")
        self.act_smooth = a("&Smooth Probabilities", self.ctx.set_smoothing, ["Ctrl+T"],
                            "Average each face's probabilities over recent frames", checkable=True)
        self.act_smooth.setChecked(self.ctx.smoothing)
        self.ctx.smoothingChanged.connect(self.act_smooth.setChecked)
        self.act_open_model = a("&Open Model…", lambda: self.open_model(), ["Ctrl+M"])
        self.act_default_model = a("Use &Default Model", lambda: self.load_model(""))
        self.act_card = a("Model &Card…", self.show_model_card, ["Ctrl+I"])
        self.act_reset_layout = a("&Reset Layout", self.reset_layout)
        self.act_play.setEnabled(False)

    def _bundled_model_actions(self) -> list[QAction]:
        """One "Use Bundled Model" entry per model that ships beside the default one."""
        from trainer.inference.bundled import DEFAULT_MODEL_NAME, bundled_models

        actions = []
        for name, path in bundled_models().items():
            if name == DEFAULT_MODEL_NAME:
                continue
            act = QAction(f"Use Bundled Model: {name}", self)
            act.setStatusTip(f"Load {path}")
            act.triggered.connect(lambda _=False, p=str(path): self.load_model(p))
            actions.append(act)
        return actions

    def _build_menus_and_toolbar(self) -> None:
        mb = self.menuBar()
        self.menus: dict[str, QMenu] = {}
        for key, title in (("File", "&File"), ("Playback", "&Playback"), ("View", "&View"),
                           ("Model", "&Model"), ("Tools", "&Tools"), ("Help", "&Help")):
            self.menus[key] = mb.addMenu(title)
        m = self.menus["File"]
        for act in (self.act_open_image, self.act_open_folder, self.act_open_video, self.act_camera, self.act_stop):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_face_crops)
        m.addSeparator()
        m.addAction(self.act_snapshot)
        m.addAction(self.act_export)
        m.addAction(self.act_export_video)
        m.addSeparator()
        m.addAction(self.act_quit)
        for act in (self.act_play, self.act_prev, self.act_next):
            self.menus["Playback"].addAction(act)
        self.menus["View"].addAction(self.act_smooth)
        self.menus["View"].addSeparator()
        self._view_panels_anchor = self.menus["View"].addSeparator()
        self.menus["View"].addAction(self.act_reset_layout)
        for act in (self.act_open_model, self.act_default_model):
            self.menus["Model"].addAction(act)
        self.bundled_model_actions = self._bundled_model_actions()
        for act in self.bundled_model_actions:
            self.menus["Model"].addAction(act)
        self.menus["Model"].addSeparator()
        self.menus["Model"].addAction(self.act_card)
        # Later tools (confusion examples, relabeling, retraining) register PanelSpecs with
        # menu="Tools"; until one does, the menu stays out of sight.
        self.menus["Tools"].menuAction().setVisible(False)
        about = self.menus["Help"].addAction("&About fer-desktop")
        about.triggered.connect(self._about)
        shortcuts = self.menus["Help"].addAction("&Keyboard Shortcuts")
        shortcuts.triggered.connect(self._show_shortcuts)

        tb = QToolBar("Sources", self)
        tb.setObjectName("sourcesToolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.setIconSize(QSize(16, 16))
        for act in (self.act_open_image, self.act_open_folder, self.act_open_video):
            tb.addAction(act)
        tb.addSeparator()
        self.camera_index = QSpinBox(tb)
        self.camera_index.setRange(0, 99)
        self.camera_index.setPrefix("camera ")
        self.camera_index.setValue(value(self.settings, "camera/index", 0, int))
        self.camera_index.setToolTip("Webcam device index")
        self.camera_index.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.camera_res = QComboBox(tb)
        for w, h in RESOLUTIONS:
            self.camera_res.addItem(f"{w}×{h}", (w, h))
        self.camera_res.setCurrentIndex(min(value(self.settings, "camera/resolution", 0, int), len(RESOLUTIONS) - 1))
        self.camera_res.setToolTip("Resolution to ask the webcam for")
        self.camera_res.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        tb.addWidget(self.camera_index)
        tb.addWidget(self.camera_res)
        tb.addAction(self.act_camera)
        tb.addSeparator()
        tb.addAction(self.act_snapshot)  # smoothing: the probability panel's checkbox and View menu
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

        self.transport.prev_btn.clicked.connect(self.prev_item)
        self.transport.next_btn.clicked.connect(self.next_item)
        self.transport.play_btn.clicked.connect(self.toggle_play)

    def add_panel(self, spec: PanelSpec) -> QWidget:
        """Dock ``spec``'s widget and list it in its menu (View or Tools)."""
        widget = spec.factory(self.ctx)
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(spec.key)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(spec.area, dock)
        dock.setVisible(spec.visible)
        toggle = dock.toggleViewAction()
        if spec.shortcut:
            toggle.setShortcut(QKeySequence(spec.shortcut))
        menu = self.menus.get(spec.menu) or self.menus["Tools"]
        if menu is self.menus["View"]:
            menu.insertAction(self._view_panels_anchor, toggle)
        else:
            menu.addAction(toggle)
            menu.menuAction().setVisible(True)
        self.panels[spec.key] = widget
        self.docks[spec.key] = dock
        return widget

    def add_tool(self, tool: ToolSpec) -> object:
        """Give ``tool`` its menu (before Help) and keep what it installs."""
        menu = QMenu(tool.title, self)
        self.menuBar().insertMenu(self.menus["Help"].menuAction(), menu)
        self.menus[tool.key] = menu
        self.tools[tool.key] = tool.install(self.ctx, menu)
        # A tool may also put a submenu into the window's menus (Training: Model > history).
        shared = getattr(self.tools[tool.key], "shared_menus", None)
        for title, submenu in (shared() if callable(shared) else {}).items():
            if title in self.menus:
                self.menus[title].addSeparator()
                self.menus[title].addMenu(submenu)
        return self.tools[tool.key]

    def _start_workers(self, live_options: dict[str, Any] | None, detector: str | None) -> None:
        self.frames: LatestSlot[FramePacket] = LatestSlot()
        self.results: LatestSlot[FrameResult] = LatestSlot()

        self.capture_thread = QThread(self)
        self.capture_thread.setObjectName("capture")
        self.capture = CaptureWorker(self.frames)
        self.capture.moveToThread(self.capture_thread)
        self.inference_thread = QThread(self)
        self.inference_thread.setObjectName("inference")
        self.inference = InferenceWorker(self.frames, self.results, live_options, detector, backend=self.backend)
        self.inference.moveToThread(self.inference_thread)

        self._openCamera.connect(self.capture.open_camera)
        self._openVideo.connect(self.capture.open_video)
        self._openImages.connect(self.capture.open_images)
        self._togglePlay.connect(self.capture.toggle_play)
        self._pause.connect(self.capture.pause)
        self._seek.connect(self.capture.seek)
        self._step.connect(self.capture.step)
        self._closeSource.connect(self.capture.close)
        self._loadModel.connect(self.inference.load_model)
        self._setInputKind.connect(self.inference.set_input_kind)
        self.transport.seekRequested.connect(self._seek)

        self.capture.frameReady.connect(self.inference.drain)
        self.capture.opened.connect(self._on_source_opened)
        self.capture.failed.connect(self._on_source_failed)
        self.capture.position.connect(self.transport.set_position)
        self.capture.playingChanged.connect(self.transport.set_playing)
        self.capture.closed.connect(self._on_source_closed)
        self.inference.resultReady.connect(self._on_result_ready)
        self.inference.modelLoaded.connect(self._on_model_loaded)
        self.inference.modelFailed.connect(self._on_model_failed)
        self.inference.failed.connect(self._on_inference_failed)

        for thread, worker in ((self.capture_thread, self.capture), (self.inference_thread, self.inference)):
            thread.finished.connect(worker.deleteLater)
            thread.start()

    # ------------------------------------------------------------------ layout persistence

    def _restore_layout(self) -> None:
        self._default_state = self.saveState()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)

    def _save_layout(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("camera/index", self.camera_index.value())
        s.setValue("camera/resolution", self.camera_res.currentIndex())
        s.setValue("view/smoothing", self.ctx.smoothing)
        s.sync()

    @guarded
    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            dock.setFloating(False)

    # ------------------------------------------------------------------ sources

    def _last_dir(self) -> str:
        return value(self.settings, "paths/last_dir", str(Path.home()), str)

    def _remember_dir(self, path: str | Path) -> None:
        p = Path(path)
        self.settings.setValue("paths/last_dir", str(p if p.is_dir() else p.parent))

    @guarded
    def open_path(self, path: str | Path) -> None:
        """An image, a folder or a video, by what it is."""
        kind = kind_of_path(path)
        if kind == "video":
            self.open_video(path)
        elif kind == "folder":
            self.open_folder(path)
        else:
            self.open_image(path)

    @guarded
    def open_image(self, path: str | Path | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_dir(), IMAGE_FILTER)
            if not path:
                return
        self._remember_dir(path)
        self.statusBar().showMessage(f"Opening {Path(path).name}…", 3000)
        self._follow_declared_input(path)
        self._openImages.emit(str(path))

    @guarded
    def open_folder(self, path: str | Path | None = None) -> None:
        if path is None:
            path = QFileDialog.getExistingDirectory(self, "Open a folder of images", self._last_dir())
            if not path:
                return
        self._remember_dir(path)
        self._follow_declared_input(path)
        self._openImages.emit(str(path))

    def _follow_declared_input(self, path: str | Path) -> None:
        """Images of a known crop dataset (SFEW, a fer-dataset.json) are face crops at once;
        other images are photos until the user says otherwise."""
        from trainer.data.input_kinds import declared_input, image_kind

        kind = self.input_override or image_kind(declared_input(path) or "auto")
        self.act_face_crops.setChecked(kind == "crop")
        self._setInputKind.emit(kind)

    @guarded
    def set_face_crops(self, crops: bool | None = None) -> None:
        """File > These Are Face Crops: still images are face crops (pad, re-align, else as
        they are) or photos (find the faces); the image on screen is made again. None: as the
        action now stands (its trigger has toggled it)."""
        crops = self.act_face_crops.isChecked() if crops is None else bool(crops)
        self.act_face_crops.setChecked(crops)
        self._setInputKind.emit("crop" if crops else "auto")
        self.statusBar().showMessage("Images are face crops: each is re-aligned, or used as it is" if crops
                                     else "Images are photos: faces are found in them", 4000)

    @guarded
    def open_video(self, path: str | Path | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open video", self._last_dir(), VIDEO_FILTER)
            if not path:
                return
        self._remember_dir(path)
        self.statusBar().showMessage(f"Opening {Path(path).name}…", 3000)
        self._openVideo.emit(str(path))

    @guarded
    def open_camera(self, index: int | None = None, resolution: tuple[int, int] | None = None) -> None:
        if index is not None:
            self.camera_index.setValue(index)
        index = self.camera_index.value()
        w, h = resolution or self.camera_res.currentData()
        self.statusBar().showMessage(f"Opening camera {index}…", 3000)
        self._openCamera.emit(index, w, h)

    @guarded
    def stop_source(self) -> None:
        self._closeSource.emit()

    @guarded
    def toggle_play(self) -> None:
        if self.source_kind == "video":
            self._togglePlay.emit()

    @guarded
    def next_item(self) -> None:
        if self.source_kind in ("image", "video"):
            self._step.emit(1)

    @guarded
    def prev_item(self) -> None:
        if self.source_kind in ("image", "video"):
            self._step.emit(-1)

    @guarded
    def _on_source_opened(self, kind: str, name: str, count: int) -> None:
        self.source_kind, self.source_name = kind, name
        self.fps.reset()
        self.transport.set_mode(kind, count)
        self.act_play.setEnabled(kind == "video")
        if kind == "video" and self.play_when_opened:
            self.play_when_opened = False
            self._togglePlay.emit()
        self.banner.clear_topic("source")  # the last source's error is stale now
        label = Path(name).name if kind != "camera" else name
        self.setWindowTitle(f"{label}: fer-desktop")
        self.statusBar().showMessage(f"Opened {name}", 3000)

    @guarded
    def _on_source_failed(self, message: str) -> None:
        self.show_message(message, "error", topic="source")

    @guarded
    def _on_source_closed(self) -> None:
        self.source_kind = "none"
        self.transport.set_mode("none")
        self.act_play.setEnabled(False)
        self.fps.reset()
        self.fps_label.setText("— fps")

    # ------------------------------------------------------------------ results
    # (Worker signals go to methods of this QObject, never to lambdas: PySide runs a plain
    # callable in the emitting thread, a QObject's method in the QObject's own thread.)

    @guarded
    def _on_inference_failed(self, message: str) -> None:
        self.show_message(message, "error", topic="source")

    @guarded
    def _on_result_ready(self) -> None:
        result = self.results.take()
        if result is None:
            return
        if result.packet.kind != "image":
            self.fps.tick()
        self.ctx.show_result(result)
        self._update_status(result)

    def _paint_frame(self, result: FrameResult) -> None:
        self.frame_view.set_result(result, self.ctx.selected_id, self.ctx.smoothing)

    def _update_status(self, result: FrameResult) -> None:
        p, t = result.packet, result.timings
        if p.kind == "image":
            # The file shown, by name: in a folder it changes with every PageDown.
            name = Path(p.path or p.name).name
            self.fps_label.setText(name if (p.count or 0) < 2 else f"{name} ({(p.index or 0) + 1} of {p.count})")
            self.fps_label.setToolTip(str(p.path or p.name))
            self.setWindowTitle(f"{name}: fer-desktop")
            self.latency_label.setText(f"processed in {result.compute_ms:.0f} ms" if t else "not processed yet")
        else:
            self.fps_label.setText(f"{self.fps.fps:.1f} fps")
            self.fps_label.setToolTip("Results shown per second")
            self.latency_label.setText(f"latency {result.latency_ms:.0f} ms" if t else "latency —")
        if t is None:
            self.latency_label.setToolTip("the model is loading: frames are shown without processing"
                                          if result.model_loading else "no model: frames are shown without processing")
            return
        self.latency_label.setToolTip(
            f"capture → result {result.latency_ms:.1f} ms; compute {result.compute_ms:.1f} ms "
            f"(detect {t.detect_ms:.1f}, track {t.track_ms:.1f}, align {t.align_ms:.1f}, "
            f"classify {t.classify_ms:.1f})"
            + (f"; background detection {t.background_detect_ms:.0f} ms" if t.background_detect_ms else ""))

    # ------------------------------------------------------------------ model

    @guarded
    def open_model(self, path: str | Path | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open model", value(self.settings, "paths/model_dir", "", str),
                                                  MODEL_FILTER)
            if not path:
                return
            self.settings.setValue("paths/model_dir", str(Path(path).parent))
        self.load_model(str(path))

    def load_model(self, path: str) -> None:
        """Load in the inference thread; the current model serves until the new one is ready."""
        self._model_requested = path
        self.model_label.setText("model: loading…")
        self._loadModel.emit(path)

    @guarded
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.ctx.set_model(info)
        self.model_label.setText(f"model: {info.name}")
        self.model_label.setToolTip(str(info.path or ""))
        self.device_label.setText(info.device)
        self.statusBar().showMessage(f"Model {info.name} loaded on {info.device}", 4000)
        self.banner.clear_topic("model")  # the frame on screen is re-run by the inference worker

    @guarded
    def _on_model_failed(self, message: str) -> None:
        self.ctx.modelFailed.emit(message)
        current = self.ctx.model
        requested = self._model_requested or "the default model"
        if current is not None:
            self.model_label.setText(f"model: {current.name}")
            self.show_message(f"Could not load {requested}: {message}. Still using {current.name}.", "error",
                              topic="model")
        else:
            self.model_label.setText("model: none")
            self.device_label.setText("device —")
            hint = " Open one with Model ▸ Open Model… (Ctrl+M)."
            self.show_message(f"No model loaded: {message}.{hint}",
                              "warning" if not self._model_requested else "error", topic="model")

    @guarded
    def show_model_card(self) -> None:
        from fer_desktop._qt.model_dialog import ModelCardDialog

        if self.ctx.model is None:
            self.show_message("No model loaded.", "warning")
            return
        dialog = ModelCardDialog(self.ctx.model, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()  # modeless: the live view keeps running beside it
        self.card_dialog = dialog

    # ------------------------------------------------------------------ saving

    @guarded
    def save_snapshot(self, path: str | Path | None = None) -> tuple[Path, Path] | None:
        result = self.ctx.result
        if result is None:
            self.show_message("Nothing to save yet: open an image, a video or the webcam.", "warning")
            return None
        if path is None:
            stem = Path(result.packet.name).stem if result.packet.kind != "camera" else "camera"
            suggestion = Path(self._last_dir()) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.png"
            path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", str(suggestion), "PNG image (*.png)")
            if not path:
                return None
        png, js = save_snapshot(result, path, selected_id=self.ctx.selected_id, smoothed=self.ctx.smoothing)
        self.show_message(f"Saved {png.name} and {js.name} in {png.parent}", "info")
        return png, js

    @guarded
    def export_csv(self, out: str | Path | None = None, video: str | Path | None = None) -> None:
        """Every frame of a video through the model, one CSV row per face per frame."""
        self._export_video(export_video_job, "CSV", "rows", "-probabilities.csv", "CSV (*.csv)", out, video)

    @guarded
    def export_annotated_video(self, out: str | Path | None = None, video: str | Path | None = None) -> None:
        """The video with its faces boxed and labelled as the window shows them (smoothed or not,
        as View > Smooth Probabilities is set), to share a demo."""
        self._export_video(partial(annotated_video_job, smoothed=self.ctx.smoothing), "Video", "frames",
                           "-annotated.mp4", "MP4 video (*.mp4)", out, video)

    def _export_video(self, work, what: str, unit: str, suffix: str, file_filter: str,
                      out: str | Path | None, video: str | Path | None) -> None:
        if self._export is not None:
            self.show_message("An export is already running.", "warning")
            return
        if self.ctx.model is None:
            self.show_message("Load a model before exporting.", "warning")
            return
        if video is None:
            if self.source_kind == "video":
                video = self.source_name
            else:
                video, _ = QFileDialog.getOpenFileName(self, "Video to export", self._last_dir(), VIDEO_FILTER)
                if not video:
                    return
        if out is None:
            suggestion = Path(video).with_name(Path(video).stem + suffix)
            out, _ = QFileDialog.getSaveFileName(self, f"Export {what.lower()}", str(suggestion), file_filter)
            if not out:
                return
        model_path = str(self.ctx.model.path) if self.ctx.model.path else None
        job = ThreadJob(work, str(video), str(out), model_path, self.detector,
                        title=f"{what} {Path(video).name}", parent=self)
        job.returned.connect(lambda result: self._on_export_finished(result, unit))
        job.errored.connect(lambda exc: self._on_export_failed(f"{what} export failed: {exc}"))
        job.aborted.connect(self._on_export_failed)
        job.finished.connect(self._end_export)
        self._export = job
        self.statusBar().showMessage(f"Exporting {Path(video).name} to {Path(out).name}…")
        self.ctx.start_job(job)

    @guarded
    def cancel_export(self) -> None:
        if self._export is not None:
            self._export.cancel()

    def _end_export(self) -> None:
        self._export = None

    @guarded
    def _on_export_finished(self, result: tuple[str, int], unit: str = "rows") -> None:
        path, count = result
        self.show_message(f"Exported {count} {unit} to {path}", "info")
        self.exportFinished.emit(path, count)

    @guarded
    def _on_export_failed(self, message: str) -> None:
        self.show_message(message, "error")
        self.exportFailed.emit(message)

    # ------------------------------------------------------------------ messages, help

    def show_message(self, text: str, level: str = "info", topic: str = "general") -> None:
        """Status bar and banner; never a modal box (the stream and the tests go on).
        ``topic`` lets a later success clear a stale message ("source", "model")."""
        self.statusBar().showMessage(text, 10000)
        self.banner.show_message(text, level, topic)

    def _about(self) -> None:
        from fer_desktop._qt.about import show_about

        show_about(self, self.ctx.model)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(action, keys) for every action with a key: the window's own, then the tools' menus
        (Collect, Review, Training), for Help > Keyboard Shortcuts."""
        tool_actions = [act for menu in self.menus.values() for act in menu.actions()]
        rows = []
        for act in dict.fromkeys([*self.actions(), *tool_actions]):
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts())
            if keys:
                rows.append((act.text().replace("&", ""), keys))
        return rows

    def _show_shortcuts(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        lines = [f"<tr><td>{text}</td><td><b>{keys}</b></td></tr>" for text, keys in self.shortcut_rows()]
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", "<table>" + "".join(lines) + "</table>",
                          QMessageBox.StandardButton.Close, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    @guarded
    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            if Path(paths[0]).suffix.lower() in (".safetensors",) or \
                    (Path(paths[0]).suffix.lower() == ".json" and Path(paths[0]).with_suffix(".safetensors").exists()):
                self.load_model(paths[0])  # a dropped model file is a model, not a picture
            else:
                self.open_path(paths[0])

    # ------------------------------------------------------------------ shutdown

    def closeEvent(self, event: QCloseEvent) -> None:
        # A tool with work going on (a training run) asks what to do with it, or vetoes.
        for tool in getattr(self, "tools", {}).values():
            confirm = getattr(tool, "confirm_close", None)
            if callable(confirm) and not self._shut_down and not confirm():
                event.ignore()
                return
        try:
            self._save_layout()
        except Exception as exc:
            report_exception(exc, "saving the window layout")
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the threads (idempotent): the capture first, so nothing feeds inference."""
        if self._shut_down:
            return
        self._shut_down = True
        for job in list(self.ctx.jobs):  # the CSV export and any other thread job
            job.cancel()
            job.wait(5000)
        if self.capture_thread.isRunning():
            # Blocking: the camera is released and the timer stopped in the capture thread
            # itself before that thread ends (a queued call might never run).
            QMetaObject.invokeMethod(self.capture, "close", Qt.ConnectionType.BlockingQueuedConnection)
        for thread in (self.capture_thread, self.inference_thread):
            thread.quit()
        for thread in (self.capture_thread, self.inference_thread):
            if not thread.wait(10000):
                report_exception(RuntimeError(f"{thread.objectName()} thread did not stop"), "shutdown")
        self.inference.close()
