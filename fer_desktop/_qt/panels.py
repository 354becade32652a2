"""The side panels, as a list of specs the window turns into dock widgets.

A later feature (the confusion-examples browser, relabeling, retraining from the GUI) is a
QWidget taking the AppContext, plus one PanelSpec with ``menu="Tools"``: the window docks
it, lists it in that menu and remembers where the user put it; nothing else changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

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


def default_panels() -> list[PanelSpec]:
    from fer_desktop._qt.crops_panel import CropsPanel
    from fer_desktop._qt.prob_bars import ProbabilityBars

    return [
        PanelSpec("probabilities", "Probabilities", ProbabilityBars, shortcut="Ctrl+1"),
        PanelSpec("crops", "Aligned faces", CropsPanel, shortcut="Ctrl+2"),
    ]
