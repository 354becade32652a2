"""Bad (and a few good) inputs for bench/fuzz.py, written into a folder.

Every input is made here with numpy, OpenCV, Pillow, safetensors and timm directly, never
with the code under test, so a bug in the project cannot hide itself by writing the
inputs it expects. Each input says what it is (``kind``), whether it is good (a good input
must be processed, never lost or refused) and, for a few bad ones, that processing it at all
would be silently wrong (``expect="refuse"``: NaN weights, duplicate class names ...).

Kinds: image, model, weights, dataset, cache, checkpoint, cascade, frame.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import random
import shutil
import socket
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
TINY_BACKBONE = "timm:test_efficientnet"  # timm's test network: a real model in 40 kB
MARKER = "PWNED"  # a file a pickle payload would create if anything unpickled it


@dataclass
class Input:
    kind: str
    name: str
    path: str | None = None
    good: bool = False
    expect: str = "any"  # any | refuse (processing it is wrong) | process (must be processed)
    extra: dict[str, Any] = field(default_factory=dict)


class Maker:
    def __init__(self, root: Path, seed: int = 0, scale: float = 1.0) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.nrng = np.random.default_rng(seed)
        self.scale = scale  # < 1: fewer random mutations (a quick run)
        self.inputs: list[Input] = []

    def n(self, count: int) -> int:
        return max(1, int(round(count * self.scale)))

    def add(self, kind: str, name: str, path: Path | str | None, **kw: Any) -> Input:
        item = Input(kind, name, str(path) if path is not None else None, **kw)
        self.inputs.append(item)
        return item


# ---- images ----------------------------------------------------------------------------------

def astronaut(size: int = 256) -> np.ndarray:
    from skimage import data

    bgr = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    return cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)


def _encode(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok, ext
    return buf.tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, rows: int = 4) -> bytes:
    """A PNG whose header claims width x height (grey) but that holds only a few rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(width) for _ in range(min(rows, height)))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + \
        _png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header is patched to claim width x height."""
    data = bytearray(_encode(".jpg", astronaut(64)))
    i = 2
    while i < len(data):
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            break
        i += 2 + length
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return header + info + bytes(16)


def make_images(m: Maker) -> list[str]:
    """Image files under root/images; returns the paths of the good ones."""
    d = m.root / "images"
    d.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    face = astronaut(256)
    good: list[str] = []

    def write(name: str, data: bytes, good_one: bool = False, **kw: Any) -> Path:
        p = d / name
        p.write_bytes(data)
        m.add("image", name, p, good=good_one, expect="process" if good_one else "any", **kw)
        if good_one:
            good.append(str(p))
        return p

    # Good: the astronaut in every format the readers take, and names that trip scripts.
    write("astro.png", _encode(".png", face), True)
    write("astro.jpg", _encode(".jpg", face), True)
    write("astro.bmp", _encode(".bmp", face), True)
    write("astro.tif", _encode(".tiff", face), True)
    write("astro.webp", _encode(".webp", face), True)
    write("astro.pgm", _encode(".pgm", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)), True)
    write("astro_grey.png", _encode(".png", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)), True)
    write("astro_16bit.png", _encode(".png", face.astype(np.uint16) * 257), True)
    write("astro_rgba.png", _encode(".png", cv2.cvtColor(face, cv2.COLOR_BGR2BGRA)), True)
    write("astro copy.png", _encode(".png", face), True)
    write("astro#1.png", _encode(".png", face), True)
    write("ästrø.png", _encode(".png", face), True)
    write("astro_big.jpg", _encode(".jpg", cv2.resize(face, (2400, 1800))), True)
    write("no_face.png", _encode(".png", m.nrng.integers(0, 255, (200, 200, 3), dtype=np.uint8)), True)
    raw_name = os.fsencode(str(d)) + b"/astro_\xff\xfe.png"  # not UTF-8: fine on Linux
    with open(raw_name, "wb") as fh:
        fh.write(_encode(".png", face))
    item = m.add("image", "non-utf8-name", os.fsdecode(raw_name), good=True, expect="process")
    good.append(item.path)

    # Tiny and thin images: MTCNN's pyramid is empty below 20 px.
    for h, w in [(1, 1), (2, 2), (5, 5), (12, 12), (19, 19), (20, 20), (21, 21), (19, 400), (400, 19),
                 (1, 100000), (100000, 1), (3, 5000), (5000, 3), (24, 24), (30, 2000)]:
        img = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA)
        write(f"tiny_{h}x{w}.png", _encode(".png", img))
    write("tiny_grey_3x3.png", _encode(".png", np.full((3, 3), 90, np.uint8)))
    write("tiny_rgba_2x2.png", _encode(".png", np.full((2, 2, 4), 90, np.uint8)))
    write("all_black.png", _encode(".png", np.zeros((200, 200, 3), np.uint8)))
    write("all_white.jpg", _encode(".jpg", np.full((200, 200, 3), 255, np.uint8)))
    # Multi-page TIFF with a 3x3 first page, the face second; float and odd TIFFs.
    buf = io.BytesIO()
    pages = [Image.fromarray(np.full((3, 3, 3), 80, np.uint8)), Image.fromarray(face[:, :, ::-1].copy())]
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    write("multipage_3x3.tif", buf.getvalue())
    for name, arr in [("float_nan.tif", np.full((64, 64), np.nan, np.float32)),
                      ("float_inf.tif", np.where(m.nrng.random((64, 64)) > 0.5, np.inf, -np.inf).astype(np.float32)),
                      ("float_big.tif", (m.nrng.random((64, 64)) * 1e30).astype(np.float32)),
                      ("float_face.tif", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255)]:
        ok, enc = cv2.imencode(".tiff", arr)
        if ok:
            write(name, enc.tobytes())
    for mode in ("1", "P", "LA", "CMYK", "I", "F", "I;16"):
        try:
            buf = io.BytesIO()
            im = Image.fromarray(face[:, :, ::-1].copy()).convert(mode if mode not in ("I;16",) else "I")
            if mode == "I;16":
                im = Image.fromarray((np.asarray(Image.fromarray(face[:, :, ::-1].copy()).convert("L"),
                                                 dtype=np.uint16) * 257))
            fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode in ("I", "F", "I;16") else "PNG"
            im.save(buf, format=fmt)
            write(f"pil_{mode.replace(';', '_')}.{fmt.lower()}", buf.getvalue())
        except (OSError, ValueError):
            pass
    # EXIF orientations, valid and not.
    for orientation in (1, 3, 6, 8, 0, 9, 65535):
        im = Image.fromarray(face[:, :, ::-1].copy())
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        im.save(buf, format="JPEG", exif=exif)
        write(f"exif_{orientation}.jpg", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(face[:, :, ::-1].copy()).save(buf, format="JPEG", progressive=True)
    write("progressive.jpg", buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(face[:, :, ::-1].copy()).save(buf, format="GIF")
    write("astro.gif", buf.getvalue())

    # Decompression bombs: small files claiming huge images.
    write("bomb_30000.jpg", jpeg_claiming(30000, 30000))
    write("bomb_65000.jpg", jpeg_claiming(65000, 65000))
    write("bomb_30000x1.jpg", jpeg_claiming(30000, 1))
    write("bomb_20000.png", png_claiming(20000, 20000))
    write("bomb_100000.png", png_claiming(100000, 100000, rows=1))
    write("bomb_1x2000000.png", png_claiming(2_000_000, 1, rows=1))
    write("bomb_50000.bmp", bmp_claiming(50000, 50000))
    write("bomb_neg.bmp", bmp_claiming(-5, -5))
    # Huge files (sparse: no disk used) that must be refused before being read.
    for name, size, head in [("huge_4g.png", 4 << 30, _encode(".png", face)[:64]),
                             ("huge_30g.jpg", 30 << 30, _encode(".jpg", face)[:64])]:
        p = d / name
        with open(p, "wb") as fh:
            fh.write(head)
        os.truncate(p, size)
        m.add("image", name, p, extra={"group": "special"})

    # Not images at all.
    write("empty.png", b"")
    write("text.png", b"hello, this is not a picture\n")
    write("html.jpg", b"<html><body>404</body></html>")
    write("zeros.png", bytes(1 << 20))
    write("png_sig_only.png", b"\x89PNG\r\n\x1a\n")
    write("png_sig_garbage.png", b"\x89PNG\r\n\x1a\n" + m.rng.randbytes(500))
    write("jpeg_magic_garbage.jpg", b"\xff\xd8\xff" + m.rng.randbytes(500))
    write("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    write("zip.png", b"PK\x03\x04" + m.rng.randbytes(100))
    for i in range(m.n(40)):
        write(f"random_{i}.{m.rng.choice(['png', 'jpg', 'bmp', 'tif', 'webp'])}", m.rng.randbytes(m.rng.randint(1, 5000)))

    # Truncations and bit flips of good files.
    sources = {ext: _encode(ext, face) for ext in (".png", ".jpg", ".bmp", ".tiff", ".webp")}
    for ext, data in sources.items():
        for cut in sorted({1, 2, 8, 16, 33, 100, len(data) // 2, len(data) - 10, len(data) - 1}):
            write(f"trunc_{cut}{ext}", data[:cut])
        for j in range(m.n(12)):
            write(f"trunc_r{j}{ext}", data[:m.rng.randint(1, len(data) - 1)])
    for j in range(m.n(350)):
        ext = m.rng.choice(list(sources))
        data = bytearray(sources[ext])
        for _ in range(m.rng.choice([1, 2, 5, 20, 100])):
            pos = m.rng.randrange(len(data)) if m.rng.random() < 0.5 else m.rng.randrange(min(len(data), 400))
            data[pos] = m.rng.randrange(256)
        write(f"flip_{j}{ext}", bytes(data))

    # Paths that are not regular files (each reader must refuse them at once, not block).
    special = d / "special"
    special.mkdir(exist_ok=True)
    os.mkfifo(special / "fifo.png")
    m.add("image", "fifo.png", special / "fifo.png", extra={"group": "special"})
    (special / "dir.png").mkdir()
    m.add("image", "dir.png", special / "dir.png", extra={"group": "special"})
    for name, target in [("zero.png", "/dev/zero"), ("urandom.jpg", "/dev/urandom"), ("null.png", "/dev/null"),
                         ("broken.png", str(special / "nowhere.png")), ("loop.png", str(special / "loop.png"))]:
        os.symlink(target, special / name)
        m.add("image", name, special / name, extra={"group": "special"})
    sock_path = special / "socket.png"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_path))
    s.close()
    m.add("image", "socket.png", sock_path, extra={"group": "special"})
    m.add("image", "missing.png", special / "missing.png", extra={"group": "special"})
    long_name = d / ("x" * 240 + ".png")
    long_name.write_bytes(_encode(".png", face))
    m.add("image", "long-name", long_name, good=True, expect="process")
    good.append(str(long_name))
    return good


# ---- models ------------------------------------------------------------------------------------

def tiny_state(num_classes: int = 7, seed: int = 0) -> dict[str, Any]:
    import timm
    import torch

    torch.manual_seed(seed)
    model = timm.create_model(TINY_BACKBONE[5:], pretrained=False, num_classes=num_classes)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def good_card(name: str = "tiny", classes: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "backbone": TINY_BACKBONE, "classes": list(classes or CLASSES), "input_size": 64,
            "mean": [0.5], "std": [0.5], "preprocessing": {"faces": "crops", "grey": True},
            "training": {}, "metrics": {}, "provenance": {}, "format": "fer-desktop-model/1"}


def write_model(stem: Path, card: dict[str, Any] | str | bytes | None, state: dict[str, Any] | bytes | None) -> Path:
    from safetensors.torch import save_file

    stem.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(card, dict):
        stem.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")
    elif isinstance(card, str):
        stem.with_suffix(".json").write_text(card, encoding="utf-8")
    elif isinstance(card, bytes):
        stem.with_suffix(".json").write_bytes(card)
    if isinstance(state, dict):
        save_file(state, str(stem.with_suffix(".safetensors")))
    elif isinstance(state, bytes):
        stem.with_suffix(".safetensors").write_bytes(state)
    return stem.with_suffix(".safetensors")


class _Payload:
    """Unpickling this runs ``touch MARKER``: proof that something unpickled a user file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: D105
        return (os.system, (f"touch {self.marker}",))


