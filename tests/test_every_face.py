"""Every face of a folder of photos and videos as a dataset of face crops: the layout kept, each
face traced to its photo (checked against where the two people stand in the composite photo,
not against the detector), made once and again only when the files or the face settings change,
nothing half-made left behind, and the review opened on it face by face with a journal that
outlives the faces. That each face gets the live view's probabilities: test_same_probs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.data.crops import FaceOptions
from trainer.data.every_face import STAMP, every_face_folder, face_sources, faces_folder_path, link_tracks, summary
from trainer.data.samples import DataError

ASTRONAUT_WIDTH = 512  # conftest's two_people_bgr: the astronaut fills columns 0-511, Hopper the rest

PHOTO = FaceOptions(mode="photo", crop_size=48)


@pytest.fixture
def photos(tmp_path, two_people_bgr, astronaut_bgr) -> Path:
    """``photos/Happy/two.png`` (two people), ``photos/unlabelled/one.png``, a blank image and a
    broken one."""
    root = tmp_path / "photos"
    (root / "Happy").mkdir(parents=True)
    (root / "unlabelled").mkdir()
    cv2.imwrite(str(root / "Happy" / "two.png"), two_people_bgr)
    cv2.imwrite(str(root / "unlabelled" / "one.png"), astronaut_bgr)
    cv2.imwrite(str(root / "unlabelled" / "blank.png"), np.full((120, 120, 3), 90, np.uint8))
    (root / "unlabelled" / "broken.jpg").write_bytes(b"\xff\xd8 not a whole JPEG")
    return root


def test_every_face_keeps_the_layout_and_traces_each_face_to_its_photo(photos, tmp_path):
    folder = every_face_folder(photos, PHOTO, home=tmp_path / "home")
    assert folder == faces_folder_path(photos, tmp_path / "home") and folder.name == "photos"
    crops = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    assert crops == ["Happy/two_face0.png", "Happy/two_face1.png", "unlabelled/one_face0.png"]
    assert json.loads((folder / "fer-dataset.json").read_text()) == {"input": "none"}  # model input: as is

    sources = face_sources(folder)
    two = [sources["Happy/two_face0.png"], sources["Happy/two_face1.png"]]
    assert {Path(s.image).name for s in two} == {"two.png"} and [s.index for s in two] == [0, 1]
    assert all(s.faces == 2 and s.frame is None for s in two)
    centres = sorted(s.box[0] + s.box[2] / 2 for s in two)
    assert centres[0] < ASTRONAUT_WIDTH < centres[1]  # one face on each person
    # A face is the model's input, at the options' crop size (what it gets is in test_same_probs).
    assert cv2.imread(str(folder / "Happy" / "two_face0.png"), cv2.IMREAD_UNCHANGED).shape == (48, 48)
    assert summary(folder) == "3 faces from 2 of 4 images; no face in blank.png; could not read broken.jpg"


def test_faces_are_cut_again_only_when_the_files_change(photos, tmp_path, monkeypatch, astronaut_bgr):
    import trainer.faces.batch as batch

    home = tmp_path / "home"
    folder = every_face_folder(photos, PHOTO, home=home)
    stamp = (folder / STAMP).read_text()
    calls = []
    real = batch.align_files
    monkeypatch.setattr(batch, "align_files", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert every_face_folder(photos, PHOTO, home=home) == folder and calls == []
    assert every_face_folder(photos, FaceOptions(mode="photo", crop_size=64), home=home) == folder
    assert len(calls) == 1  # another model's input size: cut again, the same faces, the same folder
    haar = every_face_folder(photos, FaceOptions(mode="photo", crop_size=48, detector="haar"), home=home)
    assert haar != folder and haar.name == folder.name and len(calls) == 2  # another detector: a folder of its own
    cv2.imwrite(str(photos / "unlabelled" / "new.png"), astronaut_bgr)
    every_face_folder(photos, PHOTO, home=home)
    assert len(calls) == 3 and (folder / "unlabelled" / "new_face0.png").is_file()
    assert (folder / STAMP).read_text() != stamp
    assert sorted(p.name for p in folder.parent.iterdir()) == ["photos"]  # no .partial or .old left


def test_a_cancelled_or_faceless_cut_leaves_the_faces_as_they_were(photos, tmp_path, astronaut_bgr):
    from trainer.evaluation.predictions import Cancelled

    home = tmp_path / "home"
    folder = every_face_folder(photos, PHOTO, home=home)
    before = sorted(p.name for p in folder.rglob("*"))
    cv2.imwrite(str(photos / "Happy" / "more.png"), astronaut_bgr)
    with pytest.raises(Cancelled):
        every_face_folder(photos, PHOTO, home=home, cancelled=lambda: True)
    assert sorted(p.name for p in folder.rglob("*")) == before
    assert sorted(p.name for p in folder.parent.iterdir()) == ["photos"]

    blank = tmp_path / "blank"
    blank.mkdir()
    cv2.imwrite(str(blank / "grey.png"), np.full((80, 80, 3), 90, np.uint8))
    with pytest.raises(DataError, match="no face found in any of its 1 image"):
        every_face_folder(blank, PHOTO, home=home)
    assert not any(p.name.endswith(".partial") for p in home.rglob("*"))
    (tmp_path / "notes.txt").write_text("no faces here")
    with pytest.raises(DataError, match="not an image or a video, nor a folder of them"):
        every_face_folder(tmp_path / "notes.txt", PHOTO, home=home)
    with pytest.raises(DataError, match="not found"):
        every_face_folder(tmp_path / "gone", PHOTO, home=home)


def test_one_photo_is_a_folder_of_its_faces(photos, tmp_path):
    one = every_face_folder(photos / "Happy" / "two.png", PHOTO, home=tmp_path / "home")
    assert one.name == "two.png" and sorted(face_sources(one)) == ["two_face0.png", "two_face1.png"]


def test_every_face_of_a_video_is_one_frame_a_second(tmp_path, astronaut_bgr):
    clips = tmp_path / "clips"
    clips.mkdir()
    frame = cv2.resize(astronaut_bgr, (320, 320))
    writer = cv2.VideoWriter(str(clips / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 320))
    for _ in range(25):  # 2.5 s at 10 fps: frames 0, 10 and 20
        writer.write(frame)
    writer.release()
    folder = every_face_folder(clips, PHOTO, home=tmp_path / "home")
    sources = face_sources(folder)
    assert sorted(sources) == ["clip_f000000_face0.png", "clip_f000010_face0.png", "clip_f000020_face0.png"]
    assert sorted(s.frame for s in sources.values()) == [0, 10, 20]
    assert sources["clip_f000010_face0.png"].describe() == "clip.avi, frame 10, face 1 of 1, track 1"
    assert summary(folder) == "3 faces from 1 of 1 videos"
    alone = every_face_folder(clips / "clip.avi", PHOTO, home=tmp_path / "home")  # the video itself
    assert alone != folder and sorted(face_sources(alone)) == sorted(sources)
    denser = every_face_folder(clips, PHOTO, home=tmp_path / "home", every_s=0.5)  # cut again: 2 a second
    assert denser == folder and sorted(s.frame for s in face_sources(denser).values()) == [0, 5, 10, 15, 20]


def two_people_clip(folder: Path, two_people_bgr: np.ndarray) -> Path:
    """``folder/two.avi``: 4 s at 10 fps (sampled: frames 0, 10, 20, 30), two people drifting
    half a pixel right each frame."""
    folder.mkdir(parents=True)
    h, w = two_people_bgr.shape[:2]
    writer = cv2.VideoWriter(str(folder / "two.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w // 2, h // 2))
    for k in range(40):
        writer.write(cv2.resize(np.roll(two_people_bgr, k, axis=1), (w // 2, h // 2)))
    writer.release()
    return folder


def test_tracks_follow_overlap_across_frames_by_hand():
    a, b = (0, 0, 10, 10), (50, 0, 10, 10)
    frames = [[a, b], [(1, 0, 10, 10)], [(51, 0, 10, 10), (2, 0, 10, 10)],  # b missed once: still track 1
              [], [], [(2, 0, 10, 10)],  # two frames without a face: a new track
              [(9, 0, 10, 10)], [(200, 0, 10, 10)]]  # IoU 30/170 < 0.3 with the last box: new; far: new
    assert link_tracks(frames) == [[0, 1], [0], [1, 0], [], [], [2], [3], [4]]


def test_a_videos_faces_are_linked_into_one_track_a_person(tmp_path, two_people_bgr, one_torch_thread):
    """Two people in a clip, drifting a little each frame: two tracks, each one person's (told
    apart by where they stand: the astronaut left of column 512, Hopper right of it)."""
    clips = two_people_clip(tmp_path / "clips", two_people_bgr)
    sources = face_sources(every_face_folder(clips, PHOTO, home=tmp_path / "home"))
    assert len(sources) == 8
    tracks: dict[int, set[str]] = {}
    for src in sources.values():
        tracks.setdefault(src.track, set()).add("astronaut" if src.box[0] + src.box[2] / 2 < ASTRONAUT_WIDTH / 2
                                                else "hopper")
    assert sorted(tracks) == [0, 1] and {frozenset(t) for t in tracks.values()} == {frozenset({"astronaut"}),
                                                                                  frozenset({"hopper"})}
    from trainer.faces.io import read_video_frame, video_frames

    sampled = dict(video_frames(clips / "two.avi", 1.0))
    assert sorted(sampled) == [0, 10, 20, 30]
    for index, frame in sampled.items():  # the detail's frame is the frame the faces were cut from
        np.testing.assert_array_equal(read_video_frame(clips / "two.avi", index), frame)
    first = next(s for s in sources.values() if s.frame == 30 and s.track == 1)
    assert first.describe().endswith(", track 2")


def test_the_review_opens_every_face_and_keeps_the_labels(photos, tmp_path, monkeypatch, one_torch_thread):
    from fer_desktop.review import DatasetRequest
    from fer_desktop.review_io import export_corrected, open_session

    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    model = _tiny_model(tmp_path)
    request = DatasetRequest(str(photos), model=str(model), every_face=True)
    s = open_session(request, cache_dir=tmp_path / "predictions")
    assert s.ids == ["Happy/two_face0.png", "Happy/two_face1.png", "unlabelled/one_face0.png"]
    assert s.classes[s.given[0]] == s.classes[s.given[1]] == "happy" and s.given[2] == -1
    assert s.dataset == "photos" and s.name.startswith("photos")
    assert [o.describe() for o in s.origins] == ["two.png, face 1 of 2", "two.png, face 2 of 2", "one.png, face 1 of 1"]
    assert s.opening_note == ("Every face of photos: 3 faces from 2 of 4 images; no face in blank.png; "
                              "could not read broken.jpg.")
    assert [s.method_of(i) for i in range(len(s))] == ["detect"] * 3  # found and aligned in the photo
    assert not s.doubts.no_face.any()
    s.relabel("Happy/two_face1.png", "neutral")
    again = open_session(request, cache_dir=tmp_path / "predictions")
    assert again.journal.path == s.journal.path and again.state_of(1) == "neutral"
    # The faces' folder opened as a dataset (a retrain's new model reopens it so): the same faces
    # as they are, the same probabilities, traced to their photos, the same journal.
    direct = open_session(DatasetRequest(s.source, model=str(model)), cache_dir=tmp_path / "predictions")
    assert direct.ids == s.ids and direct.origins == s.origins and direct.journal.path == s.journal.path
    np.testing.assert_allclose(direct.probs, s.probs, atol=1e-6)
    out = export_corrected(s, tmp_path / "labelled")  # the faces as the model sees them, labelled
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "Happy/two_face0.png", "Neutral/two_face1.png", "unlabelled/one_face0.png"]
    assert json.loads((out / "fer-dataset.json").read_text()) == {"input": "none"}

    assert not len(s.track_of(0))  # a photo's face has no track
    no_faces = DatasetRequest(str(tmp_path / "nowhere"), model=str(model), every_face=True)
    with pytest.raises(DataError, match="not found"):
        open_session(no_faces)


def test_a_folder_of_videos_opened_image_by_image_says_to_open_every_face(tmp_path, monkeypatch):
    from fer_desktop.review import DatasetRequest
    from fer_desktop.review_io import open_session

    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "clip.mp4").write_bytes(b"not read: the error comes first")
    with pytest.raises(DataError, match=r"holds 1 video\(s\): open it with Every face"):
        open_session(DatasetRequest(str(clips), model=str(_tiny_model(tmp_path))))


def _tiny_model(tmp_path: Path) -> Path:
    """Random weights (a 48 px Lite0), the card's crops made as the app makes them."""
    import torch

    from trainer.classes import BASIC_CLASSES
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model

    torch.manual_seed(0)
    model, _ = create_model("efficientnet-lite0", len(BASIC_CLASSES), pretrained=False)
    card = ModelCard(name="tiny-every-face", backbone="efficientnet-lite0", classes=list(BASIC_CLASSES),
                     input_size=48, mean=[0.5], std=[0.5],
                     preprocessing={"faces": "crops", "grey": True, "crop_size": 48})
    weights, _ = save_model(model, card, tmp_path / "model" / "tiny")
    return weights


def test_every_face_folders_stay_out_of_the_collected_faces(tmp_path, monkeypatch):
    """Collect's default folder is a dataset of class folders: a digest folder in it would be
    read as a misspelt class."""
    pytest.importorskip("pytestqt")
    from fer_desktop._qt.tools.collect import default_folder

    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    made = faces_folder_path(tmp_path / "photos")
    assert made.is_relative_to(tmp_path / "home") and not made.is_relative_to(default_folder())


def test_training_and_scoring_take_the_faces_as_they_are(photos, tmp_path, astronaut_bgr):
    """What the folder declares reaches a retrain's spec (as is), the commands that score a
    dataset (as is) and an image of it opened alone (a face crop)."""
    from trainer.data.input_kinds import image_kind, input_for
    from trainer.training.spec import spec_from_card

    folder = every_face_folder(photos, PHOTO, home=tmp_path / "home")
    assert input_for(folder) == "none" and image_kind(input_for(folder / "Happy" / "two_face0.png")) == "crop"
    model = _tiny_model(tmp_path)
    assert spec_from_card(model, [str(folder)]).load.faces.mode == "none"
    assert spec_from_card(model, [str(photos)]).load.faces.mode == "auto"  # the photos themselves: the card's
