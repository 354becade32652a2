"""fer-desktop: the desktop app for facial-expression recognition (the GUI over ``trainer``).

Qt is imported only by ``fer_desktop._qt``: ``fer-desktop predict`` and scripts that use the
Qt-free modules here (sources, results, export) start without it."""

__version__ = "0.1.0"
