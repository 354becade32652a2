"""Screenshots of *Training ▸ Retrain…* for docs/img: the dialog, the training window mid-run
and the old-vs-new comparison. Run it under a virtual display::

    xvfb-run -s "-screen 0 1600x1000x24" python bench/screenshots_retrain.py [--data ../shared/data/sfew2]

The dialog shows the bundled model and ``--data`` (its card's recipe, the journal found for the
data, the time estimate measured on this machine). The run shown is a tiny network fine-tuned
on generated data (seconds on a CPU), so the training window and the comparison are real
outputs of the app, made fast; ``--run DIR`` shows a run folder made earlier instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wait(app, condition, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()
    return condition()


def tiny_model(path: Path) -> Path:
    """Random weights whose card records a recipe, as a trained model's does."""
    from trainer.classes import BASIC_CLASSES
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model
    from trainer.training.config import resolve_config

    model, _ = create_model("timm:test_resnet", len(BASIC_CLASSES), pretrained=False)
    cfg = resolve_config("small-target", model="timm:test_resnet", pretrained=False, input_size=32, batch_size=16,
                         epochs=12)
    card = ModelCard(name="tiny-before", backbone="timm:test_resnet", classes=list(BASIC_CLASSES),
                     input_size=32, mean=[0.5], std=[0.5],
                     preprocessing={"faces": "crops", "grey": True, "crop_size": 40, "mode": "none"},
                     training={"config": cfg.to_dict(), "data": {"train": ["generated patterns"]}})
    return save_model(model, card, path)[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sfew2"),
                   help="the dataset the dialog shows (default ../shared/data/sfew2)")
    p.add_argument("--run", help="a run folder to show instead of training a tiny model")
    p.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fer-shots-"))
    os.environ.setdefault("FER_DESKTOP_HOME", str(scratch / "home"))
    os.environ.setdefault("OMP_NUM_THREADS", "2")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from fer_desktop._qt.main_window import MainWindow
    from fer_desktop._qt.tools.retrain import retrain_tool
    from trainer.data.relabel import RelabelJournal, dataset_key, default_journal_path
    from trainer.data.synthetic import write_class_folders

    app = QApplication.instance() or QApplication([sys.argv[0]])
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, tools=[retrain_tool()])
    win.resize(1200, 800)
    win.show()
    wait(app, lambda: win.ctx.model is not None, 120)
    tool = win.tools["Training"]

    # 1. The dialog: the bundled model on the real dataset, with a few corrections journaled.
    data = Path(args.data)
    if data.exists():
        journal = RelabelJournal(default_journal_path(data), dataset=dataset_key(data))
        train = sorted(p for p in (data / "Train").rglob("*") if p.is_file())[:3] if (data / "Train").is_dir() else []
        for image in train:
            journal.set(str(image.relative_to(data)), "neutral")
        dialog = tool.open_dialog()
        wait(app, lambda: dialog.recipe is not None, 120)
        dialog.data_edit.setText(str(data))
        dialog._data_changed()
        wait(app, lambda: dialog.estimate is not None, 600)
        # The width a screen gives it; Qt raises the height to what the wrapped texts need.
        dialog.resize(900, dialog.layout().totalHeightForWidth(900))
        app.processEvents()
        dialog.grab().save(str(out / "retrain-dialog.png"))
        print(f"wrote {out / 'retrain-dialog.png'}")
        dialog.reject()

    # 2. A run, mid-way and at the end.
    if args.run:
        tool.open_run_folder(args.run)
    else:
        from trainer.classes import BASIC_CLASSES

        root = write_class_folders(scratch / "patterns", 40, splits=["Train", "Val"], size=40,
                                   class_names=[c.capitalize() for c in BASIC_CLASSES])
        journal = RelabelJournal(default_journal_path(root), dataset=dataset_key(root))
        for i in range(4):
            journal.set(f"Train/Angry/{i:03d}.png", "happy")
        dialog = tool.open_dialog()
        dialog.model_edit.setText(str(tiny_model(scratch / "tiny" / "model")))
        dialog.load_recipe()
        wait(app, lambda: dialog.recipe is not None, 120)
        dialog.data_edit.setText(str(root))
        dialog._data_changed()
        dialog.out_edit.setText(str(scratch / "run"))
        dialog._accept()
        wait(app, lambda: tool.job is not None and len(tool.job.progress_state.history) >= 5, 600)
        panel = tool.panel()
        panel.resize(1100, 760)
        app.processEvents()
        panel.grab().save(str(out / "retrain-training.png"))
        print(f"wrote {out / 'retrain-training.png'}")
    panel = tool.panel()
    wait(app, lambda: panel.comparison.result is not None, 900)
    panel.resize(1100, 900)
    app.processEvents()
    panel.grab().save(str(out / "retrain-comparison.png"))
    print(f"wrote {out / 'retrain-comparison.png'}")
    tool.close_policy = "stop"
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
