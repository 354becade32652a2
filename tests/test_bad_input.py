"""Bad input never crashes and never takes good work down with it (issue 11): one test per
class of failure the fuzz pass found, each on a small generated file. The broad sweep is
bench/fuzz.py (and tests/test_fuzz_quick.py for a fast slice of it)."""

from __future__ import annotations

import gzip
import json
import os
import struct
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trainer import cli
from trainer.classes import BASIC_CLASSES
from trainer.data.crops import FaceOptions
from trainer.data.datasets import DataSpec, LoadOptions, load_samples
from trainer.data.samples import DataError
from trainer.errors import UserError
from trainer.faces import ImageReadError, read_image
from trainer.models.card import ModelCard, ModelLoadError, load_model, read_card, save_model

TINY = "timm:test_efficientnet"
CLASSES = list(BASIC_CLASSES)


def returns_within(seconds: float, fn, *args):
    """fn(*args) in a thread: (finished, result or exception). A FIFO reader that blocks
    would leave the test hanging; this fails it instead."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["value"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box.get("value")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 32x32 JPEG whose frame header is patched to claim width x height."""
    data = bytearray(cv2.imencode(".jpg", np.full((32, 32, 3), 128, np.uint8))[1].tobytes())
    i = 2
    while i < len(data):
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if data[i + 1] in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            break
        i += 2 + length
    return bytes(data)


# ---- images -------------------------------------------------------------------------------------

