"""Shared test setup: Qt offscreen, and the optional ../shared/data datasets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The ONNX files made from the many tiny test models go to a folder of this run, not the
# user's cache (subprocesses inherit it, so the bundled model is exported once per run).
os.environ.setdefault("FER_DESKTOP_ONNX_CACHE", tempfile.mkdtemp(prefix="fer-desktop-test-onnx-"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: a fresh clone does not have it."""
    if not (SHARED_DATA / "fer2013").is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


# Eileen Collins's eye centres in scikit-image's 512x512 astronaut (image-left eye first),
# measured by hand, not by any detector: the centre of each dark iris disc, read off the image
# magnified 24 times with a pixel grid and checked against its grey levels (left iris: columns
# 200-205, rows 98-102; right iris: columns 243-249, rows 100-105), each within about a pixel.
ASTRONAUT_EYES = ((202.7, 100.3), (246.5, 102.5))


@pytest.fixture(scope="session")
def astronaut_bgr():
    """scikit-image's astronaut (Eileen Collins): a real face, shipped with the package."""
    import numpy as np
    from skimage import data

    rgb = data.astronaut()
    return np.ascontiguousarray(rgb[:, :, ::-1])


@pytest.fixture(scope="session")
def two_people_bgr(astronaut_bgr):
    """Two real people side by side, 512 px high: the astronaut (scikit-image) in columns
    0-511, Grace Hopper (matplotlib's sample data) right of her; both photos are in the public
    domain."""
    import cv2
    import matplotlib
    import numpy as np

    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    h = astronaut_bgr.shape[0]
    hopper = cv2.resize(hopper, (round(hopper.shape[1] * h / hopper.shape[0]), h))
    return np.hstack([astronaut_bgr, hopper])


@pytest.fixture
def one_torch_thread():
    """Training tests share two cores with whatever else runs; more torch threads only thrash."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
