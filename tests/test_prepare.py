"""One preprocessing path (trainer.faces.prepare): an image and what it is (photo, face crop,
auto) -> the model's crops, which way each was made, and boxes that stay inside the image;
and what datasets declare they hold (trainer.data.input_kinds)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from trainer.data.input_kinds import DATASET_FILE, declared_input, input_for, write_declaration
from trainer.faces import Face
from trainer.faces.prepare import clip_face, looks_like_crop, prepare_faces


@pytest.fixture(scope="module")
def pipeline():
    """The default (auto) detector with the crops a 96-px card asks for; skips where none runs."""
    from trainer.faces import AlignConfig, DetectorUnavailable, FaceAligner, FacePipeline, create_detector

    try:
        return FacePipeline(create_detector("auto"), FaceAligner(AlignConfig(size=96)))
    except DetectorUnavailable as exc:
        pytest.skip(str(exc))


def inside(face: Face, width: int, height: int) -> bool:
    x, y, w, h = face.box
    return x >= 0 and y >= 0 and x + w <= width and y + h <= height and w > 0 and h > 0


def test_a_photo_is_detected_and_aligned(pipeline, astronaut_bgr):
    for kind in ("auto", "photo"):
        prepared = prepare_faces(pipeline, astronaut_bgr, kind)
        assert prepared.path == "photo" and len(prepared.faces) == 1
        face = prepared.faces[0]
        assert face.method == "detect" and face.aligned and face.title == "aligned"
        assert face.crop.shape == (96, 96) and face.crop.dtype == np.uint8
        # Eileen Collins's face: the hand-measured eyes (conftest) lie inside its box.
        x, y, w, h = face.face.box
        assert x < 202.7 < x + w and y < 100.3 < y + h


def test_a_tight_crop_is_re_aligned_or_used_as_is(pipeline, astronaut_bgr):
    tight = np.ascontiguousarray(astronaut_bgr[70:220, 160:290])  # forehead to chin, ear to ear
    crop = prepare_faces(pipeline, tight, "crop")
    assert crop.path == "crop" and [f.method for f in crop.faces] == ["crop"]
    assert crop.faces[0].title == "re-aligned crop" and inside(crop.faces[0].face, 130, 150)
    flat = np.full((48, 48), 128, np.uint8)  # nothing a detector could call a face
    for kind in ("crop", "auto"):  # auto: no face in a small square image -> the crop path
        (face,) = prepare_faces(pipeline, flat, kind).faces
        assert face.method == "asis" and not face.aligned and face.title == "used as is"
        assert face.face.box == (0.0, 0.0, 48.0, 48.0) and face.crop.shape == (96, 96)
    assert prepare_faces(pipeline, flat, "photo").faces == []  # a photo: no face is no face


def test_auto_reports_no_face_in_a_large_image(pipeline):
    grey = np.full((480, 640, 3), 90, np.uint8)
    prepared = prepare_faces(pipeline, grey, "auto")
    assert prepared.path == "photo" and prepared.faces == []


def test_auto_takes_a_small_image_as_a_crop_only_when_nothing_is_found():
    calls = []

    def face(box):
        return Face(box, 0.9, (box[0] + 10, box[1] + 10), (box[0] + 30, box[1] + 10))

    def process(image):
        calls.append("process")
        return [SimpleNamespace(face=face((-20.0, -10.0, 80.0, 90.0)), crop=np.zeros((8, 8), np.uint8), matrix=None)]

    pipe = SimpleNamespace(process=process, process_crop=lambda image: pytest.fail("a face was found: no crop path"))
    (found,) = prepare_faces(pipe, np.zeros((50, 40), np.uint8), "auto").faces
    assert calls == ["process"] and found.method == "detect"
    assert found.face.box == (0.0, 0.0, 40.0, 50.0)  # cut to the 40x50 image: it reached -20..60, -10..80
    assert found.face.left_eye == (-10.0, 0.0)  # measurements are not moved


def test_looks_like_crop():
    assert looks_like_crop((48, 48)) and looks_like_crop((181, 143)) and looks_like_crop((320, 300))
    assert not looks_like_crop((480, 640)) and not looks_like_crop((321, 321))
    assert not looks_like_crop((40, 200))  # a strip, not a face


def test_clip_face_keeps_a_face_inside_as_it_is():
    face = Face((10.0, 10.0, 20.0, 20.0), 0.5, (15.0, 15.0), (25.0, 15.0))
    assert clip_face(face, 100, 100) is face
    assert clip_face(face, 20, 25).box == (10.0, 10.0, 10.0, 15.0)


def test_a_face_at_the_edge_gets_a_box_inside_the_image(pipeline, astronaut_bgr):
    cut = np.ascontiguousarray(astronaut_bgr[75:, 150:])  # the forehead and the left cheek cut off
    faces = prepare_faces(pipeline, cut, "photo").faces
    assert faces, "the detector finds a face cut at the edge"
    h, w = cut.shape[:2]
    assert all(inside(f.face, w, h) for f in faces)
    assert faces[0].face.box[0] == 0 or faces[0].face.box[1] == 0  # it reached past the edge, so it was cut


def test_bad_kind_and_bad_image():
    pipe = SimpleNamespace()
    with pytest.raises(ValueError, match="input kind 'photos'"):
        prepare_faces(pipe, np.zeros((10, 10), np.uint8), "photos")
    with pytest.raises(ValueError):
        prepare_faces(pipe, np.zeros((0, 10), np.uint8), "crop")


# ---- what datasets declare -----------------------------------------------------------------

def test_datasets_declare_what_they_hold(tmp_path):
    sfew = tmp_path / "sfew2" / "Val" / "Happy"
    sfew.mkdir(parents=True)
    (sfew / "a.png").write_bytes(b"")
    photos = tmp_path / "holiday" / "Happy"
    photos.mkdir(parents=True)
    assert declared_input(tmp_path / "fer2013" / "fer2013.csv.gz") == "crop"
    assert declared_input(tmp_path / "ferplus" / "fer2013new.csv") == "crop"
    assert declared_input(tmp_path / "sfew2") == "crop"
    assert declared_input(sfew / "a.png") == "crop"  # a file inside: its dataset's kind
    assert declared_input(photos) is None and input_for(photos) == "auto"
    assert input_for(sfew / "a.png", "photo") == "photo"  # what the user says wins
    write_declaration(tmp_path / "holiday", "crop")
    assert json.loads((tmp_path / "holiday" / DATASET_FILE).read_text()) == {"input": "crop"}
    assert declared_input(photos) == "crop"
    (tmp_path / "holiday" / DATASET_FILE).write_text("{not json")  # a broken note declares nothing
    assert declared_input(photos) is None
    write_declaration(tmp_path / "holiday", "photo")
    assert declared_input(photos / "x.jpg") == "photo"
    with pytest.raises(ValueError):
        write_declaration(tmp_path / "holiday", "video")
