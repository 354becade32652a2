"""Screenshots of what a new user sees first, for docs/img: the main window on a photo with two
faces (the bundled model), the model card and About. Run it under a virtual display::

    xvfb-run -s "-screen 0 1600x1000x24" python bench/screenshots_first_run.py [--out docs/img]

The photo is Grace Hopper (matplotlib's sample data) beside the astronaut Eileen Collins
(scikit-image), both in the public domain. Also records when the window, the first frame and
the first result appeared (the model loads in the background)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from screenshots_retrain import wait  # noqa: E402  (bench scripts share its event-loop wait)


def two_faces(folder: Path) -> Path:
    import cv2
    import matplotlib
    import numpy as np
    from skimage import data

    astronaut = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    h = astronaut.shape[0]
    hopper = cv2.resize(hopper, (round(hopper.shape[1] * h / hopper.shape[0]), h), interpolation=cv2.INTER_AREA)
    path = folder / "collins-and-hopper.png"
    cv2.imwrite(str(path), np.hstack([astronaut, hopper]))
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "docs" / "img"))
    p.add_argument("--size", default="1280x800", help="main window size")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fer-shots-"))
    started = time.perf_counter()

    from PySide6.QtWidgets import QApplication

    from fer_desktop._qt.icon import app_icon
    from fer_desktop._qt.main_window import MainWindow
    from fer_desktop._qt.settings import open_settings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setWindowIcon(app_icon())
    window = MainWindow(open_settings(scratch / "settings.ini"))
    window.resize(*(int(v) for v in args.size.split("x")))
    window.show()
    shown = time.perf_counter() - started
    window.open_image(two_faces(scratch))
    assert wait(app, lambda: window.ctx.result is not None, 60), "no frame"
    first_frame = time.perf_counter() - started
    assert wait(app, lambda: window.ctx.result.model_name is not None and len(window.ctx.result.faces) == 2, 120), \
        "no result with two faces"
    result = time.perf_counter() - started
    window.ctx.select(window.ctx.result.faces[-1].track_id)  # the smaller face, to show the selection
    wait(app, lambda: False, 0.5)
    window.grab().save(str(out / "main-two-faces.png"))

    window.show_model_card()
    dialog = window.card_dialog
    wait(app, lambda: False, 0.5)
    dialog.grab().save(str(out / "model-card.png"))
    dialog.close()

    window._about()
    wait(app, lambda: False, 0.5)
    window.about_box.grab().save(str(out / "about.png"))
    window.about_box.close()
    window.close()
    window.shutdown()
    print(f"window after {shown:.1f} s, first frame after {first_frame:.1f} s, result after {result:.1f} s; "
          f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
