"""The side panels, as a list of specs the window turns into dock widgets.

A later feature (the confusion-examples browser, relabeling, retraining from the GUI) is a
QWidget taking the AppContext, plus one PanelSpec with ``menu="Tools"``: the window docks
it, lists it in that menu and remembers where the user put it; nothing else changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from fer_desktop._qt.context import AppContext

Area = Qt.DockWidgetArea


@dataclass(frozen=True)
class PanelSpec:
    key: str  # the dock's objectName: saved layouts refer to it, so keep it stable
    title: str
    factory: Callable[[AppContext], QWidget]
    area: Area = Area.RightDockWidgetArea
    menu: str = "View"  # "View" for parts of the live view, "Tools" for separate tools
    shortcut: str | None = None
    visible: bool = True  # on the first run, before the user arranged anything


@dataclass(frozen=True)
class ToolSpec:
    """A tool with a menu of its own (Review, Training) and, usually, windows of its own.

    ``install(ctx, menu)`` fills the menu and returns the tool's controller (kept by the main
    window); it talks to the rest only through the AppContext. The main window makes the menu
    (before Help) and nothing else, so a new tool is one folder plus one ToolSpec here."""

    key: str
    title: str  # the menu's title, e.g. "&Review"
    install: Callable[[AppContext, QMenu], object]


def menu_action(menu: QMenu, text: str, slot, shortcut: str | None = None, tip: str = "",
                before: QAction | None = None) -> QAction:
    """An entry of a tool's menu (its shortcut works from the main window), placed last or
    ``before`` another."""
    act = QAction(text, menu)
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
    if tip:
        act.setToolTip(tip)
        act.setStatusTip(tip)
    act.triggered.connect(slot)
    menu.insertAction(before, act) if before is not None else menu.addAction(act)
    return act


def default_tools() -> list[ToolSpec]:
    from fer_desktop._qt.tools.collect import collect_tool
    from fer_desktop._qt.tools.retrain import retrain_tool
    from fer_desktop._qt.tools.review import review_tool

    return [collect_tool(), review_tool(), retrain_tool()]  # the menus in the order of the work


def default_panels() -> list[PanelSpec]:
    from fer_desktop._qt.crops_panel import CropsPanel
    from fer_desktop._qt.prob_bars import ProbabilityBars

    return [
        PanelSpec("probabilities", "Probabilities", ProbabilityBars, shortcut="Ctrl+1"),
        PanelSpec("crops", "Aligned faces", CropsPanel, shortcut="Ctrl+2"),
    ]