def pickle_payload(marker: Path) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"weight": _Payload(marker)}, buf)
    return buf.getvalue()


def make_models(m: Maker) -> Path:
    """Model files under root/models; returns the good model's stem."""
    import torch

    d = m.root / "models"
    state = tiny_state()
    base = d / "good"
    write_model(base, good_card("good"), state)
    m.add("model", "good", base.with_suffix(".safetensors"), good=True, expect="process")
    weights_bytes = base.with_suffix(".safetensors").read_bytes()
    marker = m.root / MARKER

    def card_case(name: str, card: Any, expect: str = "any", good: bool = False) -> None:
        stem = d / name
        write_model(stem, card, weights_bytes)
        m.add("model", name, stem.with_suffix(".safetensors"), expect="process" if good else expect, good=good)

    values: list[tuple[str, Any]] = [("null", None), ("int7", 7), ("neg", -1), ("zero", 0), ("frac", 64.5),
                                     ("str64", "64"), ("abc", "abc"), ("nan", float("nan")), ("inf", float("inf")),
                                     ("emptylist", []), ("list0", [0]), ("emptydict", {}), ("list123", [1, 2, 3]),
                                     ("true", True), ("longstr", "x" * 10000), ("bigint", 10 ** 40),
                                     ("nested", json.loads("[" * 50 + "]" * 50))]
    for key in ("name", "backbone", "classes", "input_size", "mean", "std", "preprocessing", "training",
                "metrics", "provenance", "format"):
        for label, value in values:
            card = good_card(key)
            card[key] = value
            card_case(f"card_{key}_{label}", card)
        card = good_card(key)
        del card[key]
        card_case(f"card_missing_{key}", card)
    specific: list[tuple[str, dict[str, Any], str]] = [
        ("classes_dup", {"classes": ["happy"] * 7}, "refuse"),
        ("classes_dup_case", {"classes": CLASSES[:6] + ["Angry"]}, "refuse"),
        ("classes_numbers", {"classes": list(range(7))}, "refuse"),
        ("classes_one", {"classes": ["happy"]}, "any"),
        ("classes_blank", {"classes": [""] * 7}, "refuse"),
        ("classes_8", {"classes": CLASSES + ["contempt"]}, "any"),
        ("input_4096", {"input_size": 4096}, "any"),
        ("input_1", {"input_size": 1}, "any"),
        ("input_7", {"input_size": 7}, "any"),
        ("mean_2", {"mean": [0.5, 0.5]}, "any"),
        ("mean_abc", {"mean": "abc"}, "any"),
        ("mean_nanlist", {"mean": [float("nan")]}, "refuse"),
        ("std_0", {"std": [0]}, "refuse"),
        ("std_neg", {"std": [-1]}, "refuse"),
        ("std_tiny", {"std": [1e-30]}, "any"),
        ("prep_faces_x", {"preprocessing": {"faces": "x"}}, "any"),
        ("prep_aligner_x", {"preprocessing": {"faces": "align", "aligner": "x"}}, "any"),
        ("prep_aligner_size", {"preprocessing": {"faces": "align", "aligner": {"size": -1}}}, "any"),
        ("prep_aligner_huge", {"preprocessing": {"faces": "align", "aligner": {"size": 100000}}}, "any"),
        ("prep_aligner_top", {"preprocessing": {"faces": "align", "aligner": {"top": "x"}}}, "any"),
        ("prep_aligner_border", {"preprocessing": {"faces": "align", "aligner": {"border": 5}}}, "any"),
        ("prep_detector_x", {"preprocessing": {"faces": "align", "detector": "nonexistent"}}, "any"),
        ("prep_detector_5", {"preprocessing": {"faces": "align", "detector": 5}}, "any"),
        ("prep_crop_size", {"preprocessing": {"faces": "align", "crop_size": "x"}}, "any"),
        ("prep_crop_neg", {"preprocessing": {"faces": "align", "crop_size": -5}}, "any"),
        ("prep_mode", {"preprocessing": {"faces": "align", "mode": "weird"}}, "any"),
        ("prep_list", {"preprocessing": ["faces"]}, "any"),
        ("format_future", {"format": "fer-desktop-model/99"}, "any"),
        ("backbone_unknown", {"backbone": "resnet9000"}, "any"),
        ("backbone_other", {"backbone": "efficientnet-lite0"}, "any"),
    ]
    for name, change, expect in specific:
        card_case(f"card_{name}", {**good_card(name), **change}, expect)
    card_case("card_extra_keys", {**good_card(), "colour": "blue", "version": 3}, good=True)
    for name, text in [("top_list", "[]"), ("top_str", '"card"'), ("top_null", "null"), ("top_num", "5"),
                       ("invalid_json", '{"name": "x",'), ("empty", ""), ("deep", '{"a":' * 100000 + "1" + "}" * 100000),
                       ("deep_list", "[" * 100000 + "]" * 100000)]:
        card_case(f"cardtext_{name}", text)
    card_case("card_bom", b"\xef\xbb\xbf" + json.dumps(good_card("bom")).encode())
    card_case("card_utf16", json.dumps(good_card("u16")).encode("utf-16"))
    card_case("card_latin1", json.dumps(good_card("l\u00e9")).encode("utf-8").replace(b"l\xc3\xa9", b"l\xe9"))
    card_case("card_nul", b"\x00" * 100)
    # Card paths that are not files.
    stem = d / "card_is_dir"
    write_model(stem, None, weights_bytes)
    stem.with_suffix(".json").mkdir()
    m.add("model", "card_is_dir", stem.with_suffix(".safetensors"))
    stem = d / "card_fifo"
    write_model(stem, None, weights_bytes)
    os.mkfifo(stem.with_suffix(".json"))
    m.add("model", "card_fifo", stem.with_suffix(".safetensors"))
    stem = d / "card_missing"
    write_model(stem, None, weights_bytes)
    m.add("model", "card_missing", stem.with_suffix(".safetensors"))
    stem = d / "card_huge"
    write_model(stem, {**good_card(), "metrics": {"pad": "x" * (17 << 20)}}, weights_bytes)  # > 16 MB
    m.add("model", "card_huge", stem.with_suffix(".safetensors"))

    # Weights.
    def weights_case(name: str, weights: dict[str, Any] | bytes | None, expect: str = "any", good: bool = False,
                     card: dict[str, Any] | None = None) -> Path:
        stem = d / name
        write_model(stem, card or good_card(name), weights)
        m.add("model", name, stem.with_suffix(".safetensors"), expect="process" if good else expect, good=good)
        return stem.with_suffix(".safetensors")

    first_float = next(k for k, v in state.items() if v.is_floating_point() and v.ndim > 1)
    weights_case("w_empty", b"")
    weights_case("w_random", m.rng.randbytes(4096))
    for cut in (4, 8, 100, len(weights_bytes) // 2, len(weights_bytes) - 1):
        weights_case(f"w_trunc_{cut}", weights_bytes[:cut])
    weights_case("w_header_huge", struct.pack("<Q", 1 << 60) + b"{}")
    weights_case("w_header_json", struct.pack("<Q", 10) + b"{not json}")
    bad_header = json.dumps({first_float: {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 16]}}).encode()
    weights_case("w_header_shape", struct.pack("<Q", len(bad_header)) + bad_header + bytes(16))
    weights_case("w_int64", {k: v.to(torch.int64) if v.is_floating_point() else v for k, v in state.items()}, "refuse")
    weights_case("w_fp16", {k: v.half() if v.is_floating_point() else v for k, v in state.items()}, good=True)
    weights_case("w_bool", {k: (v > 0) if v.is_floating_point() else v for k, v in state.items()}, "refuse")
    for label, value in (("nan", float("nan")), ("inf", float("inf")), ("ninf", float("-inf"))):
        s = dict(state)
        t = s[first_float].clone()
        t.view(-1)[0] = value
        s[first_float] = t
        weights_case(f"w_one_{label}", s, "refuse")
    weights_case("w_all_nan", {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                               for k, v in state.items()}, "refuse")
    s = dict(state)
    s.pop(first_float)
    weights_case("w_missing_key", s)
    weights_case("w_extra_key", {**state, "extra.weight": torch.zeros(3)})
    weights_case("w_8_classes", tiny_state(8))
    weights_case("w_empty_dict", {"": torch.zeros(0)})
    buf = io.BytesIO()
    torch.save(state, buf)
    weights_case("w_torch_pickle", buf.getvalue())
    weights_case("w_payload", pickle_payload(marker))
    stem = d / "w_dir"
    write_model(stem, good_card(), None)
    stem.with_suffix(".safetensors").mkdir()
    m.add("model", "w_dir", stem.with_suffix(".safetensors"))
    stem = d / "w_fifo"
    write_model(stem, good_card(), None)
    os.mkfifo(stem.with_suffix(".safetensors"))
    m.add("model", "w_fifo", stem.with_suffix(".safetensors"))
    stem = d / "w_missing"
    write_model(stem, good_card(), None)
    m.add("model", "w_missing", stem.with_suffix(".safetensors"))
    stem = d / "w_sparse"
    write_model(stem, good_card(), None)
    with open(stem.with_suffix(".safetensors"), "wb") as fh:
        fh.write(weights_bytes[:8])
    os.truncate(stem.with_suffix(".safetensors"), 6 << 30)
    m.add("model", "w_sparse", stem.with_suffix(".safetensors"))
    return base


