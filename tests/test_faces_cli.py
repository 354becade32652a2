"""``fer-train align``: faces.json schema, crops on disk, input-pixel coordinates, and clear
errors (no traceback) for unreadable inputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT_EYES
from trainer import cli
from trainer.faces import available_detectors, read_image

EYES = np.array(ASTRONAUT_EYES)  # measured by hand (tests/conftest.py)
DETECTOR = "dlib" if available_detectors()["dlib"] is None else "haar"  # the fastest one here


@pytest.fixture(autouse=True)
def only_installed_commands(monkeypatch):
    """The CLI imports every sub-command to build its parser; test align even while a
    sibling command module is still missing from the tree."""
    present = tuple(c for c in cli.COMMANDS if importlib.util.find_spec(f"trainer.commands.{c}") is not None)
    monkeypatch.setattr(cli, "COMMANDS", present)


def _write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix, image)
    assert ok
    buf.tofile(str(path))
    return path


def test_align_writes_crops_and_faces_json(tmp_path, astronaut_bgr, capsys):
    src = tmp_path / "in"
    _write(src / "astronaut.png", astronaut_bgr)
    # A 1.25x copy in a sub-folder: its coordinates must be its own pixels, not the other's.
    bigger = cv2.resize(astronaut_bgr, (640, 640), interpolation=cv2.INTER_CUBIC)
    _write(src / "sub" / "big.jpg", bigger)
    _write(src / "nothing.png", np.full((120, 160, 3), 128, np.uint8))
    (src / "broken.png").write_bytes(b"not a png at all")
    (src / "notes.txt").write_text("ignored: not an image extension")
    out = tmp_path / "out"

    rc = cli.main(["align", str(src), "--out", str(out), "--detector", DETECTOR, "--size", "128"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "Traceback" not in captured.err
    assert "broken.png" in captured.err and "warning" in captured.err
    assert len([line for line in captured.err.splitlines() if "broken.png" in line]) == 1

    records = json.loads((out / "faces.json").read_text(encoding="utf-8"))
    assert isinstance(records, list)
    by_name = {Path(r["image"]).name: r for r in records}
    assert set(by_name) == {"astronaut.png", "big.jpg", "nothing.png", "broken.png"}

    assert "error" in by_name["broken.png"] and "faces" not in by_name["broken.png"]
    assert by_name["nothing.png"]["faces"] == []

    for name, scale in (("astronaut.png", 1.0), ("big.jpg", 1.25)):
        rec = by_name[name]
        assert Path(rec["image"]).is_file()
        assert len(rec["faces"]) == 1
        face = rec["faces"][0]
        assert {"box", "score", "left_eye", "right_eye", "crop"} <= set(face)
        assert len(face["box"]) == 4 and len(face["left_eye"]) == 2 and len(face["right_eye"]) == 2
        assert isinstance(face["score"], float)
        expected = (EYES + 0.5) * scale - 0.5
        np.testing.assert_allclose([face["left_eye"], face["right_eye"]], expected, atol=4 * scale + 1)
        x, y, w, h = face["box"]
        assert x < face["left_eye"][0] < face["right_eye"][0] < x + w and y < face["left_eye"][1] < y + h
        crop = read_image(out / face["crop"])
        assert crop.shape == (128, 128, 3)  # written grey, read back as BGR
        assert np.array_equal(crop[:, :, 0], crop[:, :, 2])
    # files found in a folder keep their sub-folders
    assert by_name["big.jpg"]["faces"][0]["crop"] == "sub/big_face0.png"


def test_align_crops_are_made_from_the_recorded_eyes(tmp_path, astronaut_bgr, capsys):
    """faces.json and the crops agree: the crop written is the one the aligner makes from the
    eyes recorded (recomputed here from the record, not by running the detector again)."""
    from trainer.faces import Face, FaceAligner

    path = _write(tmp_path / "a.png", astronaut_bgr)
    out = tmp_path / "out"
    assert cli.main(["align", str(path), "--out", str(out), "--detector", DETECTOR]) == 0
    face = json.loads((out / "faces.json").read_text())[0]["faces"][0]
    np.testing.assert_allclose([face["left_eye"], face["right_eye"]], EYES, atol=4)
    recorded = Face(tuple(face["box"]), face["score"], tuple(face["left_eye"]), tuple(face["right_eye"]))
    remade = FaceAligner().align(cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY), recorded)
    written = read_image(out / face["crop"])[:, :, 0]
    assert written.shape == remade.shape == (256, 256)
    # faces.json rounds coordinates to 0.01 px (and dlib's measured eye corners are not in it):
    # the two crops are the same picture up to resampling, not a different face.
    assert np.corrcoef(written.ravel().astype(float), remade.ravel().astype(float))[0, 1] > 0.97


def test_align_pre_cropped_keeps_one_face_per_image(tmp_path, astronaut_bgr, capsys):
    tight = astronaut_bgr[66:192, 172:284]
    _write(tmp_path / "in" / "tight.png", tight)
    _write(tmp_path / "in" / "blank.png", np.full((48, 48), 30, np.uint8))
    out = tmp_path / "out"
    assert cli.main(["align", str(tmp_path / "in"), "--out", str(out), "--pre-cropped", "--size", "64"]) == 0
    recs = {Path(r["image"]).name: r for r in json.loads((out / "faces.json").read_text())}
    assert len(recs["tight.png"]["faces"]) == 1 and "fallback" not in recs["tight.png"]["faces"][0]
    blank = recs["blank.png"]["faces"]
    assert len(blank) == 1 and blank[0]["fallback"] is True and blank[0]["box"] == [0.0, 0.0, 48.0, 48.0]


def test_align_unreadable_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00\x01garbage")
    out = tmp_path / "out"
    rc = cli.main(["align", str(bad), str(tmp_path / "missing.png"), "--out", str(out), "--detector", "haar"])
    err = capsys.readouterr().err
    assert rc != 0
    assert "Traceback" not in err
    assert "bad.jpg: not an image" in err
    assert "missing.png: no such file" in err
    assert "error: none of the 2 input file(s) could be read" in err
    records = json.loads((out / "faces.json").read_text())
    assert [("error" in r) for r in records] == [True, True]


def test_align_empty_directory_and_bad_detector(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["align", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no input images or videos found" in capsys.readouterr().err
    img = _write(tmp_path / "x.png", np.zeros((10, 10), np.uint8))
    assert cli.main(["align", str(img), "--out", str(tmp_path / "o"), "--detector", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown face detector 'nope'" in err and "Traceback" not in err


def test_align_non_ascii_names(tmp_path, astronaut_bgr, capsys):
    src = _write(tmp_path / "été" / "visage é.png", astronaut_bgr)
    out = tmp_path / "sortie"
    assert cli.main(["align", str(src.parent), "--out", str(out), "--detector", DETECTOR]) == 0
    rec = json.loads((out / "faces.json").read_text(encoding="utf-8"))[0]
    assert rec["image"] == str(src)
    assert (out / rec["faces"][0]["crop"]).is_file()


def test_align_samples_video_frames(tmp_path, astronaut_bgr, capsys):
    """A 2.5 s clip at 10 fps (the astronaut sliding right) and one photo, in a folder: one
    frame a second is aligned (frames 0, 10, 20), each crop named after its frame, each
    record giving the frame's index; a file that is no video is recorded, not fatal."""
    src = tmp_path / "in"
    src.mkdir()
    writer = cv2.VideoWriter(str(src / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    assert writer.isOpened()
    head = cv2.resize(astronaut_bgr[0:300, 80:380], (180, 180))
    for i in range(25):
        frame = np.full((240, 320, 3), 90, np.uint8)
        frame[30:210, 10 + 4 * i:190 + 4 * i] = head
        writer.write(frame)
    writer.release()
    _write(src / "photo.png", astronaut_bgr)
    (src / "broken.mp4").write_bytes(b"no video here")
    out = tmp_path / "out"
    assert cli.main(["align", str(src), "--out", str(out), "--detector", DETECTOR, "--every", "1"]) == 0
    err = capsys.readouterr().err
    assert "broken.mp4: " in err and "Traceback" not in err and "(3 video frame(s))" in err
    records = json.loads((out / "faces.json").read_text())
    frames = [(Path(r["image"]).name, r.get("frame"), len(r.get("faces", []))) for r in records]
    assert frames == [("photo.png", None, 1), ("broken.mp4", None, 0), ("clip.avi", 0, 1), ("clip.avi", 10, 1),
                      ("clip.avi", 20, 1)]
    assert sorted(p.name for p in out.glob("*.png")) == ["clip_f000000_face0.png", "clip_f000010_face0.png",
                                                         "clip_f000020_face0.png", "photo_face0.png"]
    boxes = [r["faces"][0]["box"][0] for r in records if r.get("frame") is not None]
    assert boxes[0] < boxes[1] < boxes[2]  # the face moved right, 40 px each second
    assert cli.main(["align", str(src / "clip.avi"), "--out", str(out), "--every", "0"]) == 2
    assert "--every must be a positive number" in capsys.readouterr().err
