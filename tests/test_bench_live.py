"""The live-view benchmark's helpers (bench/): frames with N real faces that the detector
finds, the fer pipeline's crop rule, one pipeline's row, and the --json output's shape.
Nothing here is timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import synthetic_faces as sf  # noqa: E402
from fer_peer import PADDING, FerPeer  # noqa: E402


@pytest.mark.parametrize("n, expected", [(1, (1, 1)), (2, (2, 1)), (4, (2, 2)), (6, (3, 2)), (8, (4, 2))])
def test_grid_is_about_square_cells_in_4_to_3(n, expected):
    assert sf.grid(n) == expected


def test_faces_found_counts_patches_holding_exactly_one_detection():
    class D:
        def __init__(self, box):
            self.box = box

    patches = [(0, 0, 100, 100), (200, 0, 100, 100), (400, 0, 100, 100)]
    detections = [D((10, 10, 50, 50)), D((210, 10, 40, 40)), D((220, 20, 40, 40)), D((600, 300, 20, 20))]
    # patch 0: one; patch 1: two (not counted); patch 2: none; the last is on no patch
    assert sf.faces_found(detections, patches) == 1


@pytest.fixture(scope="module")
def mtcnn():
    from trainer.faces import create_detector

    return create_detector("mtcnn")


@pytest.mark.parametrize("n", [1, 4, 8])
def test_stream_places_n_faces_the_detector_finds(mtcnn, n):
    import cv2

    stream = sf.FaceStream(sf.builtin_faces(), n, fps=30)
    index = 7
    frame = stream.frame(index)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    boxes = stream.patch_boxes(index)
    assert len(boxes) == n
    for x, y, w, h in boxes:  # inside the frame, no two overlapping
        assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
    # As the live view detects: on the frame downscaled to 320 px.
    small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    faces = [f.mapped(2.0, 2.0) for f in mtcnn.detect(small)]
    assert sf.faces_found(faces, boxes) == n
    assert len(faces) == n  # and nothing else


def test_stream_is_a_loop_and_faces_move():
    stream = sf.FaceStream(sf.builtin_faces(), 2, fps=20, period_s=1.0)
    assert stream.length == 20
    assert stream.patch_boxes(0) == stream.patch_boxes(20)
    assert stream.patch_boxes(0) != stream.patch_boxes(5)
    assert np.array_equal(stream.frame(3), stream.frame(23))


def test_fer_crop_is_fers_square_box_with_offsets_in_the_padded_frame():
    grey = np.arange(480 * 640, dtype=np.uint32).reshape(480, 640) % 251
    padded = np.pad(grey.astype(np.uint8), PADDING, constant_values=0)
    # A 60x80 box becomes 80x80 (x moves left by 10), then grows by 10 px a side: 100x100.
    crop = FerPeer.crop(padded, np.array([100, 50, 60, 80]))
    assert crop.shape == (64, 64)
    import cv2

    expected = cv2.resize(padded[50 - 10 + PADDING:50 + 80 + 10 + PADDING, 90 - 10 + PADDING:90 + 80 + 10 + PADDING],
                          (64, 64))
    assert np.array_equal(crop, expected)


def test_run_reports_one_row_per_pipeline_and_count():
    import live_fps

    stream = sf.FaceStream(sf.builtin_faces(), 4, fps=60)
    frames = stream.frames()
    lookup = {id(f): i for i, f in enumerate(frames)}

    def step(frame):  # a pipeline that shows the pasted patches themselves
        return {"detect": 1.0, "boxes": stream.patch_boxes(lookup[id(frame)])}

    row = live_fps.run(frames, stream, step, source_fps=60.0, n_frames=6)
    assert set(row) >= {"fps", "p95_ms", "mean_ms", "faces_found", "faces_shown", "stages_ms"}
    assert row["faces_found"] == 4.0 and row["faces_shown"] == 4.0
    assert 0 < row["fps"] <= 60.0
    assert row["stages_ms"]["detect"] == 1.0


@pytest.mark.slow
def test_json_prints_one_object_of_the_documented_shape(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "live_fps.py"), "--faces", "1,4", "--frames", "4", "--source-fps", "60",
         "--pipelines", "detect-every-frame,tracking", "--no-classifier", "--no-sfew", "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)  # exactly one JSON document: the tables went to stderr
    assert set(result["pipelines"]) == {"detect-every-frame", "tracking"}
    for by_count in result["pipelines"].values():
        assert set(by_count) == {"1", "4"}
        for row in by_count.values():
            assert row["fps"] > 0 and row["p95_ms"] > 0
    assert result["backend"] and result["detector"]
    assert result["machine"]["cpus"] >= 1
