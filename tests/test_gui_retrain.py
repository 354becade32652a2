"""Retraining from the app, end to end on generated data: relabel through the journal, start
a run from the Retrain dialog (a tiny model, real `fer-train` processes), see its progress
events arrive, stop and resume it, get the old-vs-new comparison with both models' numbers,
and *Use new model* switches the live prediction. Closing the app can leave a run going,
and the next session follows it again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402

from fer_desktop._qt.main_window import MainWindow  # noqa: E402
from fer_desktop._qt.tools.retrain import retrain_tool  # noqa: E402
from fer_desktop.retrain import RunFolder  # noqa: E402
from trainer.classes import BASIC_CLASSES  # noqa: E402
from trainer.data.relabel import RelabelJournal, dataset_key, default_journal_path  # noqa: E402
from trainer.data.synthetic import write_class_folders, write_fer_csv  # noqa: E402
from trainer.training.progress import BatchEvent, EpochEndEvent  # noqa: E402

TINY = "timm:test_resnet"
WAIT_MS = 120000  # each step starts a python that imports torch, on a shared 2-core machine


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FER_DESKTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer processes: one thread each
    return tmp_path


def _old_model(path: Path, epochs: int) -> Path:
    """A tiny random-weights model whose card records a recipe, as a trained one's does."""
    from trainer.models.card import ModelCard, save_model
    from trainer.models.registry import create_model
    from trainer.training.config import resolve_config

    model, _ = create_model(TINY, len(BASIC_CLASSES), pretrained=False)
    cfg = resolve_config("small-target", model=TINY, pretrained=False, input_size=32, batch_size=16, epochs=epochs)
    card = ModelCard(name="tiny-old", backbone=TINY, classes=list(BASIC_CLASSES), input_size=32, mean=[0.5],
                     std=[0.5], preprocessing={"faces": "crops", "grey": True, "crop_size": 40, "mode": "none"},
                     training={"config": cfg.to_dict(), "data": {"train": ["synthetic"]}})
    return save_model(model, card, path)[0]


def _window(qtbot, tmp_path, model: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, model_path=model, tools=[retrain_tool()])
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitUntil(lambda: win.ctx.model is not None, timeout=WAIT_MS)
    return win


def _fill_dialog(qtbot, tool, data: Path, out: Path, epochs: int, test: str = ""):
    dialog = tool.open_dialog()
    qtbot.waitUntil(lambda: dialog.recipe is not None, timeout=WAIT_MS)
    dialog.data_edit.setText(str(data))
    dialog._data_changed()
    dialog.epochs_spin.setValue(epochs)
    dialog.out_edit.setText(str(out))
    dialog.test_edit.setText(test)
    return dialog


