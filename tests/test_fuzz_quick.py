"""A fast slice of bench/fuzz.py in the test run: a few hundred generated bad (and good) images,
model files, datasets and cascade files through the engine's readers, in this process.
Every one must be read or refused with a one-line UserError; none may raise anything else,
block, or refuse a good input. The full sweep (command lines, training, ~1,400 inputs, a
memory cap) is ``python bench/fuzz.py``."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from trainer.errors import UserError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fuzz_cases  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    m = fuzz_cases.Maker(root, seed=1, scale=0.15)
    good_images = fuzz_cases.make_images(m)
    fuzz_cases.make_models(m)
    fuzz_cases.make_datasets(m, good_images)
    fuzz_cases.make_cascades(m)
    return root, m.inputs


def _reader(kind: str, root: Path):
    from trainer.data.crops import FaceOptions
    from trainer.data.datasets import LoadOptions, load_samples
    from trainer.faces import read_image
    from trainer.models.card import load_model
    from trainer.training.cascade import load_cascade

    options = LoadOptions(faces=FaceOptions(mode="none", crop_size=48), cache_dir=root / "cache")
    return {"image": read_image, "model": load_model, "dataset": lambda p: load_samples(p, options),
            "cascade": load_cascade}[kind]


def _outcome(fn, arg, seconds: float = 20.0) -> tuple[str, str]:
    box: dict = {}

    def run():
        try:
            fn(arg)
            box["r"] = ("processed", "")
        except UserError as exc:
            box["r"] = ("clear" if "\n" not in str(exc) else "multi-line", str(exc))
        except Exception as exc:  # noqa: BLE001 - what the test is for
            box["r"] = ("bug", f"{type(exc).__name__}: {exc}")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return box.get("r", ("hang", f"no answer in {seconds:.0f} s"))


@pytest.mark.parametrize("kind", ["image", "model", "dataset", "cascade"])
def test_every_input_is_read_or_refused_in_one_line(inputs, kind):
    root, items = inputs
    fn = _reader(kind, root)
    chosen = [i for i in items if i.kind == kind]
    if kind == "model":  # the weights cases and a sample of the card cases: ~1 s
        chosen = [i for i in chosen if not i.name.startswith("card_") or hash(i.name) % 6 == 0]
    assert len(chosen) >= 20
    problems = []
    for item in chosen:
        outcome, detail = _outcome(fn, item.path)
        if outcome not in ("processed", "clear") or (item.good and outcome != "processed") or \
                (item.expect == "refuse" and outcome == "processed"):
            problems.append(f"{item.name}: {outcome}: {detail[:200]}")
    assert not problems, "\n".join(problems)
