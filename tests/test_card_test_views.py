"""A card's test views: every path that runs the model (the Predictor the app and both predict
commands use, and predict_samples behind evaluate and review) averages the same views in."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import SampleSet
from trainer.inference.backends import TorchClassifier, predict_probs
from trainer.inference.preprocess import crops_to_batch
from trainer.models.card import ModelCard, ModelLoadError, read_card, save_model


@pytest.fixture
def model_and_card(one_torch_thread):
    import torch

    from trainer.models.registry import create_model

    torch.manual_seed(0)
    model, _ = create_model("timm:test_resnet", 4, pretrained=False)
    card = ModelCard(name="views", backbone="timm:test_resnet", classes=list(BASIC_CLASSES[:4]), input_size=32,
                     mean=[0.5], std=[0.5], test_views=[{"dx": 4 / 32}, {"dx": -4 / 32}])
    return model.eval(), card


def shifted(crop: np.ndarray, px: int) -> np.ndarray:
    """The crop moved ``px`` to the right (left when negative), the edge column repeated: by hand."""
    out = np.empty_like(crop)
    if px > 0:
        out[:, px:], out[:, :px] = crop[:, :-px], crop[:, :1]
    else:
        out[:, :px], out[:, px:] = crop[:, -px:], crop[:, -1:]
    return out


def test_every_path_averages_the_cards_views(model_and_card):
    from trainer.evaluation.predictions import predict_samples
    from trainer.inference.predictor import Predictor

    model, card = model_and_card
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 255, (6, 32, 32), dtype=np.uint8)
    classifier = TorchClassifier(model, "cpu")

    def plain(batch_crops) -> np.ndarray:
        return predict_probs(classifier, crops_to_batch(list(batch_crops), 32, 0.5, 0.5), True)[0]

    by_hand = (plain(crops) + plain([shifted(c, 4) for c in crops]) + plain([shifted(c, -4) for c in crops])) / 3
    app = Predictor.from_model(model, card).predict_crops(list(crops))
    assert np.allclose(app, by_hand, atol=1e-5)
    assert not np.allclose(app, plain(crops), atol=1e-3)  # the views did change something
    samples = SampleSet(ids=[f"s{i}" for i in range(6)], images=crops, labels=np.arange(6) % 4,
                        classes=tuple(BASIC_CLASSES[:4]), name="toy")
    assert np.allclose(predict_samples(model, card, samples, device="cpu").probs, app, atol=1e-5)
    # The review's second look at the likeliest errors is skipped: every face had its views already.
    assert predict_samples(model, card, samples, device="cpu", views=True).view_probs is None
    without = Predictor.from_model(model, ModelCard(**{**card.__dict__, "test_views": []})).predict_crops(list(crops))
    assert np.allclose(without, plain(crops), atol=1e-5)


def test_views_round_trip_and_bad_ones_are_refused(model_and_card, tmp_path):
    import json

    model, card = model_and_card
    weights, card_path = save_model(model, card, tmp_path / "m")
    assert read_card(weights).test_views == [{"dx": 0.125}, {"dx": -0.125}]
    data = json.loads(card_path.read_text())
    data["test_views"] = [{"angle": 90}]
    card_path.write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="test view angle must be a number in"):
        read_card(weights)
