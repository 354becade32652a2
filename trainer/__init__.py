"""fer-desktop's engine: data, faces, models, training, evaluation and inference.

This package never imports Qt; the GUI (``fer_desktop``) is built on top of it.
"""

__version__ = "0.1.0"
