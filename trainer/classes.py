"""The canonical expression classes and the mapping of dataset spellings onto them."""

from __future__ import annotations

from trainer.errors import UserError

# FER-2013's order (its `emotion` column is an index into this list); SFEW uses the same 7.
BASIC_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# FER+ adds an eighth class.
FERPLUS_CLASSES: tuple[str, ...] = BASIC_CLASSES + ("contempt",)
# An image without a label yet (label -1): its folder's name, and how the app names its state.
UNLABELLED = "unlabelled"

_ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
    "contempt": "contempt",
}


class UnknownClassError(UserError, ValueError):
    """A folder or column name that maps onto no known expression class."""


def canonical_class(name: str) -> str:
    """Map a dataset's spelling ("Angry", "anger", "Happiness" ...) onto the canonical name."""
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    try:
        return _ALIASES[key]
    except KeyError:
        known = ", ".join(sorted(set(_ALIASES.values())))
        raise UnknownClassError(f"unknown expression class {name!r}; known classes: {known}") from None


def is_class_name(name: str) -> bool:
    try:
        canonical_class(name)
    except UnknownClassError:
        return False
    return True
