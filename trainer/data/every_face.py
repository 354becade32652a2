"""Every face of a folder of photos or videos (or of one) as a dataset of face crops, one
sample a face: how group photos and clips are labelled face by face (a folder of photos is
otherwise one sample an image, its largest face).

Each face is cut as the app makes its model input from the photo (the card's detector, aligner
and crop size: :func:`trainer.data.crops.make_pipeline` on the whole photo), so a face reviewed
here gets the probabilities the live view and ``fer-desktop predict`` give it; cut as a region
and found again in it, a face can come out another way, or another person's (a neighbour's face
whose centre falls in the region). The crops go into a folder in the user's data dir that keeps
the source's layout (split and class folders, ``unlabelled/``; videos give one frame every
``every_s`` seconds) and is named after the source, so the review's journal and dataset key
follow the source's name (a folder per detector: it decides the faces and their numbers, which
labels name); it is cut again only when the source's files or the face settings change, and made
beside the old one and swapped in when complete, so a crash or a cancel never leaves half a
dataset. ``faces.json`` says where each face came from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.data.samples import DataError

if TYPE_CHECKING:
    from trainer.data.crops import FaceOptions

FACES_VERSION = 1  # bump when the faces cut for the same files would differ
STAMP = "every-face.json"
EVERY_S = 1.0  # a video's frames: one a second
TRACK_IOU = 0.3  # a video's face continues a track when it overlaps the previous sampled frame's this much


@dataclass(frozen=True)
class FaceSource:
    """Where a face of an every-face folder came from."""

    image: str  # the photo or video
    box: tuple[float, float, float, float]  # (x, y, w, h) in its pixels
    index: int  # which face of the image or frame (0 = the largest)
    faces: int  # how many faces it had
    frame: int | None = None  # a video's frame index
    track: int | None = None  # a video's face: which person, as far as overlap between frames tells (0 = first seen)

    def describe(self) -> str:
        """``group.jpg, face 2 of 3`` / ``clip.mp4, frame 25, face 1 of 2, track 2``"""
        where = Path(self.image).name + (f", frame {self.frame}" if self.frame is not None else "")
        return f"{where}, face {self.index + 1} of {self.faces}" + (
            f", track {self.track + 1}" if self.track is not None else "")


def faces_home() -> Path:
    from trainer.data.relabel import user_data_dir

    return user_data_dir() / "every-face"


def faces_folder_path(source: str | Path, home: str | Path | None = None, detector: str = "auto") -> Path:
    """Where the faces of ``source`` go: one folder per source path and detector, named like the
    source. The detector decides which faces there are and their numbers (``two_face1.png``),
    which the journal's labels name: another detector gets a folder, and a journal, of its own."""
    from trainer.faces.detectors import resolved_name

    source = Path(source).expanduser().resolve()
    digest = hashlib.sha256(str(source).encode("utf-8")).hexdigest()[:8]
    return Path(home or faces_home()) / digest / resolved_name(detector) / source.name


def every_face_folder(source: str | Path, options: FaceOptions, *, home: str | Path | None = None,
                      every_s: float = EVERY_S,
                      progress: Callable[[int, int], None] | None = None,
                      cancelled: Callable[[], bool] | None = None) -> Path:
    """The folder holding every face of ``source`` (a folder of photos or videos, labelled or
    not, or one photo or video), cut with ``options`` (a :class:`~trainer.data.crops.FaceOptions`: the model card's for
    photos) unless an up-to-date one exists; its crops are model input, to be used as they are.
    DataError when ``source`` is not a folder or holds no face at all."""
    from trainer.data.crops import make_pipeline
    from trainer.data.input_kinds import AS_IS, write_declaration
    from trainer.faces.batch import AlignError, AlignOptions, align_files, input_files

    from trainer.faces.io import is_image_name, is_video_name

    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise DataError(f"{source}: not found")
    if source.is_file() and not (is_image_name(source) or is_video_name(source)):
        raise DataError(f"{source}: not an image or a video, nor a folder of them")
    target = faces_folder_path(source, home, options.detector)
    try:
        files = input_files([source])
    except AlignError as exc:
        raise DataError(f"{source}: {exc}") from None
    settings = {"version": FACES_VERSION, "source": str(source), "detector": options.detector,
                "aligner": options.aligner, "size": options.crop_size, "every_s": every_s}
    stamp = {**settings, "files": [_file_stamp(f, source) for f, _ in files]}
    if _read_stamp(target) == stamp:
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        result = align_files(files, partial, make_pipeline(options), AlignOptions(every_s=every_s),
                             progress=progress, cancelled=cancelled, prog="every face")
        if result.faces == 0:
            unread = f" ({len(result.errors)} could not be read)" if result.errors else ""
            raise DataError(f"{source}: no face found in any of its {result.files} image(s) and video(s){unread}")
        write_declaration(partial, AS_IS)  # model input: every command uses the faces as they are
        (partial / STAMP).write_text(json.dumps(stamp) + "\n", encoding="utf-8")
    except BaseException:  # cancelled, no face, a bug: the faces cut before stay as they were
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _swap_in(partial, target)
    return target


