"""trainer.faces.io: reading images robustly (formats, bit depths, alpha, odd paths, errors)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer.faces import ImageReadError, read_image
from trainer.faces.io import decode_image, find_images


def _write(path: Path, image: np.ndarray, ext: str | None = None) -> Path:
    ok, buf = cv2.imencode(ext or path.suffix, image)
    assert ok
    buf.tofile(str(path))
    return path


@pytest.fixture()
def colour() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    img[0, 0] = (255, 0, 0)  # pure blue in BGR: checks the channel order survives
    return img


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff", ".webp"])
def test_lossless_formats_round_trip(tmp_path, colour, ext):
    path = _write(tmp_path / f"img{ext}", colour, ".webp" if ext == ".webp" else None)
    if ext == ".webp":  # lossy by default: only check shape and channel order
        out = read_image(path)
        assert out.shape == colour.shape and out.dtype == np.uint8
        return
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, colour)


def test_jpeg(tmp_path):
    smooth = np.zeros((32, 48, 3), np.uint8)  # JPEG is lossy: compare a smooth image
    smooth[..., 0] = np.linspace(0, 255, 48)[None, :]
    smooth[..., 2] = np.linspace(255, 0, 32)[:, None]
    out = read_image(_write(tmp_path / "a.jpg", smooth))
    assert out.shape == (32, 48, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth.astype(int)).mean() < 4


def test_grey_png_becomes_bgr(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    out = read_image(_write(tmp_path / "g.png", grey))
    assert out.shape == (5, 25, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_16_bit_png_is_scaled(tmp_path):
    img16 = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    out = read_image(_write(tmp_path / "d.png", img16))
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255])


def test_16_bit_colour_tiff(tmp_path):
    img16 = np.zeros((4, 4, 3), np.uint16)
    img16[..., 2] = 65535  # red
    out = read_image(_write(tmp_path / "d.tif", img16))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [0, 0, 255])


def test_alpha_is_composited_on_black(tmp_path):
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., :3] = 200
    bgra[0, 0, 3] = 255  # opaque
    bgra[0, 1, 3] = 0  # transparent: its colour is meaningless
    bgra[1, :, 3] = 128
    out = read_image(_write(tmp_path / "a.png", bgra))
    assert out.shape == (2, 2, 3)
    assert tuple(out[0, 0]) == (200, 200, 200)
    assert tuple(out[0, 1]) == (0, 0, 0)
    assert abs(int(out[1, 0, 0]) - 100) <= 1


def test_non_ascii_path(tmp_path, colour):
    folder = tmp_path / "visages été" / "顔"
    folder.mkdir(parents=True)
    out = read_image(_write(folder / "émotion.png", colour))
    np.testing.assert_array_equal(out, colour)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_not_an_image(tmp_path):
    bad = tmp_path / "fake.png"
    bad.write_text("this is not a PNG", encoding="utf-8")
    with pytest.raises(ImageReadError, match="not an image") as info:
        read_image(bad)
    assert str(bad) in str(info.value)


def test_truncated_png(tmp_path, colour):
    good = _write(tmp_path / "good.png", colour)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ImageReadError):
        read_image(cut)


def test_empty_file_and_directory(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty file"):
        read_image(empty)
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)


def test_image_read_error_is_a_value_error():
    assert issubclass(ImageReadError, ValueError)  # the CLI prints ValueErrors without a traceback


def test_decode_bytes(colour):
    ok, buf = cv2.imencode(".png", colour)
    np.testing.assert_array_equal(decode_image(buf.tobytes()), colour)


def test_find_images_recurses_and_filters(tmp_path, colour):
    (tmp_path / "a" / "b").mkdir(parents=True)
    _write(tmp_path / "a" / "one.png", colour)
    _write(tmp_path / "a" / "b" / "two.JPG", colour, ".jpg")
    _write(tmp_path / "three.tiff", colour, ".tif")
    (tmp_path / "notes.txt").write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_images([tmp_path])]
    assert found == ["a/b/two.JPG", "a/one.png", "three.tiff"]
    # Files named directly are kept whatever their extension (read_image decides).
    assert list(find_images([tmp_path / "notes.txt"])) == [tmp_path / "notes.txt"]


def test_write_image_round_trips_under_any_name(tmp_path):
    from trainer.faces.io import write_image

    image = (np.arange(24 * 32) % 251).astype(np.uint8).reshape(24, 32)
    path = write_image(tmp_path / "été.png", image)
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), image)
    with pytest.raises(OSError, match="could not encode"):
        write_image(tmp_path / "x.notaformat", image)
