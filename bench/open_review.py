"""Time to open a dataset in the review window, phase by phase, through the window's own code
(fer_desktop.review_io.open_session: read the faces the way the app makes them, run the model
with the extra views of the likeliest label errors, rank the labels), first with empty caches
and then again from the caches (what reopening costs).

    python bench/open_review.py [--data ../shared/data/fer2013/fer2013.csv.gz] [--input crop|none|...]

``--input`` is what the images are (default: what the dataset declares; FER-2013 is face
crops, re-aligned like every crop the app sees); ``none`` takes them as they are (the old
protocol). The ONNX file of the model is made beforehand (once per model, not per dataset).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def open_timed(path: str, input_kind: str | None, journal: Path) -> dict[str, float]:
    from fer_desktop.review import DatasetRequest
    from fer_desktop.review_io import open_session

    phases: dict[str, float] = {}
    last = [time.perf_counter(), "start"]

    def status(text: str) -> None:
        now = time.perf_counter()
        phases[last[1]] = phases.get(last[1], 0.0) + now - last[0]
        last[:] = [now, text]

    start = time.perf_counter()
    session = open_session(DatasetRequest(path, input=input_kind, journal=str(journal)), status=status)
    status("done")
    phases.pop("start", None)
    phases["total"] = time.perf_counter() - start
    phases["faces"] = float(len(session.samples))
    return phases


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/fer2013/fer2013.csv.gz")
    p.add_argument("--input", default=None, help="auto, photo, crop or none (default: what the dataset declares)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    from trainer.inference import default_model_path
    from trainer.inference.onnx_cache import cache_dir, runtime_onnx
    from trainer.models.card import read_card

    runtime_onnx(default_model_path(), read_card(default_model_path()))  # the user's cache, made once
    os.environ.setdefault("FER_DESKTOP_ONNX_CACHE", str(cache_dir()))  # kept when the crop cache moves
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FER_DESKTOP_CACHE"] = tmp  # empty crop and prediction caches: a first open
        first = open_timed(args.data, args.input, Path(tmp) / "journal.jsonl")
        again = open_timed(args.data, args.input, Path(tmp) / "journal.jsonl")
    result = {"data": args.data, "input": args.input or "declared", "first_open_s": first, "reopen_s": again,
              "load_average": os.getloadavg()}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for name, phases in (("first open", first), ("reopen", again)):
        detail = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items() if k not in ("total", "faces"))
        print(f"{name}: {phases['total']:.1f} s for {int(phases['faces'])} faces ({detail})")
    print(f"load average {result['load_average'][0]:.1f}")


if __name__ == "__main__":
    main()