def test_a_fifo_is_refused_at_once_not_read_forever(tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    try:
        done, result = returns_within(5, read_image, fifo)
        assert done, "read_image blocked on a FIFO"
        assert isinstance(result, ImageReadError) and "not a regular file" in str(result)
    finally:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if not done else None  # unblock a stuck reader
        if fd is not None:
            os.close(fd)


def test_devices_and_links_to_them_are_refused(tmp_path):
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(tmp_path / "zero.png")


def test_a_small_file_claiming_a_huge_image_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(jpeg_claiming(30000, 30000))  # a few hundred bytes; would decode to 2.7 GB
    assert bomb.stat().st_size < 2000
    with pytest.raises(ImageReadError, match="megapixels"):
        read_image(bomb)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as fh:
        fh.write(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    os.truncate(huge, 4 << 30)  # sparse: 4 GiB that take no disk
    with pytest.raises(ImageReadError, match="MB is more than"):
        read_image(huge)


@pytest.mark.parametrize("shape", [(1, 1), (19, 19), (1, 100000), (3, 5000)])
def test_tiny_and_thin_images_give_no_face_instead_of_failing(shape):
    from trainer.faces import FacePipeline, create_detector

    pipeline = FacePipeline(create_detector("mtcnn"))
    image = np.full((*shape, 3), 120, np.uint8)
    assert pipeline.process(image) == []
    crop = pipeline.process_crop(image)  # padded and enlarged, at most 2048 px a side
    assert crop is not None and crop.crop.shape == (256, 256)


def test_multipage_tiff_with_a_tiny_first_page(tmp_path):
    from PIL import Image

    path = tmp_path / "pages.tif"
    Image.fromarray(np.full((3, 3, 3), 80, np.uint8)).save(
        path, save_all=True, append_images=[Image.fromarray(np.full((64, 64, 3), 200, np.uint8))])
    assert read_image(path).shape == (3, 3, 3)  # the first page, as documented


def test_align_records_bad_files_and_writes_the_good_ones(tmp_path, astronaut_bgr, capsys):
    good = tmp_path / "astronaut.png"
    cv2.imwrite(str(good), astronaut_bgr)
    bad = {"tiny.png": cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes(),
           "bomb.jpg": jpeg_claiming(30000, 30000), "empty.png": b"", "garbage.png": b"\x89PNG\r\n\x1a\nxx"}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    os.mkfifo(tmp_path / "fifo.png")
    files = [str(tmp_path / n) for n in ("tiny.png", "bomb.jpg", "fifo.png", "empty.png")] + [str(good)] + \
        [str(tmp_path / "garbage.png")]
    done, code = returns_within(120, cli.main, ["align", *files, "--out", str(tmp_path / "out"), "--detector", "mtcnn"])
    assert done and code == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    records = {Path(r["image"]).name: r for r in json.loads((tmp_path / "out" / "faces.json").read_text())}
    assert len(records["astronaut.png"]["faces"]) == 1 and "error" not in records["astronaut.png"]
    assert records["tiny.png"]["faces"] == []  # read, too small for a face: not an error
    for name in ("bomb.jpg", "fifo.png", "empty.png", "garbage.png"):
        assert records[name]["error"], name


# ---- model files --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_state():
    import timm

    torch.manual_seed(0)
    model = timm.create_model(TINY[5:], pretrained=False, num_classes=len(CLASSES))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def write_model(stem: Path, card: dict | str, state: dict) -> Path:
    from safetensors.torch import save_file

    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(card if isinstance(card, str) else json.dumps(card))
    save_file(state, str(stem.with_suffix(".safetensors")))
    return stem


def card(**changes) -> dict:
    return {"name": "tiny", "backbone": TINY, "classes": CLASSES, "input_size": 32, "mean": [0.5], "std": [0.5],
            "preprocessing": {"faces": "crops", "grey": True}, **changes}


@pytest.mark.parametrize("changes, field", [
    ({"classes": 7}, "classes"), ({"classes": list(range(7))}, "classes[0]"), ({"classes": ["happy"] * 7}, "classes"),
    ({"backbone": 5}, "backbone"), ({"input_size": "64"}, "input_size"), ({"input_size": 64.5}, "input_size"),
    ({"input_size": 4096}, "input_size"), ({"mean": "abc"}, "mean"), ({"std": [0]}, "std"), ({"std": None}, "std"),
    ({"preprocessing": ["faces"]}, "preprocessing"), ({"preprocessing": {"aligner": "x"}}, "preprocessing"),
    ({"preprocessing": {"detector": "nope"}}, "preprocessing"), ({"format": "fer-desktop-model/9"}, "format"),
])
def test_a_bad_card_names_its_field(tmp_path, tiny_state, changes, field):
    stem = write_model(tmp_path / "m", card(**changes), tiny_state)
    with pytest.raises(ModelLoadError) as info:
        load_model(stem)
    message = str(info.value)
    assert f"'{field}'" in message and "\n" not in message, message


def test_cards_nested_too_deep_or_not_utf8_are_clear(tmp_path, tiny_state):
    stem = write_model(tmp_path / "m", '{"a":' * 100000 + "1" + "}" * 100000, tiny_state)
    with pytest.raises(ModelLoadError, match="nested too deeply"):
        read_card(stem)
    stem.with_suffix(".json").write_bytes(b"\xef\xbb\xbf" + json.dumps(card()).encode())  # a BOM is fine
    assert read_card(stem).name == "tiny"
    os.unlink(stem.with_suffix(".json"))
    os.mkfifo(stem.with_suffix(".json"))
    done, result = returns_within(5, read_card, stem)
    assert done and isinstance(result, ModelLoadError) and "not a regular file" in str(result)


@pytest.mark.parametrize("spoil, words", [
    (lambda s, k: {**s, k: torch.full_like(s[k], float("nan"))}, "NaN or infinite"),
    (lambda s, k: {**s, k: torch.full_like(s[k], float("inf"))}, "NaN or infinite"),
    (lambda s, k: {n: t.to(torch.int64) if t.is_floating_point() else t for n, t in s.items()}, "floating point"),
    (lambda s, k: {n: t for n, t in s.items() if n != k}, "missing"),
])
def test_weights_that_cannot_give_right_answers_are_refused(tmp_path, tiny_state, spoil, words):
    key = next(k for k, v in tiny_state.items() if v.is_floating_point() and v.ndim > 1)
    stem = write_model(tmp_path / "m", card(), spoil(tiny_state, key))
    with pytest.raises(ModelLoadError, match=words):
        load_model(stem)


def test_float16_weights_and_unknown_card_keys_are_fine(tmp_path, tiny_state):
    half = {k: v.half() if v.is_floating_point() else v for k, v in tiny_state.items()}
    model, loaded = load_model(write_model(tmp_path / "m", card(colour="blue"), half))
    assert loaded.classes == CLASSES


def test_save_model_never_leaves_a_torn_model(tmp_path, tiny_state, monkeypatch):
    model, first = load_model(write_model(tmp_path / "src", card(), tiny_state))
    target = tmp_path / "out" / "model"
    save_model(model, first, target)
    before = (target.with_suffix(".safetensors").read_bytes(), target.with_suffix(".json").read_text())
    import safetensors.torch

    def killed(*_args, **_kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(safetensors.torch, "save_file", killed)
    second = ModelCard(**{**card(), "name": "second", "input_size": 32})
    with pytest.raises(OSError):
        save_model(model, second, target)
    after = (target.with_suffix(".safetensors").read_bytes(), target.with_suffix(".json").read_text())
    assert after == before and not list(target.parent.glob("*.tmp"))


def test_a_saved_model_is_readable_as_the_umask_allows(tmp_path, tiny_state):
    import os

    model, loaded = load_model(write_model(tmp_path / "src", card(), tiny_state))
    old = os.umask(0o022)
    try:
        weights, card_path = save_model(model, loaded, tmp_path / "out" / "model")
    finally:
        os.umask(old)
    # safetensors alone writes 0600: a model shared from a run folder would be unreadable to others
    assert weights.stat().st_mode & 0o777 == card_path.stat().st_mode & 0o777 == 0o644


def test_weights_take_the_users_umask_not_safetensors_0600(tmp_path):
    import os

    import torch

    from trainer.models.card import write_weights

    old = os.umask(0o027)
    try:
        write_weights({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary file left


def test_merge_refuses_a_single_model(tmp_path, tiny_state, capsys):
    stem = write_model(tmp_path / "m", card(), tiny_state)
    assert cli.main(["merge", str(stem), "--out", str(tmp_path / "merged")]) == 2
    assert "two or more models" in capsys.readouterr().err


def test_bad_pretrained_weights_files(tmp_path):
    from trainer.models.pretrained import PretrainedNotFound, read_state_dict

    (tmp_path / "junk.safetensors").write_bytes(b"\x00junk")
    (tmp_path / "dir.safetensors").mkdir()
    for name in ("junk.safetensors", "dir.safetensors", "missing.pth"):
        with pytest.raises(PretrainedNotFound):
            read_state_dict(tmp_path / name)


# ---- datasets -----------------------------------------------------------------------------------

def fer_csv(rows: int = 14, header: str = "emotion,pixels,Usage", pixel: str | None = None) -> str:
    rng = np.random.default_rng(0)
    lines = [header]
    for i in range(rows):
        px = [str(v) for v in rng.integers(0, 256, 48 * 48)]
        if pixel is not None and i == 3:
            px[5] = pixel
        lines.append(f"{i % 7},{' '.join(px)},{('Training', 'PublicTest')[i % 2]}")
    return "\n".join(lines) + "\n"


NO_FACES = LoadOptions(faces=FaceOptions(mode="none", crop_size=48), use_cache=False)


def test_csv_header_with_spaces_or_a_bom_reads(tmp_path):
    (tmp_path / "spaces.csv").write_text(fer_csv(header=" emotion , pixels , Usage "))
    (tmp_path / "bom.csv").write_text("\ufeff" + fer_csv())
    for name in ("spaces.csv", "bom.csv"):
        assert len(load_samples(f"{tmp_path / name}#Training", NO_FACES)) == 7


@pytest.mark.parametrize("value", [str(2 ** 40), str(10 ** 30), "nan", "1.5"])
def test_pixel_values_out_of_any_range_are_one_line_data_errors(tmp_path, value):
    (tmp_path / "f.csv").write_text(fer_csv(pixel=value))
    with pytest.raises(DataError, match=r"f.csv:5: pixel"):
        load_samples(tmp_path / "f.csv", NO_FACES)


def test_corrupt_gzip_and_vote_overflow(tmp_path):
    data = gzip.compress(fer_csv().encode())
    (tmp_path / "bad.csv.gz").write_bytes(data[:20] + bytes(b ^ 0x55 for b in data[20:300]) + data[300:])
    with pytest.raises(DataError, match="cannot read as csv"):
        load_samples(tmp_path / "bad.csv.gz", NO_FACES)
    assert issubclass(zlib.error, Exception)  # the error that used to escape
    from trainer.data.ferplus import read_votes

    cols = "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    (tmp_path / "votes.csv").write_text(f"Usage,Image name,{cols}\nTraining,a.png,{10 ** 30},0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataError, match="vote counts must be"):
        read_votes(tmp_path / "votes.csv")


def write_folder(root: Path, per_class: int = 2) -> Path:
    rng = np.random.default_rng(1)
    for split in ("Train", "Val"):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                cv2.imwrite(str(root / split / c / f"{i}.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    return root


def test_a_folder_named_with_a_hash_is_a_dataset(tmp_path):
    root = write_folder(tmp_path / "data#set")
    assert DataSpec.parse(str(root)).path == root and DataSpec.parse(str(root)).splits == ()
    assert DataSpec.parse(f"{root}#Val").path == root and DataSpec.parse(f"{root}#Val").splits == ("Val",)
    assert len(load_samples(f"{root}#Val", NO_FACES)) == 14


def test_one_unreadable_image_does_not_cost_the_dataset(tmp_path):
    root = write_folder(tmp_path / "faces")
    (root / "Val" / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (root / "Val" / "sad" / "empty.jpg").write_bytes(b"")
    samples = load_samples(f"{root}#Val", NO_FACES)
    assert len(samples) == 14 and set(samples.meta["unreadable"]) == {"Val/happy/broken.png", "Val/sad/empty.jpg"}
    for p in (root / "Val").rglob("*.png"):
        p.write_bytes(b"junk")
    with pytest.raises(DataError, match="none of the"):
        load_samples(f"{root}#Val", NO_FACES)


@pytest.mark.parametrize("spoil", ["garbage", "truncate", "wrong_shapes", "directory"])
def test_a_cache_entry_that_does_not_load_is_rebuilt(tmp_path, spoil):
    root = write_folder(tmp_path / "faces")
    (tmp_path / "fer.csv").write_text(fer_csv())
    options = LoadOptions(faces=FaceOptions(mode="none", crop_size=48), cache_dir=tmp_path / "cache")
    from trainer.data import datasets

    first = [load_samples(f"{root}#Val", options), load_samples(f"{tmp_path / 'fer.csv'}#Training", options)]
    entries = sorted((tmp_path / "cache").glob("*.npz"))
    assert len(entries) == 2
    for entry in entries:
        if spoil == "garbage":
            entry.write_bytes(os.urandom(500))
        elif spoil == "truncate":
            entry.write_bytes(entry.read_bytes()[:100])
        elif spoil == "wrong_shapes":
            with np.load(entry) as d:
                arrays = {k: d[k][:1] if d[k].ndim else d[k] for k in d.files}
            np.savez(entry, **arrays)
        else:
            entry.unlink()
            entry.mkdir()
    datasets._fer_cached.cache_clear()
    again = [load_samples(f"{root}#Val", options), load_samples(f"{tmp_path / 'fer.csv'}#Training", options)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.images, b.images)
    if spoil != "directory":  # rebuilt in place
        datasets._fer_cached.cache_clear()
        assert all(np.load(e)["files" if "fer2013" not in e.name else "usages"].size for e in entries)


def test_zero_usable_samples_is_refused(tmp_path):
    sub = tmp_path / "ferplus"
    sub.mkdir()
    (sub / "fer2013.csv").write_text(fer_csv())
    cols = "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    rows = [f"{('Training', 'PublicTest')[i % 2]},f{i}.png,0,0,0,0,0,0,0,0,0,10" for i in range(14)]  # all "not a face"
    (sub / "fer2013new.csv").write_text(f"Usage,Image name,{cols}\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match="no usable samples"):
        load_samples(f"{sub / 'fer2013new.csv'}#Training", NO_FACES)


# ---- training -----------------------------------------------------------------------------------

@pytest.mark.parametrize("poison", ["empty", "garbage", "payload", "directory", "nan"])
def test_a_poisoned_checkpoint_is_refused_before_any_training(tmp_path, poison, one_torch_thread):
    import io
    import pickle

    from trainer.data.samples import SampleSet
    from trainer.training.config import resolve_config
    from trainer.training.loop import CHECKPOINT, CheckpointError, train_stage

    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / CHECKPOINT
    marker = tmp_path / "PWNED"
    if poison == "empty":
        ckpt.write_bytes(b"")
    elif poison == "garbage":
        ckpt.write_bytes(os.urandom(300))
    elif poison == "payload":
        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        buf = io.BytesIO()
        pickle.dump({"model": Payload()}, buf, protocol=2)
        ckpt.write_bytes(buf.getvalue())
    elif poison == "directory":
        ckpt.mkdir()
    else:
        torch.save({k: {"w": torch.tensor([float("nan")])} if k == "model" else 0 for k in
                    ("config_json", "model", "optimizer", "scheduler", "scaler", "generator", "torch_rng", "epoch",
                     "history_json", "best_score", "stale")}, ckpt)
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32), dtype=np.uint8)
    train = SampleSet([str(i) for i in range(16)], images, np.arange(16) % 7, BASIC_CLASSES, name="t")
    cfg = resolve_config("modern", model=TINY, pretrained=False, input_size=32, batch_size=8, epochs=1)
    with pytest.raises(CheckpointError) as info:
        train_stage(cfg, train, None, run)
    assert isinstance(info.value, UserError) and "\n" not in str(info.value)
    assert not marker.exists() and not (run / "model.safetensors").exists()


def test_settings_are_typed_and_name_themselves():
    from trainer.training.cascade import CascadeError, _STAGE_DATA, _checked
    from trainer.training.config import ConfigError, resolve_config

    for bad, name in [({"epochs": "x"}, "epochs"), ({"lr": float("nan")}, "lr"), ({"input_size": 4096}, "input_size"),
                      ({"augment": {"flip": "maybe"}}, "augment.flip")]:
        with pytest.raises(ConfigError, match=name):
            resolve_config(None, **bad)
    with pytest.raises(CascadeError, match="plain name"):
        _checked(_STAGE_DATA, {"name": "../../elsewhere"}, "stage 1")


# ---- the command line's rule: the user's mistakes in one line, bugs with their traceback --------

def test_user_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys):
    from trainer.commands import report

    def mistake(args):
        raise DataError("the data is not what it should be")

    monkeypatch.setattr(report, "run", mistake)
    assert cli.main(["report", "x"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "fer-train report: error: the data is not what it should be"

    def bug(args):
        raise RuntimeError("shape mismatch inside our code")

    monkeypatch.setattr(report, "run", bug)
    assert cli.main(["report", "x"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: shape mismatch" in err
    assert "this is a bug in fer-desktop" in err


# ---- the live view ------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", [np.full((1, 10000, 3), 90, np.uint8), np.full((120, 160, 3), np.nan),
                                   np.full((120, 160), 70000, np.int64), np.zeros((1, 1), np.uint8)])
def test_live_view_takes_odd_frames(frame):
    from trainer.faces import FaceAligner, create_detector
    from trainer.inference.live import LivePipeline

    live = LivePipeline(create_detector("mtcnn"), FaceAligner(), lambda crops: np.zeros((len(crops), 7)))
    assert live.process(frame) == [] and live.process(frame, still=True) == []
