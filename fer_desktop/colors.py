"""One colour per expression class, shared by the boxes, crops and probability bars."""

from __future__ import annotations

from trainer.classes import UNLABELLED

CLASS_COLORS: dict[str, str] = {
    "angry": "#e5484d",
    "disgust": "#46a758",
    "fear": "#8e4ec6",
    "happy": "#f5d90a",
    "sad": "#3e63dd",
    "surprise": "#f76b15",
    "neutral": "#9ba1a6",
    "contempt": "#a18072",
}
UNLABELLED_COLOR = "#d0d3d6"  # a sample with no label yet (the review's tiles and detail)
_FALLBACK = ["#12a594", "#d6409f", "#0090ff", "#ffc53d", "#7d66d9", "#bdee63"]


def class_color(name: str, index: int = 0) -> str:
    if name == UNLABELLED:
        return UNLABELLED_COLOR
    return CLASS_COLORS.get(name.lower(), _FALLBACK[index % len(_FALLBACK)])


def text_color_on(hex_color: str) -> str:
    """Black or white, whichever reads better on ``hex_color``."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"
