"""Test-time views a model's card can ask for: its probabilities averaged over the face as it
is and a few slightly turned, scaled and shifted copies (each with its mirror image when flip
TTA is on). A card without ``test_views`` is run on the face alone; one with them costs
1 + len(views) times the classifier time, wherever the model runs (the app's live view, both
predict commands, evaluate, review), so a face gets the same probabilities everywhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from trainer.inference.backends import Classifier, predict_probs
from trainer.inference.preprocess import crops_to_batch

if TYPE_CHECKING:
    from trainer.models.card import ModelCard


@dataclass(frozen=True)
class View:
    """A similarity transform about the crop's centre: ``angle`` in degrees, ``dx``/``dy`` as
    fractions of its side."""

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0

    def apply(self, crop: np.ndarray) -> np.ndarray:
        h, w = crop.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), self.angle, self.scale)
        m[:, 2] += (self.dx * w, self.dy * h)
        # Edge pixels fill what moves in: a black band would be a feature the model never saw.
        return cv2.warpAffine(crop, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def card_views(card: ModelCard) -> tuple[View, ...]:
    """The extra views the card asks for (checked when the card was read)."""
    return tuple(View(**v) for v in card.test_views)


def crop_probs(classifier: Classifier, crops: Sequence[np.ndarray], card: ModelCard, tta_flip: bool,
               embeddings: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Face crops -> (N, C) probabilities as the card says the model is run: its input size and
    normalisation, the mirror image when ``tta_flip``, and its test views averaged in. The
    embeddings (if asked) are those of the crops as they are."""
    mean, std = float(np.mean(card.mean)), float(np.mean(card.std))
    probs, emb = predict_probs(classifier, crops_to_batch(crops, card.input_size, mean, std), tta_flip, embeddings)
    views = card_views(card)
    if not views or len(crops) == 0:
        return probs, emb
    total = probs.astype(np.float64)
    for view in views:  # one call a view: a batch nine times as large would not fit a GPU's share
        moved = crops_to_batch([view.apply(np.asarray(c)) for c in crops], card.input_size, mean, std)
        total += predict_probs(classifier, moved, tta_flip)[0]
    return (total / (1 + len(views))).astype(np.float32), emb

