"""Dataset readers on tiny generated data: FER-2013 csv / csv.gz, FER+ votes, class folders
in every supported layout and image format, dataset specs and variants, the crop cache."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES, FERPLUS_CLASSES
from trainer.data.crops import FaceOptions, prepare_crops
from trainer.data.datasets import DataSpec, LoadOptions, load_samples, load_variant
from trainer.data.fer2013 import read_fer2013
from trainer.data.ferplus import label_votes, read_ferplus
from trainer.data.folders import scan_folder_dataset
from trainer.data.samples import DataError
from trainer.data.synthetic import write_class_folders, write_fer_csv, write_ferplus_csv

NONE = LoadOptions(faces=FaceOptions(mode="none", crop_size=32), use_cache=False)


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))


# ---- FER-2013 -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fer.csv", "fer.csv.gz"])
def test_fer2013_csv_and_gz(tmp_path, name):
    path = write_fer_csv(tmp_path / name, {"Training": 12, "PublicTest": 4, "PrivateTest": 4})
    sets = read_fer2013(path)
    assert list(sets) == ["Training", "PublicTest", "PrivateTest"]
    train = sets["Training"]
    assert train.images.shape == (12, 48, 48) and train.images.dtype == np.uint8
    assert train.classes == BASIC_CLASSES
    assert train.ids[:2] == ["fer2013:0", "fer2013:1"]
    assert sets["PrivateTest"].ids[0] == "fer2013:16"  # row numbers run across usages
    assert len(read_fer2013(path, limit=5)["Training"]) == 5


def _write_rows(path: Path, rows: list[str]) -> Path:
    path.write_text("emotion,pixels,Usage\n" + "".join(r + "\n" for r in rows))
    return path


GOOD = "3," + " ".join(["7"] * 2304) + ",Training"


@pytest.mark.parametrize("row, message", [
    ("x," + " ".join(["7"] * 2304) + ",Training", "emotion 'x' is not an integer"),
    ("9," + " ".join(["7"] * 2304) + ",Training", "emotion 9 outside"),
    ("3," + " ".join(["7"] * 2000) + ",Training", "2000 pixels, expected 2304"),
    ("3," + " ".join(["7"] * 2303) + " 300,Training", "outside 0..255"),
    ("3," + " ".join(["a"] * 2304) + ",Training", "not all integers"),
    ("3," + " ".join(["7"] * 2304) + " 7x,Training", "not all integers"),  # after 2304 good ones
    ("3," + " ".join(["7"] * 2303) + " 7.5,Training", "not all integers"),
])
def test_fer2013_malformed_rows_name_the_line(tmp_path, row, message):
    path = _write_rows(tmp_path / "bad.csv", [GOOD, row])
    with pytest.raises(DataError, match=message) as err:
        read_fer2013(path)
    assert "bad.csv:3" in str(err.value)


def test_fer2013_wrong_header_and_broken_gzip(tmp_path):
    (tmp_path / "h.csv").write_text("label,image\n1,2\n")
    with pytest.raises(DataError, match="missing column"):
        read_fer2013(tmp_path / "h.csv")
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(b"emotion,pixels,Usage\n" + GOOD.encode())[:40])
    with pytest.raises(DataError, match="cannot read"):
        read_fer2013(tmp_path / "b.csv.gz")


# ---- FER+ -----------------------------------------------------------------------------------

#        neutral happy surprise sad anger disgust fear contempt unknown NF
ROWS = [
    ("Training", "a.png", [0, 8, 1, 0, 0, 0, 0, 0, 1, 0]),  # 0 happy
    ("Training", "b.png", [5, 0, 0, 5, 0, 0, 0, 0, 0, 0]),  # 1 tie neutral / sad
    ("Training", "c.png", [1, 0, 0, 0, 0, 0, 0, 0, 6, 3]),  # 2 unknown wins
    ("Training", "", [9, 0, 0, 0, 0, 0, 0, 0, 0, 1]),  # 3 no image
    ("Training", "e.png", [2, 0, 0, 0, 0, 0, 0, 6, 2, 0]),  # 4 contempt
    ("Training", "f.png", [0, 0, 0, 0, 3, 3, 0, 4, 0, 0]),  # 5 contempt over anger/disgust
    ("PublicTest", "g.png", [0, 0, 7, 0, 0, 0, 3, 0, 0, 0]),  # 6 surprise
    ("PublicTest", "h.png", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),  # 7 no votes
]
VOTES = np.array([r[2] for r in ROWS])
NAMES = [r[1] for r in ROWS]
C7 = {c: i for i, c in enumerate(BASIC_CLASSES)}
C8 = {c: i for i, c in enumerate(FERPLUS_CLASSES)}


def test_ferplus_majority_protocol():
    fer = np.zeros(len(ROWS), dtype=np.int64)
    v = label_votes(VOTES, fer, NAMES, mode="majority", contempt="keep")
    assert v.classes == FERPLUS_CLASSES
    assert list(v.keep) == [True, False, False, False, True, True, True, False]
    assert v.labels[0] == C8["happy"] and v.labels[4] == C8["contempt"] and v.labels[6] == C8["surprise"]
    assert list(v.reasons) == ["", "tie", "not_emotion", "no_image", "", "", "", "no_votes"]


def test_ferplus_contempt_rules():
    fer = np.zeros(len(ROWS), dtype=np.int64)
    dropped = label_votes(VOTES, fer, NAMES, contempt="drop")
    assert dropped.classes == BASIC_CLASSES
    assert not dropped.keep[4] and not dropped.keep[5]  # their top is contempt
    folded = label_votes(VOTES, fer, NAMES, contempt="disgust")
    assert folded.keep[4] and folded.labels[4] == C7["disgust"]  # 6 contempt votes count as disgust
    assert folded.labels[5] == C7["disgust"]  # 3 disgust + 4 contempt beat 3 anger


def test_ferplus_ties_can_follow_fer2013():
    fer = np.zeros(len(ROWS), dtype=np.int64)
    fer[1] = C7["sad"]
    v = label_votes(VOTES, fer, NAMES, ties="fer2013")
    assert v.keep[1] and v.labels[1] == C8["sad"]
    fer[1] = C7["angry"]  # not among the tied: still dropped
    assert not label_votes(VOTES, fer, NAMES, ties="fer2013").keep[1]


def test_ferplus_vote_distributions():
    fer = np.zeros(len(ROWS), dtype=np.int64)
    v = label_votes(VOTES, fer, NAMES, mode="votes", contempt="drop")
    assert v.keep[1]  # a tie between emotions is a fine distribution
    np.testing.assert_allclose(v.soft[1], np.eye(7)[C7["neutral"]] * 0.5 + np.eye(7)[C7["sad"]] * 0.5)
    np.testing.assert_allclose(v.soft[0][C7["happy"]], 8 / 9)  # the unknown vote is left out
    assert v.labels[1] == C7["sad"]  # first maximum in class order


def test_read_ferplus_lines_up_with_fer2013(tmp_path):
    fer = write_fer_csv(tmp_path / "fer2013" / "fer2013.csv", {"Training": 6, "PublicTest": 2})
    votes = write_ferplus_csv(tmp_path / "ferplus" / "fer2013new.csv", ROWS)
    sets = read_ferplus(votes, mode="majority")  # finds ../fer2013/fer2013.csv by itself
    assert sets["Training"].ids == ["fer2013:0", "fer2013:4", "fer2013:5"]
    assert sets["PublicTest"].ids == ["fer2013:6"]
    original = read_fer2013(fer)["Training"]
    np.testing.assert_array_equal(sets["Training"].images[0], original.images[0])
    assert sets["Training"].meta["dropped"] == {"no_image": 1, "not_emotion": 1, "tie": 1}
    soft = read_ferplus(votes, fer, mode="votes")["Training"]
    assert soft.soft_labels.shape == (len(soft), 8)
    # A votes file that does not line up with the pixels is refused.
    write_ferplus_csv(tmp_path / "short.csv", ROWS[:5])
    with pytest.raises(DataError, match="do not line up"):
        read_ferplus(tmp_path / "short.csv", fer)


def test_ferplus_spec_via_load_samples(tmp_path):
    write_fer_csv(tmp_path / "fer2013" / "fer2013.csv.gz", {"Training": 6, "PublicTest": 2})
    votes = write_ferplus_csv(tmp_path / "ferplus" / "fer2013new.csv", ROWS)
    s = load_samples(f"{votes}#publictest")  # split names are case-insensitive
    assert s.name == "ferplus/PublicTest" and s.ids == ["fer2013:6"]


# ---- class folders --------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["png", "jpg", "tiff", "bmp"])
@pytest.mark.parametrize("colour", [False, True])
def test_folder_formats(tmp_path, ext, colour):
    root = write_class_folders(tmp_path / "ds", 3, ext=ext, colour=colour)
    s = load_samples(str(root), NONE)
    assert s.images.shape == (12, 32, 32) and s.images.dtype == np.uint8
    assert s.classes == BASIC_CLASSES
    assert s.ids[0] == f"Angry/000.{ext}"
    assert list(s.class_counts()[:4]) == [3, 3, 3, 3]


@pytest.mark.parametrize("ext", ["png", "tiff"])
def test_folder_16bit(tmp_path, ext):
    root = write_class_folders(tmp_path / "ds", 2, ext=ext, depth16=True)
    s = load_samples(str(root), NONE)
    assert s.images.dtype == np.uint8 and s.images.max() > 100  # scaled, not clipped to 255 or 0


def test_folder_with_split_level_and_other_spellings(tmp_path):
    names = ["anger", "disgusted", "Fearful", "happiness"]
    root = write_class_folders(tmp_path / "ds", 2, class_names=names, splits=["train", "test"])
    (root / "README.txt").write_text("not an image folder")
    listings = scan_folder_dataset(root)
    assert [lst.split for lst in listings] == ["test", "train"]
    train = load_samples(f"{root}#Train", NONE)  # case-insensitive split
    assert train.name == "ds/train" and train.ids[0] == "train/anger/000.png"
    assert [train.classes[i] for i in np.unique(train.labels)] == ["angry", "disgust", "fear", "happy"]
    both = load_samples(f"{root}#train+test", NONE)
    assert len(both) == 16 and both.name == "ds/train+test"


def test_folder_contempt_gives_eight_classes(tmp_path):
    root = write_class_folders(tmp_path / "ds", 1, class_names=["Happy", "Contempt"])
    assert load_samples(str(root), NONE).classes == FERPLUS_CLASSES


def test_a_split_may_lack_a_class_and_keeps_the_dataset_class_list(tmp_path):
    """A small Val without disgust, an empty class folder (a corrected copy whose last face of a
    class was relabelled): both read, and every split gets the classes of the whole dataset."""
    root = write_class_folders(tmp_path / "a", 2, splits=["Train", "Val"], class_names=["Happy", "Sad", "Contempt"])
    for f in (root / "Val" / "Contempt").iterdir():
        f.unlink()
    (root / "Val" / "Contempt").rmdir()
    (root / "Val" / "Sad" / "000.png").unlink()
    val = load_samples(f"{root}#Val", NONE)
    assert val.classes == FERPLUS_CLASSES  # Train's Contempt folder decides, though Val has none
    assert list(val.class_counts()[[3, 4, 7]]) == [2, 1, 0]
    for f in (root / "Val" / "Sad").iterdir():
        f.unlink()
    assert list(load_samples(f"{root}#Val", NONE).class_counts()[[3, 4]]) == [2, 0]  # an empty Sad folder


def test_images_without_a_label_read_as_unlabelled(tmp_path):
    """A folder of loose images is all unlabelled (the basic classes); an unlabelled/ folder
    beside class folders, any split, holds the images still to label; neither adds a class."""
    loose = tmp_path / "photos"
    write_class_folders(tmp_path / "gen", 3, class_names=["Happy"])
    loose.mkdir()
    for k, f in enumerate(sorted((tmp_path / "gen" / "Happy").iterdir())):
        f.rename(loose / f"img{k}.png")
    (loose / "notes.txt").write_text("not an image")
    s = load_samples(str(loose), NONE)
    assert s.ids == ["img0.png", "img1.png", "img2.png"] and list(s.labels) == [-1, -1, -1]
    assert s.classes == BASIC_CLASSES and len(s.labelled()) == 0
    with pytest.raises(DataError, match="no split folders"):
        load_samples(f"{loose}#Train", NONE)

    root = write_class_folders(tmp_path / "part", 2, splits=["Train", "Val"], class_names=["Happy", "Sad", "Unlabeled"])
    train = load_samples(f"{root}#Train", NONE)
    assert train.classes == BASIC_CLASSES  # the unlabelled folder is no class
    named = {i: (train.classes[k] if k >= 0 else "?") for i, k in zip(train.ids, train.labels)}
    assert named == {"Train/Happy/000.png": "happy", "Train/Happy/001.png": "happy", "Train/Sad/000.png": "sad",
                     "Train/Sad/001.png": "sad", "Train/Unlabeled/000.png": "?", "Train/Unlabeled/001.png": "?"}
    assert [sum(label < 0 for label in listing.labels) for listing in scan_folder_dataset(root)] == [2, 2]
    (root / "Unlabeled" / "x").mkdir(parents=True)
    with pytest.raises(DataError, match="'Unlabeled' sits beside the split folders Train, Val; move it into one"):
        load_samples(f"{root}#Train", NONE)
    flat = write_class_folders(tmp_path / "flat", 1, class_names=["Angry", "unlabelled"])
    assert list(load_samples(str(flat), NONE).labels) == [0, -1]  # no split level: both are label folders

    twice = write_class_folders(tmp_path / "twice", 1, class_names=["Angry", "unlabelled", "Unlabeled"])
    with pytest.raises(DataError, match="both unlabelled"):
        load_samples(str(twice), NONE)
    odd = write_class_folders(tmp_path / "odd", 1, class_names=["unlabelled", "Hapy"])
    with pytest.raises(DataError, match="unknown class folder name.*'Hapy'"):  # a typo is still named
        load_samples(str(odd), NONE)


def test_folder_errors(tmp_path):
    root = write_class_folders(tmp_path / "a", 1, splits=["Train", "Val"], class_names=["Angry", "Happy"])
    for f in (root / "Val").glob("*/*.png"):
        f.unlink()
    with pytest.raises(DataError, match=r"Val: no images in its class folders"):
        load_samples(f"{root}#Val", NONE)

    root = write_class_folders(tmp_path / "c", 1, class_names=["Angry", "Angryy"])
    with pytest.raises(DataError, match="unknown class folder name.*'Angryy'"):
        load_samples(str(root), NONE)

    root = write_class_folders(tmp_path / "d", 1, splits=["Train"])
    with pytest.raises(DataError, match="no split folder 'Val'"):
        load_samples(f"{root}#Val", NONE)

    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match="no sub-folders"):
        load_samples(str(tmp_path / "e"), NONE)
    with pytest.raises(DataError, match="not found"):
        load_samples(str(tmp_path / "nowhere"), NONE)


# ---- specs and variants ---------------------------------------------------------------------

def test_spec_parsing(tmp_path):
    assert DataSpec.parse("a/b.csv#Training+PublicTest") == DataSpec(Path("a/b.csv"), ("Training", "PublicTest"))
    assert DataSpec.parse("sfew2", root=tmp_path) == DataSpec(tmp_path / "sfew2", ())


@pytest.fixture
def data_root(tmp_path) -> Path:
    """A miniature ../shared/data: FER-2013 csv.gz and an SFEW-like folder set."""
    root = tmp_path / "data"
    write_fer_csv(root / "fer2013" / "fer2013.csv.gz", {"Training": 20, "PublicTest": 8, "PrivateTest": 8})
    write_class_folders(root / "sfew2", 2, splits=["Train", "Val"], size=64, colour=True)
    return root


def test_variants(data_root):
    fer32 = load_variant("fer32", data_root, NONE)
    assert fer32.train.name == "fer2013/FER32" and len(fer32.train) == 28
    assert fer32.val.name == "fer2013/PrivateTest" and len(fer32.val) == 8
    fer28 = load_variant("fer28", data_root, NONE)
    assert (fer28.train.name, fer28.val.name) == ("fer2013/Training", "fer2013/PublicTest")
    mixed = load_variant("fer32+target", data_root, NONE, common_size=40)
    assert mixed.train.name == "FER32+sfew2" and len(mixed.train) == 28 + 8
    assert mixed.train.images.shape[1:] == (40, 40)  # FER's 48 and the folders' 32 meet at 40
    assert mixed.train.ids[-1] == "Train/Happy/001.png"
    assert mixed.val.name == "sfew2/Val"
    with pytest.raises(DataError, match="unknown variant"):
        load_variant("fer99", data_root, NONE)


# ---- face crops and their cache -------------------------------------------------------------

class FakePipeline:
    """Records which path each image took; finds a "face" only in images wider than 100 px."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self.detector = SimpleNamespace(name="fake")
        self.aligner = SimpleNamespace(whole_image=lambda image: np.full((50, 50), 7, np.uint8))

    @staticmethod
    def _face(image):
        from trainer.faces import Face

        h, w = image.shape[:2]
        return Face((0.0, 0.0, float(w), float(h)), 1.0, (w / 3, h / 3), (2 * w / 3, h / 3))

    def process(self, image):
        assert not self.fail, "the cache should have answered"
        self.calls.append("process")
        if image.shape[1] > 100:
            return [SimpleNamespace(face=self._face(image), crop=np.full((50, 50), 200, np.uint8), matrix=None)]
        return []

    def process_crop(self, image):
        assert not self.fail, "the cache should have answered"
        self.calls.append("process_crop")
        return SimpleNamespace(face=self._face(image), crop=np.full((50, 50), 100, np.uint8), matrix=None,
                               fallback=image.mean() < 1)