def test_retrain_from_the_dialog(qtbot, env, astronaut_bgr):
    EPOCHS = 30
    root = write_class_folders(env / "target", 40, splits=["Train", "Val"], size=40)
    fer = write_fer_csv(env / "fer2013.csv", {"Training": 8, "PrivateTest": 24}, num_classes=4)
    journal = RelabelJournal(default_journal_path(root), dataset=dataset_key(root))
    for i in range(3):  # relabel a few training samples, as the review workspace does
        journal.set(f"Train/Angry/{i:03d}.png", "happy", previous="angry")
    journal.set("Train/Fear/000.png", "not-a-face", previous="fear")
    old = _old_model(env / "old" / "tiny", epochs=4)
    image = env / "astronaut.png"
    cv2.imwrite(str(image), astronaut_bgr)

    win = _window(qtbot, env, old)
    tool = win.tools["Training"]
    tool.close_policy = "stop"
    win.open_image(image)
    qtbot.waitUntil(lambda: win.ctx.result is not None and bool(win.ctx.result.faces), timeout=WAIT_MS)
    assert win.ctx.result.model_name == "tiny-old"

    # Enough epochs that the Stop click lands mid-run even when the window learns of the first
    # epoch's end late (a loaded machine: the trainer runs on while the test waits for the GUI).
    dialog = _fill_dialog(qtbot, tool, root, env / "run", epochs=EPOCHS, test=f"{fer}#PrivateTest")
    # the dataset's own journal is found, with what it holds for this dataset
    assert dialog.journal_edit.text() == str(default_journal_path(root))
    assert "3 labels set here (relabelled or confirmed) and 1 left out" in dialog.journal_note.text()
    assert dialog.recipe.config["optimizer"] == "adamw" and dialog.size_spin.value() == 32
    with qtbot.waitSignal(dialog.estimated, timeout=WAIT_MS) as est:
        dialog.start_estimate()
    assert est.args[0].train_samples == 159 and est.args[0].batches_per_epoch == 9  # 160 - 1 left out, 16 a batch
    assert "about" in dialog.estimate_label.text()

    with qtbot.waitSignal(tool.runStarted, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    job, panel = tool.job, tool.panel()
    events = []
    job.event.connect(events.append)
    qtbot.waitUntil(lambda: any(isinstance(e, EpochEndEvent) for e in events), timeout=WAIT_MS)
    assert any(isinstance(e, BatchEvent) for e in events)  # per-batch progress arrives too
    assert panel.curves.points("train_loss") >= 1 and panel.run_bar.value() > 0

    with qtbot.waitSignal(tool.runEnded, timeout=WAIT_MS) as ended:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["stopped"]
    run = RunFolder(env / "run")
    stopped_at = len(job.progress_state.history)
    assert 1 <= stopped_at < EPOCHS and run.can_resume() and panel.resume_button.isEnabled()

    with qtbot.waitSignal(tool.comparisonReady, timeout=2 * WAIT_MS) as compared:
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert sorted(tool.job.progress_state.history) == list(range(1, EPOCHS + 1))  # picked up where it stopped
    assert any("resumed from" in m for m in tool.job.progress_state.messages)
    result = compared.args[0]
    val, test = result["sets"]
    assert (val["name"], val["n"], test["n"], test["relabels"]) == ("target/Val", 160, 24, None)
    for s in (val, test):
        assert 0 <= s["old"]["accuracy"] <= 1 and 0 <= s["new"]["accuracy"] <= 1
    assert val["new"]["accuracy"] > val["old"]["accuracy"]  # the epochs on a separable task beat random weights
    view = panel.comparison.sets[0]
    assert view.headline.item(0, 0).text() == f"{100 * val['old']['accuracy']:.1f}%"
    assert view.headline.item(0, 1).text() == f"{100 * val['new']['accuracy']:.1f}%"
    assert view.fixed.count() == len(val["fixed"]) and run.comparison() == result
    assert val["confusion_diff"] is not None and view.conf_diff.rowCount() == 7

    tool.fill_history_menu()
    titles = [a.text() for a in tool.history_menu.actions()]
    assert titles[0] == "Bundled model" and any(t.startswith("target-retrain") for t in titles)
    qtbot.mouseClick(panel.comparison.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.ctx.model.name == "target-retrain", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: win.ctx.result is not None and win.ctx.result.model_name == "target-retrain"
                    and bool(win.ctx.result.faces), timeout=WAIT_MS)
    win.close()


def test_a_run_left_going_is_followed_again(qtbot, env):
    root = write_class_folders(env / "target", 40, splits=["Train", "Val"], size=40)
    old = _old_model(env / "old" / "tiny", epochs=200)
    win = _window(qtbot, env, old)
    tool = win.tools["Training"]
    dialog = _fill_dialog(qtbot, tool, root, env / "run", epochs=200)
    with qtbot.waitSignal(tool.runStarted, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    run = RunFolder(env / "run")
    qtbot.waitUntil(lambda: bool(tool.job.progress_state.history), timeout=WAIT_MS)
    tool.close_policy = "keep"
    with qtbot.waitSignal(tool.runEnded, timeout=5000) as ended:
        win.close()
    assert ended.args == ["detached"]
    time.sleep(1.0)
    assert run.running()  # the app is gone, the run trains on

    win2 = _window(qtbot, env, old)  # the next session (same settings) follows it again
    tool2 = win2.tools["Training"]
    assert tool2.job is not None and tool2.job.running and tool2.job.attach
    assert tool2.job.progress_state.history  # the epochs done meanwhile, read back from the run folder
    with qtbot.waitSignal(tool2.runEnded, timeout=WAIT_MS) as ended:
        tool2.stop()
    assert ended.args == ["stopped"] and not run.running() and run.can_resume()
    tool2.close_policy = "stop"
    win2.close()


def test_a_run_that_ended_while_the_app_was_closed(qtbot, env):
    from fer_desktop._qt.tools.retrain import LAST_RUN_KEY
    from fer_desktop.retrain import RunInfo
    from trainer.training.spec import Overrides, spec_from_card

    root = write_class_folders(env / "target", 8, splits=["Train", "Val"], size=40)
    old = _old_model(env / "old" / "tiny", epochs=1)
    spec = spec_from_card(old, [str(root)], overrides=Overrides(out=env / "run"))
    run = RunFolder.create(spec, RunInfo(base_model=str(old), data=[str(root)], journal=None, val=f"{root}#Val",
                                         test=None))
    run.start()
    deadline = time.monotonic() + WAIT_MS / 1000
    while run.running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.finished(), run.log_tail()
    settings = QSettings(str(env / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue(LAST_RUN_KEY, str(run.path))
    settings.sync()

    win = _window(qtbot, env, old)
    tool = win.tools["Training"]
    assert tool.run is not None and tool.run.path == run.path and tool.job is None
    assert [Path(e.path) for e in tool.history.entries()] == [run.model_path]
    panel = tool.panel()
    assert panel.state == "finished" and panel.compare_button.isEnabled() and panel.curves.points("train_loss") == 1
    with qtbot.waitSignal(tool.comparisonReady, timeout=WAIT_MS) as compared:
        qtbot.mouseClick(panel.compare_button, Qt.MouseButton.LeftButton)
    assert compared.args[0]["sets"][0]["name"] == "target/Val" and run.comparison() is not None
    assert tool.history.entries()[0].comparison["target/Val"]["new"] == compared.args[0]["sets"][0]["new"]["accuracy"]
    win.close()


def test_data_without_a_val_split_holds_out_a_fold_to_compare_on(qtbot, env):
    """A folder of class folders with no split (images labelled in the review, say): the run
    holds out fold 1 of 5 of them, chooses on it, and old and new are compared on those same
    faces (2 a class here), not on nothing."""
    root = write_class_folders(env / "flat", 10, size=40)
    old = _old_model(env / "old" / "tiny", epochs=2)
    win = _window(qtbot, env, old)
    tool = win.tools["Training"]
    tool.close_policy = "stop"
    dialog = _fill_dialog(qtbot, tool, root, env / "run", epochs=2)
    assert "no validation split: 1 in 5 of its labelled images" in dialog.val_note.text()
    spec, info = dialog.build()
    assert spec.val_fold == (0, 5) and info.val is None and info.val_fold == [0, 5]
    with qtbot.waitSignal(tool.comparisonReady, timeout=2 * WAIT_MS) as compared:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    val = compared.args[0]["sets"][0]
    assert (val["name"], val["n"]) == ("flat[fold0of5]", 8)
    described = RunFolder(env / "run").path.joinpath("config.json")
    assert json.loads(described.read_text())["data"]["val_samples"] == 8  # the faces the run chose on
    win.close()


def _review_of_class_folders(env: Path):
    """A review session of generated class folders: 2 faces a class, labelled by their folders."""
    import numpy as np

    from fer_desktop.review import ReviewSession
    from trainer.data.samples import SampleSet

    root = write_class_folders(env / "mine", 2, size=40)
    ids = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*.png"))]
    labels = np.array([BASIC_CLASSES.index(i.split("/")[0].lower()) for i in ids])
    samples = SampleSet(ids=ids, images=np.zeros((len(ids), 4, 4), np.uint8), labels=labels, classes=BASIC_CLASSES,
                        name="mine", meta={"dataset": "mine"})
    return ReviewSession(samples, env / "journal.jsonl", source=str(root))


def test_the_journal_note_counts_confirmations_apart_when_the_review_knows_the_labels(qtbot, env):
    """Opened from a review session, the dialog tells relabels from confirmations (the session
    has the given labels); from a journal alone it can only say how many labels were set."""
    session = _review_of_class_folders(env)
    labels = session.given
    session.relabel(0, BASIC_CLASSES[(labels[0] + 1) % 7])
    session.relabel(1, BASIC_CLASSES[labels[1]])  # its own label: confirmed
    session.exclude(2)
    win = _window(qtbot, env, _old_model(env / "old" / "tiny", epochs=1))
    win.ctx.dataset_opened(session)
    dialog = win.tools["Training"].open_dialog()
    qtbot.waitUntil(lambda: dialog.recipe is not None, timeout=WAIT_MS)
    assert dialog.journal_note.text().startswith("1 labelled or relabelled, 1 confirmed as they were and 1 left out")
    dialog.data_edit.setText(str(env / "copy" / "mine"))  # a copy of it (the same key): the journal alone
    dialog._data_changed()
    assert dialog.journal_note.text().startswith("2 labels set here (relabelled or confirmed) and 1 left out")
    dialog.reject()
    win.close()


def test_a_team_compared_in_the_review_can_label_the_retrain(qtbot, env):
    """With a team's journals compared in the review, the dialog offers their votes: checked,
    the run trains on the vote distributions and its comparison reads the same labels."""
    session = _review_of_class_folders(env)
    ids, labels = session.ids, session.given
    paths = []
    for name in ("bob", "cy"):
        journal = RelabelJournal(env / f"{name}.jsonl", session.dataset)
        journal.set(ids[0], BASIC_CLASSES[(labels[0] + 1) % 7], user=name)
        paths.append(str(journal.path))
    win = _window(qtbot, env, _old_model(env / "old" / "tiny", epochs=1))
    win.ctx.dataset_opened(session)
    dialog = win.tools["Training"].open_dialog()
    qtbot.waitUntil(lambda: dialog.recipe is not None, timeout=WAIT_MS)
    assert dialog.team_check.isHidden()  # nothing compared yet
    dialog.reject()
    session.compare_journals(paths)
    dialog = win.tools["Training"].open_dialog()
    qtbot.waitUntil(lambda: dialog.recipe is not None, timeout=WAIT_MS)
    assert not dialog.team_check.isHidden() and "bob and cy" in dialog.team_check.text()
    dialog.out_edit.setText(str(env / "run"))
    spec, info = dialog.build()
    assert spec.team == () and not spec.config.soft_labels  # offered, not imposed
    dialog._val = "mine#Val"  # as if the data had a Val split: the note names the labels it is read with
    dialog._update_val_note()
    assert dialog.val_note.text() == "mine#Val, with the corrections applied"
    dialog.team_check.setChecked(True)
    assert dialog.val_note.text() == "mine#Val, with the team's votes and the corrections applied"
    spec, info = dialog.build()
    assert spec.team == tuple(Path(p) for p in paths) and spec.config.soft_labels and info.team == paths
    run = RunFolder(env / "run")
    run.save_info(info)
    command = run.compare_command()
    assert command[command.index("--team") + 1:command.index("--team") + 3] == paths
    dialog.reject()
    win.close()
