"""The Qt layer: thin widgets and thread workers over the Qt-free modules of fer_desktop
and the ``trainer`` engine (the napari split: models without Qt, a ``_qt`` view on them)."""
