"""The webcam augmentations: each one changes a face when it fires, keeps the input's range,
and old training configs (written before they existed) still mean no webcam augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.data.transforms import WEBCAM_AUGMENT, AugmentConfig, train_transform
from trainer.training.config import ConfigError, TrainConfig

NO_GEOMETRY = dict(flip=False, rotate_degrees=0.0, scale=0.0, shift=0.0, brightness=0.0, contrast=0.0, erasing=0.0)


@pytest.fixture
def face(astronaut_bgr) -> torch.Tensor:
    grey = astronaut_bgr[60:188, 170:298].mean(axis=2).astype(np.uint8)  # Eileen Collins's face, 128x128
    return torch.from_numpy(grey)[None]


@pytest.mark.parametrize("name", sorted(WEBCAM_AUGMENT))
def test_each_degradation_changes_the_face_and_keeps_the_range(face, name):
    torch.manual_seed(0)
    plain = train_transform(64, 0.5, 0.5, AugmentConfig(**NO_GEOMETRY))(face)
    degraded = train_transform(64, 0.5, 0.5, AugmentConfig(**NO_GEOMETRY, **{name: 1.0}))(face)
    assert degraded.shape == plain.shape == (1, 64, 64)
    assert float((degraded - plain).abs().mean()) > 0.01  # it did something visible
    assert float(degraded.min()) >= -1.0 and float(degraded.max()) <= 1.0  # still normalised [0, 1]
    if name == "low_light":
        assert float(degraded.mean()) < float(plain.mean())  # darker, not just different


def test_old_configs_have_no_webcam_augmentation_and_bad_values_are_refused():
    old = TrainConfig.from_dict({"augment": {"flip": True, "rotate_degrees": 10.0}})
    assert all(getattr(old.augment, name) == 0.0 for name in WEBCAM_AUGMENT)
    with pytest.raises(ConfigError, match="jpeg"):
        TrainConfig.from_dict({"augment": {"jpeg": 1.5}})