def is_every_face_folder(path: str | Path) -> bool:
    return (Path(path) / STAMP).is_file()


def face_sources(folder: str | Path) -> dict[str, FaceSource]:
    """Each crop of an every-face (or ``fer-train align``) folder -> where it came from, by
    the crop's path relative to the folder (the sample id of a folder dataset); a video's faces
    with their tracks (:func:`link_tracks`)."""
    from trainer.faces.batch import read_manifest

    records = read_manifest(Path(folder))
    tracks = _video_tracks(records)
    out: dict[str, FaceSource] = {}
    for record in records:
        faces = record.get("faces") or []
        for i, face in enumerate(faces):
            out[face["crop"]] = FaceSource(record["image"], tuple(face["box"]), i, len(faces), record.get("frame"),
                                           tracks.get(face["crop"]))
    return out


def link_tracks(frames: list[list[tuple[float, float, float, float]]], min_iou: float = TRACK_IOU,
                missed: int = 1) -> list[list[int]]:
    """Track numbers for the faces of consecutive sampled frames (each a list of (x, y, w, h)
    boxes): a face continues the track whose last box it overlaps most (one to one, at least
    ``min_iou``) among those seen in the last ``missed`` + 1 frames (a face the detector missed
    once goes on), else starts a new one. Sampled a second apart, a face that moves more than
    about half its width in between starts a new track."""
    from trainer.faces.geometry import match_boxes

    out: list[list[int]] = []
    last: dict[int, tuple[tuple[float, float, float, float], int]] = {}  # track -> (its last box, frame number)
    for k, boxes in enumerate(frames):
        live = [t for t, (_, seen) in last.items() if k - seen <= missed + 1]
        numbers = [-1] * len(boxes)
        for i, j in match_boxes([last[t][0] for t in live], boxes, min_iou):
            numbers[j] = live[i]
        for j, box in enumerate(boxes):
            if numbers[j] < 0:
                numbers[j] = len(last)
            last[numbers[j]] = (box, k)
        out.append(numbers)
    return out


def _video_tracks(records: list[dict]) -> dict[str, int]:
    """crop name -> its track within its video (records of photos have none)."""
    by_video: dict[str, list[dict]] = {}
    for record in records:
        if record.get("frame") is not None:
            by_video.setdefault(record["image"], []).append(record)
    out: dict[str, int] = {}
    for frames in by_video.values():
        frames.sort(key=lambda r: r["frame"])
        faces = [r.get("faces") or [] for r in frames]
        numbers = link_tracks([[tuple(f["box"]) for f in fs] for fs in faces])
        out.update((f["crop"], n) for fs, ns in zip(faces, numbers) for f, n in zip(fs, ns))
    return out


def summary(folder: str | Path) -> str:
    """What cutting found: ``5 faces from 3 of 4 images; no face in blank.png``."""
    from trainer.faces.batch import read_manifest

    faces: dict[str, int] = {}  # file -> faces found in it (all its frames)
    unread: list[str] = []
    for record in read_manifest(Path(folder)):
        faces[record["image"]] = faces.get(record["image"], 0) + len(record.get("faces") or [])
        if "error" in record:
            unread.append(record["image"])
    faceless = [f for f, n in faces.items() if n == 0 and f not in unread]
    text = (f"{sum(faces.values())} face{'s' * (sum(faces.values()) != 1)} from "
            f"{sum(n > 0 for n in faces.values())} of {len(faces)} {_what(list(faces))}")
    if faceless:
        text += f"; no face in {_some(faceless)}"
    if unread:
        text += f"; could not read {_some(unread)}"
    return text


def _what(files: list[str]) -> str:
    from trainer.faces.io import is_video_name

    videos = sum(map(is_video_name, files))
    return "videos" if videos == len(files) else "images and videos" if videos else "images"


def _some(files: list[str], listed: int = 3) -> str:
    names = ", ".join(Path(f).name for f in files[:listed])
    return names + (f" and {len(files) - listed} more" if len(files) > listed else "")


def _file_stamp(path: Path, source: Path) -> list:
    st = path.stat()
    return [path.relative_to(source).as_posix(), st.st_size, st.st_mtime_ns]


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _swap_in(partial: Path, target: Path) -> None:
    """Replace ``target`` by the complete ``partial`` (the old faces stay until the new are in)."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)