def test_prepare_crops_dispatch_and_cache(tmp_path):
    """Every image goes the app's way (trainer.faces.prepare): auto detects first, takes a small
    face-shaped image without a face as a crop, and a large one without a face stands in whole."""
    import cv2

    root = tmp_path / "photos"
    (root / "Happy").mkdir(parents=True)
    cv2.imwrite(str(root / "Happy" / "big.png"), np.full((400, 500), 90, np.uint8))  # photo-sized
    cv2.imwrite(str(root / "Happy" / "small.png"), np.full((60, 60), 90, np.uint8))  # crop-sized
    cv2.imwrite(str(root / "Happy" / "dark.png"), np.zeros((60, 60), np.uint8))  # no face in it
    cv2.imwrite(str(root / "Happy" / "tall.png"), np.full((400, 90), 90, np.uint8))  # no face, no crop
    files = ["Happy/big.png", "Happy/small.png", "Happy/dark.png", "Happy/tall.png"]
    options = FaceOptions(mode="auto", crop_size=24, auto_max_side=320)
    cache = tmp_path / "cache"

    pipe = FakePipeline()
    made = prepare_crops(root, files, options, cache_dir=cache, pipeline=pipe)
    assert pipe.calls == ["process", "process", "process_crop", "process", "process_crop", "process"]
    assert made.methods == ["detect", "crop", "asis", "noface"]
    assert made.crops.shape == (4, 24, 24) and made.crops[0, 0, 0] == 200 and made.crops[1, 0, 0] == 100
    assert made.crops[3, 0, 0] == 7  # the whole image, as the aligner makes it
    assert made.detector == "fake"

    again = prepare_crops(root, files, options, cache_dir=cache, pipeline=FakePipeline(fail=True))
    np.testing.assert_array_equal(again.crops, made.crops)
    assert again.methods == made.methods and again.detector == "fake"

    detect = prepare_crops(root, files, FaceOptions(mode="photo", crop_size=24), cache_dir=cache,
                           pipeline=FakePipeline())
    assert detect.methods == ["detect", "noface", "noface", "noface"]  # other settings: a new cache entry
    crops = prepare_crops(root, files, FaceOptions(mode="crop", crop_size=24), cache_dir=cache,
                          pipeline=FakePipeline())
    assert crops.methods == ["crop", "crop", "asis", "crop"]

    st = (root / "Happy" / "small.png").stat()
    os.utime(root / "Happy" / "small.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a changed file
    pipe = FakePipeline()
    prepare_crops(root, files, options, cache_dir=cache, pipeline=pipe)
    assert len(pipe.calls) == 6
    assert len(list(cache.glob("*.npz"))) == 4


def test_real_pipeline_detects_the_largest_face(tmp_path, astronaut_bgr):
    """detect mode through trainer.faces on a real photo (skips when no detector can run)."""
    import cv2

    from trainer.data.crops import make_pipeline

    faces = pytest.importorskip("trainer.faces")
    options = FaceOptions(mode="detect", crop_size=48, detector="haar")  # the light back-end
    try:
        pipeline = make_pipeline(options)
    except DataError as exc:
        pytest.skip(str(exc))
    (tmp_path / "Happy").mkdir()
    cv2.imwrite(str(tmp_path / "Happy" / "astronaut.jpg"), astronaut_bgr)
    made = prepare_crops(tmp_path, ["Happy/astronaut.jpg"], options, use_cache=False, pipeline=pipeline)
    assert made.methods == ["detect"] and made.crops.shape == (1, 48, 48)
    assert made.crops.std() > 20  # a face, not a flat patch
    assert options.describe()["aligner"] == faces.AlignConfig(size=48).to_dict()


def test_load_dataset_by_spec_and_the_parsed_csv_cache(data_root, tmp_path):
    from trainer.data.datasets import _fer_cached, load_dataset

    options = LoadOptions(faces=FaceOptions(mode="none", crop_size=32), cache_dir=tmp_path / "c")
    fer = load_dataset(str(data_root / "fer2013" / "fer2013.csv.gz"), options=options)
    assert (fer.train.name, fer.val.name) == ("fer2013/Training", "fer2013/PublicTest")
    assert len(list((tmp_path / "c").glob("fer2013-*.npz"))) == 1
    _fer_cached.cache_clear()  # now from the .npz on disk
    again = load_dataset(str(data_root / "fer2013" / "fer2013.csv.gz"), options=options)
    np.testing.assert_array_equal(again.train.images, fer.train.images)
    assert again.train.ids == fer.train.ids and list(again.train.labels) == list(fer.train.labels)

    folders = load_dataset(str(data_root / "sfew2"), options=options)
    assert (folders.train.name, folders.val.name) == ("sfew2/Train", "sfew2/Val")
    only = load_dataset(f"{data_root / 'sfew2'}#Val", options=options)
    assert only.train.name == "sfew2/Val" and only.val is None