# ---- datasets ----------------------------------------------------------------------------------

def fer_rows(n: int, seed: int, usages: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        pixels = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
        rows.append([str(i % 7), pixels, usages[i % len(usages)]])
    return rows


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\n") -> str:
    return newline.join([",".join(header)] + [",".join(r) for r in rows]) + newline


def make_datasets(m: Maker, good_images: list[str]) -> dict[str, Path]:
    """Datasets under root/datasets; returns the good ones by name."""
    d = m.root / "datasets"
    d.mkdir(parents=True, exist_ok=True)
    header = ["emotion", "pixels", "Usage"]
    rows = fer_rows(21, 1)
    good: dict[str, Path] = {}

    def fer(name: str, text: str | bytes, good_one: bool = False, expect: str = "any", split: str = "") -> Path:
        p = d / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        m.add("dataset", name, str(p) + split, good=good_one, expect="process" if good_one else expect)
        return p

    good["fer"] = fer("fer.csv", csv_text(header, rows), True)
    good["fer_gz"] = fer("fer.csv.gz", gzip.compress(csv_text(header, rows).encode()), True)
    fer("fer_crlf.csv", csv_text(header, rows, "\r\n"), True)
    fer("fer_spaces.csv", csv_text([" emotion ", " pixels ", " Usage "], rows), True)
    fer("fer_bom.csv", "\ufeff" + csv_text(header, rows), True)
    fer("fer_upper.csv", csv_text(["Emotion", "Pixels", "Usage"], rows))
    fer("fer_reordered.csv", csv_text(["Usage", "pixels", "emotion"], [[r[2], r[1], r[0]] for r in rows]), True)
    fer("fer_extra_col.csv", csv_text(header + ["note"], [r + ["x"] for r in rows]), True)
    fer("fer_no_usage.csv", csv_text(["emotion", "pixels"], [r[:2] for r in rows]), True)
    fer("fer_no_pixels.csv", csv_text(["emotion", "Usage"], [[r[0], r[2]] for r in rows]))
    fer("fer_empty.csv", "")
    fer("fer_header_only.csv", "emotion,pixels,Usage\n")
    fer("fer_newline.csv", "\n")
    fer("fer_nul.csv", csv_text(header, rows).replace("Training", "Train\x00ing", 1))
    fer("fer_latin1.csv", csv_text(header, rows).encode("utf-8").replace(b"Training", b"Tr\xe4ining", 1))
    fer("fer_long_field.csv", csv_text(header, [["0", "1 " * 200000, "Training"]]))
    fer("fer_binary.csv", m.rng.randbytes(3000))
    fer("fer_split_nope.csv", csv_text(header, rows), split="#Nope")
    fer("fer_split_lower.csv", csv_text(header, rows), True, split="#training")
    fer("fer_split_hash.csv", csv_text(header, rows), split="#")
    fer("fer_split_plus.csv", csv_text(header, rows), split="#+")
    fer("fer_split_twice.csv", csv_text(header, rows), split="#Training+Training")
    for label, value in [("7", "7"), ("neg", "-1"), ("x", "x"), ("float", "1.0"), ("e30", "1e30"), ("blank", ""),
                         ("big", str(10 ** 40)), ("nan", "nan")]:
        bad = [r[:] for r in rows]
        bad[3][0] = value
        fer(f"fer_emotion_{label}.csv", csv_text(header, bad))
    for label, value in [("256", "256"), ("neg", "-1"), ("2e40", str(2 ** 40)), ("e30", str(10 ** 30)),
                         ("nan", "nan"), ("frac", "1.5"), ("hex", "0x10"), ("big", str(10 ** 400))]:
        bad = [r[:] for r in rows]
        px = bad[4][1].split()
        px[7] = value
        bad[4][1] = " ".join(px)
        fer(f"fer_pixel_{label}.csv", csv_text(header, bad))
    for label, count in [("2303", 2303), ("2305", 2305), ("0", 0), ("1", 1)]:
        bad = [r[:] for r in rows]
        bad[5][1] = " ".join(bad[5][1].split()[:count]) if count <= 2304 else bad[5][1] + " 0"
        fer(f"fer_npix_{label}.csv", csv_text(header, bad))
    text = csv_text(header, rows).encode()
    gz = gzip.compress(text)
    fer("fer_gz_corrupt.csv.gz", gz[:20] + bytes(b ^ 0x55 for b in gz[20:200]) + gz[200:])
    fer("fer_gz_trunc.csv.gz", gz[: len(gz) // 2])
    fer("fer_gz_plain.csv.gz", text)
    fer("fer_gz_header_only.csv.gz", gz[:10])
    fer("fer_gz_crc.csv.gz", gz[:-8] + b"\x00" * 8)
    fer("fer_is_gzip.csv", gz, True)
    (d / "fer_dir.csv").mkdir(exist_ok=True)
    m.add("dataset", "fer_dir.csv", d / "fer_dir.csv")
    os.mkfifo(d / "fer_fifo.csv")
    m.add("dataset", "fer_fifo.csv", d / "fer_fifo.csv")
    m.add("dataset", "missing.csv", d / "missing.csv")

    # FER+: votes beside a FER csv with the same rows.
    vote_cols = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
    vheader = ["Usage", "Image name"] + vote_cols
    rng = np.random.default_rng(2)

    def votes_rows(n: int = 21) -> list[list[str]]:
        out = []
        for i in range(n):
            v = [0] * 10
            v[i % 8] = 6
            v[(i + 3) % 8] += int(rng.integers(0, 3))
            out.append([rows[i][2], f"fer{i:07d}.png"] + [str(x) for x in v])
        return out

    def ferplus(name: str, text: str, good_one: bool = False, expect: str = "any") -> None:
        sub = d / f"ferplus_{name}"
        sub.mkdir(exist_ok=True)
        (sub / "fer2013.csv").write_text(csv_text(header, rows))
        (sub / "fer2013new.csv").write_text(text)
        m.add("dataset", f"ferplus_{name}", sub / "fer2013new.csv", good=good_one,
              expect="process" if good_one else expect)

    vrows = votes_rows()
    ferplus("good", csv_text(vheader, vrows), True)
    good["ferplus"] = d / "ferplus_good" / "fer2013new.csv"
    for label, value in [("e30", str(10 ** 30)), ("neg", "-1"), ("frac", "1.5"), ("blank", ""), ("x", "x")]:
        bad = [r[:] for r in vrows]
        bad[2][3] = value
        ferplus(f"votes_{label}", csv_text(vheader, bad))
    ferplus("missing_col", csv_text(vheader[:-1], [r[:-1] for r in vrows]))
    ferplus("spaces", csv_text([f" {h} " for h in vheader], vrows), True)
    ferplus("bom", "\ufeff" + csv_text(vheader, vrows), True)
    ferplus("extra_rows", csv_text(vheader, vrows + votes_rows(3)))
    ferplus("fewer_rows", csv_text(vheader, vrows[:-2]))
    bad = [r[:] for r in vrows]
    bad[1][0] = "PrivateTest" if bad[1][0] != "PrivateTest" else "Training"
    ferplus("usage_mismatch", csv_text(vheader, bad))
    ferplus("all_nf", csv_text(vheader, [[r[0], r[1]] + ["0"] * 9 + ["10"] for r in vrows]), expect="any")
    ferplus("no_names", csv_text(vheader, [[r[0], ""] + r[2:] for r in vrows]))
    ferplus("all_zero", csv_text(vheader, [[r[0], r[1]] + ["0"] * 10 for r in vrows]))

    # Class folders.
    def folder(name: str, layout: dict[str, int], good_one: bool = False, expect: str = "any",
               split: str = "", extra: Callable[[Path], None] | None = None) -> Path:
        root = d / name
        rng_f = np.random.default_rng(len(name))
        for rel, count in layout.items():
            (root / rel).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                img = rng_f.integers(0, 256, (48, 48), dtype=np.uint8)
                cv2.imwrite(str(root / rel / f"img{i}.png"), img)
        if extra:
            extra(root)
        m.add("dataset", name, str(root) + split, good=good_one, expect="process" if good_one else expect)
        return root

    split_layout = {f"{s}/{c}": 2 for s in ("Train", "Val") for c in CLASSES}
    good["folder"] = folder("folder_good", split_layout, True)
    folder("folder_flat", {c: 2 for c in CLASSES}, True)
    good["folder_hash"] = folder("data#set", split_layout, True)
    folder("data#set2", split_layout, True, split="#Val")
    folder("folder_spellings", {c: 2 for c in ["Anger", "disgusted", "Fearful", "happiness", "sadness",
                                               "Surprised", "calm"]}, True)
    folder("folder_unknown_class", {**{c: 2 for c in CLASSES}, "pain": 2})
    folder("folder_empty_class", {**{c: 2 for c in CLASSES[:6]}, "neutral": 0})
    folder("folder_split_mismatch", {**{f"Train/{c}": 2 for c in CLASSES}, **{f"Val/{c}": 2 for c in CLASSES[:5]}})
    folder("folder_dup_class", {**{c: 2 for c in CLASSES}, "happiness": 2})
    folder("folder_no_split", {c: 2 for c in CLASSES}, split="#Val")
    folder("folder_empty", {})
    folder("folder_one_class", {"happy": 3}, True)

    def one_corrupt(root: Path) -> None:
        (root / "Train" / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        (root / "Val" / "sad" / "empty.jpg").write_bytes(b"")

    folder("folder_one_corrupt", split_layout, True, extra=one_corrupt, split="#Train")
    folder("folder_one_corrupt_val", split_layout, True, extra=one_corrupt, split="#Val")

    def all_corrupt(root: Path) -> None:
        for p in root.rglob("*.png"):
            p.write_bytes(b"not an image")

    folder("folder_all_corrupt", {c: 2 for c in CLASSES}, extra=all_corrupt)

    def fifo_inside(root: Path) -> None:
        os.mkfifo(root / "happy" / "fifo.png")

    folder("folder_fifo", {c: 2 for c in CLASSES}, True, extra=fifo_inside)

    def dir_inside(root: Path) -> None:
        (root / "happy" / "dir.png").mkdir()
        (root / "happy" / "notes.txt").write_text("hello")

    folder("folder_dir_named_png", {c: 2 for c in CLASSES}, True, extra=dir_inside)

    def loop_inside(root: Path) -> None:
        os.symlink(root / "happy", root / "happy" / "loop")

    folder("folder_symlink_loop", {c: 2 for c in CLASSES}, True, extra=loop_inside)

    def tiny_inside(root: Path) -> None:
        cv2.imwrite(str(root / "sad" / "tiny.png"), np.zeros((1, 1), np.uint8))
        (root / "sad" / "bomb.jpg").write_bytes(jpeg_claiming(30000, 30000))

    folder("folder_tiny_and_bomb", {c: 2 for c in CLASSES}, True, extra=tiny_inside)
    (d / "folder_is_file").write_text("not a folder")
    m.add("dataset", "folder_is_file", d / "folder_is_file")
    m.add("dataset", "spec_hash_only", "#")
    m.add("dataset", "spec_empty", "")
    return good


# ---- checkpoints, weights, cascades, frames --------------------------------------------------

def make_checkpoint_cases(m: Maker, base_run: Path) -> None:
    """Copies of a finished 1-epoch run whose checkpoint.pt is poisoned; resumed for a 2nd epoch."""
    import torch

    d = m.root / "runs"
    ckpt = torch.load(base_run / "checkpoint.pt", map_location="cpu", weights_only=True)
    good_bytes = (base_run / "checkpoint.pt").read_bytes()
    marker = m.root / MARKER

    def case(name: str, make: Callable[[Path], None], good: bool = False) -> None:
        run = d / name
        shutil.copytree(base_run, run)
        (run / "checkpoint.pt").unlink()
        make(run / "checkpoint.pt")
        m.add("checkpoint", name, run, good=good, expect="process" if good else "any")

    def saved(obj: Any) -> Callable[[Path], None]:
        return lambda p: torch.save(obj, p)

    case("ckpt_good", lambda p: p.write_bytes(good_bytes), True)
    case("ckpt_empty", lambda p: p.write_bytes(b""))
    case("ckpt_random", lambda p: p.write_bytes(m.rng.randbytes(2000)))
    case("ckpt_trunc", lambda p: p.write_bytes(good_bytes[: len(good_bytes) // 2]))
    case("ckpt_payload", lambda p: p.write_bytes(pickle_payload(marker)))
    case("ckpt_plain_pickle", lambda p: p.write_bytes(pickle.dumps({"epoch": 0})))
    case("ckpt_dir", lambda p: p.mkdir())
    case("ckpt_fifo", lambda p: os.mkfifo(p))
    case("ckpt_empty_dict", saved({}))
    case("ckpt_list", saved([1, 2, 3]))
    case("ckpt_bad_config_json", saved({**ckpt, "config_json": "{not json"}))
    case("ckpt_bad_history", saved({**ckpt, "history_json": "[{"}))
    case("ckpt_epoch_str", saved({**ckpt, "epoch": "x"}))
    case("ckpt_no_model", saved({k: v for k, v in ckpt.items() if k != "model"}))
    case("ckpt_model_shapes", saved({**ckpt, "model": {k: torch.zeros(1) for k in ckpt["model"]}}))
    case("ckpt_model_nan", saved({**ckpt, "model": {k: torch.full_like(v, float("nan")) if v.is_floating_point()
                                                     else v for k, v in ckpt["model"].items()}}))
    case("ckpt_optimizer_junk", saved({**ckpt, "optimizer": {"state": {}, "param_groups": []}}))
    case("ckpt_rng_junk", saved({**ckpt, "torch_rng": torch.zeros(3, dtype=torch.uint8)}))


def make_weights_cases(m: Maker) -> None:
    """Files for ``train --weights`` (ImageNet-style weights of the tiny backbone)."""
    import torch
    from safetensors.torch import save_file

    d = m.root / "weights"
    d.mkdir(parents=True, exist_ok=True)
    state = tiny_state(1000, seed=3)

    def case(name: str, make: Callable[[Path], None], good: bool = False, expect: str = "any") -> None:
        p = d / name
        make(p)
        m.add("weights", name, p, good=good, expect="process" if good else expect)

    case("good.safetensors", lambda p: save_file(state, str(p)), True)
    case("good.pth", lambda p: torch.save(state, p), True)
    case("empty.safetensors", lambda p: p.write_bytes(b""))
    case("random.safetensors", lambda p: p.write_bytes(m.rng.randbytes(1000)))
    case("random.pth", lambda p: p.write_bytes(m.rng.randbytes(1000)))
    case("payload.pth", lambda p: p.write_bytes(pickle_payload(m.root / MARKER)))
    case("payload.safetensors", lambda p: p.write_bytes(pickle_payload(m.root / MARKER)))
    case("strings.pth", lambda p: torch.save({"a": "b"}, p))
    case("dir.safetensors", lambda p: p.mkdir())
    case("fifo.safetensors", lambda p: os.mkfifo(p))
    case("missing.safetensors", lambda p: None)
    case("other_arch.safetensors", lambda p: save_file({"x": torch.zeros(3)}, str(p)))
    case("nan.safetensors", lambda p: save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                                                 for k, v in state.items()}, str(p)), expect="refuse")
    case("int64.safetensors", lambda p: save_file({k: v.to(torch.int64) for k, v in state.items()}, str(p)),
         expect="refuse")


CASCADE_GOOD = """
name = "fuzz"
data_root = "{root}"
[defaults]
model = "{backbone}"
input_size = 32
pretrained = false
[[stages]]
name = "one"
train = ["fer.csv#Training"]
val = "fer.csv#PublicTest"
epochs = 1
"""


def make_cascades(m: Maker) -> None:
    d = m.root / "cascades"
    d.mkdir(parents=True, exist_ok=True)
    root = m.root / "datasets"
    good = CASCADE_GOOD.format(root=root, backbone=TINY_BACKBONE)

    def case(name: str, text: str | bytes, good_one: bool = False) -> None:
        p = d / f"{name}.toml"
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        m.add("cascade", name, p, good=good_one, expect="process" if good_one else "any")

    case("good", good, True)
    case("empty", "")
    case("garbage", b"\x00\xff garbage [[[")
    case("not_toml", "name = ")
    case("stages_dict", good.replace("[[stages]]", "[stages]"))
    case("stages_str", 'name = "x"\nstages = "abc"\n')
    case("stages_list_of_ints", 'name = "x"\nstages = [1, 2]\n')
    case("defaults_str", good.replace("[defaults]\n", "").replace('model = "', 'defaults = "', 1))
    case("no_stages", 'name = "x"\n')
    case("unknown_top", good + '\nweird = 1\n')
    for key, value in [("epochs", '"x"'), ("epochs", "-1"), ("epochs", "0"), ("epochs", "1e9"), ("lr", '"abc"'),
                       ("lr", "nan"), ("lr", "-1"), ("input_size", "-5"), ("input_size", "4096"),
                       ("input_size", "1.5"), ("batch_size", "0"), ("batch_size", '"big"'), ("faces", "5"),
                       ("faces", '"weird"'), ("train", "5"), ("train", '[5, 6]'), ("replay", "5"), ("aligner", '"x"'),
                       ("aligner", '{size = -1}'), ("relabels", "5"), ("max_val_samples", '"x"'), ("crop_size", "-3"),
                       ("crop_size", '"x"'), ("detector", "7"), ("detector", '"nope"'), ("seed", '"s"'),
                       ("init_from", "5"), ("preset", '"nope"'), ("preset", "5"), ("augment", '"x"'),
                       ("augment", '{flip = "maybe"}'), ("variant", "5"), ("variant", '"nope"'), ("name", "5"),
                       ("val", "5"), ("no_val", '"yes"'), ("fer_csv", "5"), ("contempt", '"x"'),
                       ("label_smoothing", "2.0"), ("weight_decay", '"x"'), ("class_balance", '"x"'),
                       ("optimizer", '"x"'), ("scheduler", '"x"'), ("select", '"x"'), ("mixup_alpha", "-1"),
                       ("ema_decay", "2"), ("replay_ratio", "-1"), ("warmup_epochs", '"x"'), ("num_workers", "-1")]:
        text = "\n".join(f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in good.splitlines())
        case(f"key_{key}_{len(m.inputs)}", text if f"\n{key} = " in good else good + f"{key} = {value}\n")
    case("name_path", good.replace('name = "fuzz"', 'name = "../../etc"'))
    case("data_root_int", good.replace(f'data_root = "{root}"', "data_root = 5"))


FRAMES: dict[str, Callable[[], Any]] = {
    "1x1": lambda: np.zeros((1, 1, 3), np.uint8),
    "19x19": lambda: np.full((19, 19, 3), 90, np.uint8),
    "1x10000": lambda: np.full((1, 10000, 3), 90, np.uint8),
    "10000x1": lambda: np.full((10000, 1), 90, np.uint8),
    "grey": lambda: np.full((120, 160), 90, np.uint8),
    "bgra": lambda: np.full((120, 160, 4), 90, np.uint8),
    "float_nan": lambda: np.full((120, 160, 3), np.nan, np.float64),
    "float_inf": lambda: np.full((120, 160, 3), np.inf, np.float32),
    "bool": lambda: np.ones((120, 160), bool),
    "int64_big": lambda: np.full((120, 160, 3), 10 ** 12, np.int64),
    "uint16": lambda: np.full((120, 160, 3), 60000, np.uint16),
    "face": lambda: astronaut(256),
    "face_noncontig": lambda: astronaut(256)[:, ::-1],
    "empty": lambda: np.zeros((0, 0, 3), np.uint8),
    "5ch": lambda: np.zeros((20, 20, 5), np.uint8),
    "1d": lambda: np.zeros(100, np.uint8),
    "4d": lambda: np.zeros((2, 20, 20, 3), np.uint8),
    "none": lambda: None,
    "list": lambda: [[1, 2], [3, 4]],
    "str": lambda: "frame",
}
GOOD_FRAMES = ("1x1", "19x19", "1x10000", "10000x1", "grey", "bgra", "face", "face_noncontig", "uint16",
               "bool", "float_nan", "float_inf", "int64_big")


def make_frames(m: Maker) -> None:
    for name in FRAMES:
        good = name in GOOD_FRAMES
        m.add("frame", name, None, good=good, expect="process" if good else "any")
