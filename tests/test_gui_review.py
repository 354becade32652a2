"""The review window under QT_QPA_PLATFORM=offscreen, driven by mouse clicks and key presses:
open a generated class-folder dataset, the matrix fills, a cell filters the grid, number keys
relabel, undo/redo restore, the journal on disk matches, a reopened window shows the same
state without running the model again, and the main window's Review menu opens it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from fer_desktop._qt.context import AppContext  # noqa: E402
from fer_desktop._qt.tools.review.window import ReviewWindow  # noqa: E402
from fer_desktop.review import DatasetRequest, Filter, ReviewSession  # noqa: E402
from trainer.data.relabel import EXCLUDED, RelabelJournal  # noqa: E402

from test_review import faces_root, home, review_model  # noqa: E402,F401 - shared fixtures

WAIT_MS = 120000  # a torch pass on a busy 2-core machine


@pytest.fixture
def make_window(qtbot, tmp_path, home):  # noqa: F811
    def make() -> ReviewWindow:
        ctx = AppContext(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        win = ReviewWindow(ctx, cache_dir=str(tmp_path / "predictions"))
        qtbot.addWidget(win)
        win.resize(1400, 900)
        win.show()
        return win
    return make


def open_data(qtbot, win: ReviewWindow, faces_root, review_model):  # noqa: F811
    with qtbot.waitSignal(win.sessionChanged, timeout=WAIT_MS):
        win.open_dataset(DatasetRequest(str(faces_root), model=str(review_model)))
    return win.session


def click_cell(qtbot, win: ReviewWindow, row: int, column: int) -> None:
    table = win.matrix.table
    rect = table.visualRect(win.matrix.model.index(row, column))
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def key(win: ReviewWindow, k: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(win.grid, k, modifiers)


def test_review_by_mouse_and_keyboard(qtbot, make_window, faces_root, review_model, one_torch_thread):  # noqa: F811
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    # The matrix: 40 faces, 10 per labelled class (counted from the folders, not by the code).
    counts = {name.lower(): len(list(faces_root.glob(f"*/{name}/*.png"))) for name in ("Angry", "Disgust", "Fear", "Happy")}
    model = win.matrix.model
    assert sum(int(model.data(model.index(r, len(s.classes) + 1))) for r in range(len(s.classes))) == 40
    for r, name in enumerate(s.classes):
        assert int(model.data(model.index(r, len(s.classes) + 1))) == counts.get(name, 0)
    assert win.matrix.headline.text().startswith("accuracy") and "on faces/Train+Val (40 faces)" in \
        win.matrix.headline.text()
    assert win.grid.grid_model.rowCount() == 40 and "journal" in win.windowTitle()

    # Click the fullest cell: the grid shows exactly those samples.
    cm = s.confusion()
    r, k = np.unravel_index(int(cm.argmax()), cm.shape)
    click_cell(qtbot, win, int(r), int(k))
    shown = [win.grid.grid_model.sample_at(row) for row in range(win.grid.grid_model.rowCount())]
    assert len(shown) == cm[r, k] > 0
    assert all(s.labels()[i] == r and s.predicted[i] == k for i in shown)
    assert win.filter_bar.label_box.currentData() == r and win.filter_bar.pred_box.currentData() == k
    # The recall column filters by label alone.
    click_cell(qtbot, win, int(r), len(s.classes))
    assert win.grid.grid_model.rowCount() == cm[r].sum()

    key(win, Qt.Key.Key_Escape)  # show all
    assert win.grid.grid_model.rowCount() == 40
    win.grid.setFocus()
    first = win.grid.current_sample()
    target = (s.given[first] + 1) % 4  # another class the data has
    key(win, getattr(Qt.Key, f"Key_{target + 1}"))
    second = win.grid.current_sample()
    assert second != first  # advanced to the next sample
    assert s.state_of(first) == s.classes[target]
    assert win.detail.sample == second
    key(win, Qt.Key.Key_X)  # not a face
    third = win.grid.current_sample()
    key(win, Qt.Key.Key_Left)  # back to the excluded one
    assert win.grid.current_sample() == second and s.state_of(second) == EXCLUDED
    assert "excluded" in win.detail.title.text()
    journal = RelabelJournal(s.journal.path, "faces")
    assert journal.state() == {s.ids[first]: s.classes[target], s.ids[second]: EXCLUDED}

    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the exclusion
    assert s.state_of(second) is None and journal.state() == {s.ids[first]: s.classes[target]}
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the relabel
    assert s.state_of(first) is None and journal.state() == {}
    assert win.grid.current_sample() == first  # undo shows what it changed
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # redo
    assert s.state_of(first) == s.classes[target] and journal.state() == {s.ids[first]: s.classes[target]}
    ops = [r["op"] for r in journal.records()]
    assert ops == ["set", "set", "undo", "undo", "redo"]
    key(win, Qt.Key.Key_0)  # withdraw on the current (first) sample, then on to the next
    assert s.state_of(first) is None
    key(win, Qt.Key.Key_Right)
    key(win, Qt.Key.Key_Space)
    assert win.grid.grid_model.row_of(win.grid.current_sample()) == win.grid.grid_model.row_of(first) + 3
    key(win, Qt.Key.Key_Up)
    assert win.grid.grid_model.row_of(win.grid.current_sample()) == win.grid.grid_model.row_of(third)

    # The relabelled filter and the matrix follow the journal.
    win.grid.go_to_row(0)
    key(win, getattr(Qt.Key, f"Key_{(s.given[win.grid.current_sample()] + 1) % 4 + 1}"))
    edited = dict(journal.state())
    win.apply_filter(Filter(relabelled=True))
    assert win.grid.grid_model.rowCount() == len(edited) == 1
    assert s.summary()["confusion"].sum() == 40


def test_a_selection_changes_together_and_undoes_in_one_step(qtbot, make_window, faces_root, review_model,  # noqa: F811
                                                             monkeypatch, one_torch_thread):
    """Shift+click a range, then X: every selected face excluded in one journal write and one
    undo step; Ctrl+A on a filtered grid, then a digit: only the shown faces; a selection larger
    than CONFIRM_ABOVE asks first, and "no" changes nothing."""
    import fer_desktop._qt.tools.review.window as window_module

    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    grid = win.grid
    grid.setFocus()
    for row, modifier in ((2, Qt.KeyboardModifier.NoModifier), (6, Qt.KeyboardModifier.ShiftModifier)):
        rect = grid.visualRect(grid.grid_model.index(row))
        QTest.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())
    picked = [grid.grid_model.sample_at(row) for row in range(2, 7)]
    assert grid.selected_samples() == picked and "5 faces selected" in win.statusBar().currentMessage()
    assert win.detail.applies_to.isVisible() and "all 5 selected faces" in win.detail.applies_to.text()
    key(win, Qt.Key.Key_X)
    assert [s.state_of(i) for i in picked] == [EXCLUDED] * 5
    assert win.undo_stack.count() == 1 and win.undo_stack.undoText() == "exclude 5 faces"
    assert grid.selected_samples() == picked  # no advance after a multi-selection
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all(s.state_of(i) is None for i in picked) and RelabelJournal(s.journal.path, "faces").state() == {}

    happy = s.classes.index("happy")
    win.apply_filter(Filter(label=s.classes.index("angry")))
    shown = [grid.grid_model.sample_at(row) for row in range(grid.grid_model.rowCount())]
    key(win, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(win, getattr(Qt.Key, f"Key_{happy + 1}"))
    assert sorted(i for i in range(len(s)) if s.state_of(i) == "happy") == sorted(shown) and len(shown) == 10

    asked = []
    monkeypatch.setattr(window_module, "CONFIRM_ABOVE", 5)
    monkeypatch.setattr(win, "confirm_batch", lambda n, what: asked.append((n, what)) or False)
    win.apply_filter(Filter())
    key(win, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(win, Qt.Key.Key_X)
    assert asked == [(40, "exclude")] and not any(s.state_of(i) == EXCLUDED for i in range(len(s)))

    grid.go_to_row(4)  # Shift+arrows run along the order too, across the row's wrap
    for _ in range(3):
        key(win, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert grid.selected_samples() == [grid.grid_model.sample_at(row) for row in range(4, 8)]


def test_tiles_grow_and_shrink_and_the_size_is_remembered(qtbot, make_window, faces_root, review_model,  # noqa: F811
                                                          one_torch_thread):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    from fer_desktop._qt.tools.review.grid import THUMB_SIZES

    win = make_window()
    open_data(qtbot, win, faces_root, review_model)
    grid = win.grid
    before = grid.visualRect(grid.grid_model.index(0)).size()
    key(win, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    after = grid.visualRect(grid.grid_model.index(0)).size()
    assert after.width() - before.width() == after.height() - before.height() == 128 - 96
    assert grid.cache.get(grid.grid_model.sample_at(0)).width() == round(after.width() * grid.cache.ratio)
    for _ in range(10):  # Ctrl+wheel down: the smallest size, and no further
        grid.wheelEvent(QWheelEvent(QPointF(10, 10), QPointF(10, 10), QPoint(), QPoint(0, -120),
                                    Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                                    Qt.ScrollPhase.NoScrollPhase, False))
    assert grid.cache.thumb == THUMB_SIZES[0]
    win.close()
    again = make_window()
    assert again.grid.cache.thumb == THUMB_SIZES[0]  # remembered


def test_find_by_id_filters_the_grid_and_keeps_the_digits_for_typing(qtbot, make_window, faces_root,  # noqa: F811
                                                                     review_model, one_torch_thread):
    """Ctrl+F, type: the grid shows the ids containing the text (any case); the digits typed
    go into the box, not to the label keys; Enter gives the keys back to the grid."""
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    win.grid.setFocus()
    key(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    box = win.filter_bar.text_box
    assert box.hasFocus()
    QTest.keyClicks(box, "VAL/disgust/001")
    shown = [win.grid.grid_model.sample_at(row) for row in range(win.grid.grid_model.rowCount())]
    assert [s.ids[i] for i in shown] == ["Val/Disgust/001.png"]
    assert RelabelJournal(s.journal.path, "faces").state() == {}  # "1" was text, not "label 1"
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert win.grid.hasFocus()
    key(win, Qt.Key.Key_X)
    assert s.state_of(shown[0]) == EXCLUDED
    key(win, Qt.Key.Key_Escape)
    assert box.text() == "" and win.grid.grid_model.rowCount() == 40


def test_non_faces_are_one_key_away(qtbot, make_window, faces_root, review_model, one_torch_thread):  # noqa: F811
    """Ctrl+4 shows the samples with no face found (the detector misses some generated faces),
    the bar's box says how many, "likely not a face first" orders the grid by the not-a-face
    score, a tile's tooltip says why, and Ctrl+A, X excludes every shown one in one step."""
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    missing = np.flatnonzero(s.face_missing)
    assert 0 < len(missing) < len(s)  # both kinds, or the filter shows nothing
    assert "Not a face?" in win.about_scores.text()
    win.grid.setFocus()
    key(win, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    shown = [win.grid.grid_model.sample_at(row) for row in range(win.grid.grid_model.rowCount())]
    assert sorted(shown) == missing.tolist()
    assert win.filter_bar.face_box.currentText() == f"no face ({len(missing)})"
    index = win.grid.grid_model.index(0)
    assert "not a face? no face found" in win.grid.grid_model.data(index, Qt.ItemDataRole.ToolTipRole)
    key(win, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(win, Qt.Key.Key_X)
    assert all(s.state_of(i) == EXCLUDED for i in missing) and s.excluded.sum() == len(missing)
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo brings them all back
    assert not s.excluded.any()

    key(win, Qt.Key.Key_Escape)
    win.filter_bar.set_sort("not_a_face")
    shown = [win.grid.grid_model.sample_at(row) for row in range(win.grid.grid_model.rowCount())]
    assert len(shown) == len(s) and set(shown[:len(missing)]) == set(missing.tolist())
    assert np.all(np.diff(s.not_a_face[shown]) <= 0)


def test_copies_labelled_otherwise_are_shown_and_relabelled_together(qtbot, make_window, faces_root,  # noqa: F811
                                                                     review_model, tmp_path, one_torch_thread):
    """Ctrl+5 shows the planted copies with other labels (an exact one and a near one), Ctrl+D on
    the exact copy shows it with its original, Ctrl+A and a label key give both one label, and
    after the near copy's, Ctrl+5 shows none."""
    from test_review import with_extras

    root, _black, (original, copy), (near_original, near) = with_extras(faces_root, tmp_path)
    win = make_window()
    s = open_data(qtbot, win, root, review_model)
    pair, near_pair = {s.index[original], s.index[copy]}, {s.index[near_original], s.index[near]}
    assert "Copies" in win.about_scores.text() and "1 exact" not in win.about_scores.text()

    def shown() -> list[int]:
        return [win.grid.grid_model.sample_at(row) for row in range(win.grid.grid_model.rowCount())]

    win.grid.setFocus()
    key(win, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    planted = set(np.flatnonzero(np.isin(s.copy_group, s.copy_group[list(pair | near_pair)])).tolist())
    assert pair | near_pair <= set(shown()) == planted  # with the generated faces they are near copies of
    key(win, Qt.Key.Key_Escape)
    win.grid.go_to_row(win.grid.grid_model.row_of(s.index[copy]))
    key(win, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    group = set(shown())
    assert pair <= group and f"copies ({len(group)})" in win.filter_bar.title.text()
    assert f"{original} (angry, exact)" in win.detail.info.text()
    key(win, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(win, Qt.Key.Key_1)  # angry, the original's label (its group's generated faces are angry too)
    assert {s.state_of(i) or s.given_name(i) for i in group} == {"angry"}
    key(win, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert near_pair <= set(shown()) and not pair & set(shown())
    win.grid.go_to_row(win.grid.grid_model.row_of(s.index[near]))
    assert f"{near_original} (disgust, near: 0.9" in win.detail.info.text()  # how alike, never "1.00"
    s.relabel(near, "disgust")
    key(win, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert shown() == []


def test_a_copy_is_listed_as_exact_near_or_mirrored():
    """The detail's words for a copy: exact, or how alike (rounded down: only the same pixels
    read 1.00) and whether it lines up mirrored."""
    from fer_desktop._qt.tools.review.detail import _likeness

    assert _likeness(None) == ", exact"
    assert _likeness((0.9999, False)) == ", near: 0.99 alike"
    assert _likeness((0.951, True)) == ", mirrored: 0.95 alike"


def test_open_recent_lists_what_opened_and_opens_it_again(qtbot, make_window, faces_root, review_model,  # noqa: F811
                                                          tmp_path, one_torch_thread):
    """A dataset that opened is first in Review > Open Recent (once, however often opened); a
    missing one is listed but disabled; a hand-edited entry is skipped; an entry opens again."""
    from fer_desktop._qt.tools.review.recent import KEY, recent_requests

    win = make_window()
    settings = win.ctx.settings
    settings.setValue(KEY, '[{"path": "%s", "split": "Val"}, {"nonsense": 1}, 7]' % (tmp_path / "gone"))
    open_data(qtbot, win, faces_root, review_model)
    open_data(qtbot, win, faces_root, review_model)
    assert [(r.path, r.split) for r in recent_requests(settings)] == [(str(faces_root), None),
                                                                       (str(tmp_path / "gone"), "Val")]
    win.recent_menu.aboutToShow.emit()
    actions = [a for a in win.recent_menu.actions() if not a.isSeparator()]
    assert actions[0].text().startswith("&1  faces · model tiny") and actions[0].isEnabled()
    assert actions[1].text().endswith("(not found)") and not actions[1].isEnabled()
    with qtbot.waitSignal(win.sessionChanged, timeout=WAIT_MS):
        actions[0].trigger()
    assert win.session is not None and win.session.source == str(faces_root)
    win.recent_menu.actions()[-1].trigger()  # Clear the List
    assert recent_requests(settings) == []


def test_reopen_shows_the_journal_without_running_the_model(qtbot, make_window, faces_root, review_model,  # noqa: F811
                                                            monkeypatch, one_torch_thread):
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    s.relabel(3, s.classes[(s.given[3] + 1) % 4])
    s.exclude(7)
    expected = {s.ids[3]: s.state_of(3), s.ids[7]: EXCLUDED}
    win.close()

    import trainer.models.card

    def no_model(*_a, **_k):
        raise AssertionError("the model ran again: the cache was not used")

    monkeypatch.setattr(trainer.models.card, "load_model", no_model)
    again = make_window()
    s2 = open_data(qtbot, again, faces_root, review_model)
    assert {s2.ids[i]: s2.state_of(i) for i in range(len(s2)) if s2.state_of(i)} == expected
    assert np.array_equal(s2.probs, s.probs)
    again.apply_filter(Filter(relabelled=True))
    assert again.grid.grid_model.rowCount() == 2


def test_show_ids_exports_and_errors(qtbot, make_window, faces_root, review_model, tmp_path,  # noqa: F811
                                     one_torch_thread):
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    assert win.show_ids([s.ids[5], s.ids[2], "Val/Happy/nope.png"], "Broken by the new model") == 2
    assert win.grid.grid_model.rowCount() == 2 and "Broken by the new model (2)" in win.filter_bar.title.text()
    assert "1 of 3 ids" in win.banner.text()

    s.relabel(0, "fear")
    with qtbot.waitSignal(win.exported, timeout=30000) as blocker:
        win.export_dataset(str(tmp_path / "copy"))
    assert blocker.args == ["dataset", str(tmp_path / "copy")]
    assert (tmp_path / "copy" / "Train" / "Fear" / Path(s.ids[0]).name).is_file()
    with qtbot.waitSignal(win.exported, timeout=5000):
        win.export_csv(str(tmp_path / "ranked.csv"))
    assert len((tmp_path / "ranked.csv").read_text().splitlines()) == 41

    with qtbot.waitSignal(win.loadFailed, timeout=30000) as blocker:
        win.open_dataset(DatasetRequest(str(tmp_path / "missing"), model=str(review_model)))
    assert "dataset not found" in blocker.args[0] and "dataset not found" in win.banner.text()
    assert win.session is s  # the open session stays


@pytest.mark.slow
def test_main_window_review_menu(qtbot, tmp_path, faces_root, review_model, home, one_torch_thread):  # noqa: F811
    from fer_desktop._qt.main_window import MainWindow

    settings = QSettings(str(tmp_path / "main.ini"), QSettings.Format.IniFormat)
    main = MainWindow(settings, model_path=review_model, panels=[])
    qtbot.addWidget(main)
    main.show()
    menu = main.menus["Review"]
    assert [a.text() for a in menu.actions() if a.text()][:4] == ["&Open Dataset…", "Open &Recent",
                                                                   "Review Every &Face Here", "&Show Review Window"]
    tool = main.tools["Review"]
    main.ctx.request_open_dataset(str(faces_root), model=str(review_model))
    win = tool.window()
    qtbot.waitUntil(lambda: win.session is not None, timeout=WAIT_MS)
    assert win.isVisible() and main.ctx.review is win.session
    heard = []
    main.ctx.labelsChanged.connect(lambda dataset, ids: heard.append((dataset, ids)))
    win.grid.setFocus()
    i = win.grid.current_sample()
    key(win, getattr(Qt.Key, f"Key_{(win.session.given[i] + 1) % 4 + 1}"))
    assert heard == [("faces", [win.session.ids[i]])]
    tool.recent_menu.aboutToShow.emit()  # the main window's list is the review window's
    assert tool.recent_menu.actions()[0].text().startswith("&1  faces · model tiny")
    main.close()


def test_review_command(tmp_path, faces_root, review_model, home):  # noqa: F811
    """``fer-desktop review DATA --screenshot``: the window alone, saved once the predictions show."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FER_DESKTOP_SETTINGS=str(tmp_path / "s.ini"))
    out = tmp_path / "review.png"
    proc = subprocess.run([sys.executable, "-m", "fer_desktop", "review", str(faces_root), "--split", "Val",
                           "--model", str(review_model), "--cell", "angry:", "--screenshot", str(out), "--parts",
                           "--size", "1200x800"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    from PySide6.QtGui import QImage

    assert QImage(str(out)).width() >= 1000 and not QImage(str(tmp_path / "review-grid.png")).isNull()
    missing = subprocess.run([sys.executable, "-m", "fer_desktop", "review", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode == 2 and missing.stderr.strip() == f"fer-desktop review: dataset not found: {tmp_path / 'nope'}"
    from fer_desktop.cli_review import main

    with pytest.raises(SystemExit) as stopped:  # a video's frame rate without every face says so
        main([str(faces_root), "--every", "0.5"])
    assert stopped.value.code == 2


def test_the_note_says_which_probabilities_ranked_the_labels(tmp_path):
    """The note under the matrix says what the engine says (``fer-train issues`` prints the same)."""
    from fer_desktop._qt.tools.review.window import scores_note
    from fer_desktop.review import ReviewSession
    from trainer.classes import BASIC_CLASSES
    from trainer.data.samples import SampleSet
    from trainer.evaluation.label_quality import IssueScores

    n = 8
    samples = SampleSet(ids=[f"s{i}" for i in range(n)], images=np.zeros((n, 4, 4), np.uint8),
                        labels=np.arange(n) % 4, classes=BASIC_CLASSES, name="small/all")
    issues = IssueScores(np.linspace(0, 1, n), np.zeros(n, bool), np.arange(n) >= 4, "self_confidence", 0.2,
                         np.arange(n) >= 4)
    note = scores_note(ReviewSession(samples, tmp_path / "j.jsonl", issues=issues))
    assert "from out-of-fold probabilities for the 4 samples of splits the model trained on" in note


def test_new_images_open_to_be_labelled_and_enter_takes_the_models_class(qtbot, make_window, tmp_path,  # noqa: F811
                                                                        faces_root, review_model, one_torch_thread):
    """A folder of loose images opens on the images to label, least sure first; Enter labels the
    current face as the model predicts and moves on, Ctrl+A then Enter labels the rest at once."""
    from fer_desktop.review import NONE
    from trainer.data.synthetic import write_class_folders

    gen = write_class_folders(tmp_path / "gen", 4, class_names=["Happy"], size=48)
    loose = tmp_path / "new"
    (gen / "Happy").rename(loose)
    win = make_window()
    s = open_data(qtbot, win, loose, review_model)
    assert s.unlabelled().all() and win.filter_bar.label_box.currentData() == NONE
    assert win.filter_bar.label_box.currentText() == "unlabelled" and win.filter_bar.sort == ("confidence", False)
    order = [win.grid.grid_model.sample_at(row) for row in range(win.grid.grid_model.rowCount())]
    assert [float(s.confidence[i]) for i in order] == sorted(float(c) for c in s.confidence)
    labelled = open_data(qtbot, win, faces_root, review_model)  # a labelled dataset next: errors first again
    assert win.filter_bar.sort == ("score", False) and win.filter_bar.label_box.currentData() is None
    s = open_data(qtbot, win, loose, review_model)
    assert labelled is not s and win.filter_bar.sort == ("confidence", False)
    assert "no labelled faces yet" in win.matrix.headline.text() and "4 not labelled yet" in win.matrix.headline.text()
    assert "4 faces came without a label" in win.about_scores.text() and "1–7 another" in win.about_scores.text()

    win.grid.go_to_row(0)
    first = win.grid.current_sample()
    key(win, Qt.Key.Key_Return)
    assert s.state_of(first) == s.classes[s.predicted[first]] and win.grid.current_sample() == order[1]
    assert "(1 face; 3 not labelled yet; 1 labelled here)" in win.matrix.headline.text()
    assert win.detail.sample == order[1] and win.detail.title.text().startswith("not labelled yet")
    win.grid.go_to_row(0)
    assert win.detail.title.text().startswith(f"labelled {s.state_of(first)} here")
    key(win, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(win, Qt.Key.Key_Enter)
    assert all(s.state_of(i) == s.classes[s.predicted[i]] for i in range(len(s)))
    assert RelabelJournal(s.journal.path, s.dataset).state() == {s.ids[i]: s.state_of(i) for i in range(len(s))}
    assert win.undo_stack.count() == 2 and not s.unlabelled().any()
    assert win.matrix.headline.text().startswith("accuracy 100.0%")  # labelled as predicted: right by definition
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [i for i in range(len(s)) if s.unlabelled()[i]] == sorted(order[1:])
    win.grid.clearSelection()  # the button does what Enter does, for mouse users
    win.grid.go_to_row(1)
    current = win.grid.current_sample()
    assert win.grid.selected_samples() == [current] and s.unlabelled()[current]
    qtbot.waitUntil(win.detail.suggested_button.isVisible)
    qtbot.mouseClick(win.detail.suggested_button, Qt.MouseButton.LeftButton)
    assert s.state_of(current) == s.classes[s.predicted[current]] and win.undo_stack.count() == 2

    # Ctrl+L: suggestions learnt from the labels so far (two here: too few, the model's stay).
    key(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: s.suggestions is not None, timeout=WAIT_MS)
    assert s.suggestions.rule == "model" and "too few to learn from" in win.banner.text()
    assert np.array_equal(s.suggested, s.predicted)
    # Suggestions that differ from the model (as a head learnt from many labels would give):
    # Enter takes them, the sample and the tile say so.
    from trainer.evaluation.suggest import Suggestions

    shifted = np.roll(s.probs, 1, axis=1)
    win._suggestions_learnt(s, Suggestions(shifted, "head", 30, {"model": 0.3, "mix": 0.4, "head": 0.5}))
    todo = int(np.flatnonzero(s.unlabelled())[0])
    win.grid.go_to_row(win.grid.grid_model.row_of(todo))
    wanted = s.classes[int(shifted[todo].argmax())]
    assert wanted != s.classes[s.predicted[todo]] and f"suggested {wanted}" in win.detail.title.text()
    assert "a head learnt from your labels, from your 30 labels" in win.banner.text()
    model = win.grid.grid_model
    tip = model.data(model.index(model.row_of(todo)), Qt.ItemDataRole.ToolTipRole)
    assert f"suggested: {wanted} (Enter)" in tip
    win.grid.clearSelection()
    win.grid.go_to_row(win.grid.grid_model.row_of(todo))
    key(win, Qt.Key.Key_Return)
    assert s.state_of(todo) == wanted


def test_suggestions_asked_for_are_learnt_again_as_labels_arrive(qtbot, make_window, tmp_path,  # noqa: F811
                                                                  review_model, one_torch_thread):
    from trainer.data.synthetic import write_class_folders

    gen = write_class_folders(tmp_path / "gen", 15, class_names=["Happy", "Sad"], size=48)
    loose = tmp_path / "new"
    loose.mkdir()
    for f in gen.rglob("*.png"):
        f.rename(loose / f"{f.parent.name}-{f.name}")
    win = make_window()
    s = open_data(qtbot, win, loose, review_model)
    key(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: s.suggestions is not None, timeout=WAIT_MS)
    assert s.suggestions.labelled == 0 and "learnt again after every 20 new labels" in win.banner.text()
    happy = [i for i, name in enumerate(s.ids) if name.startswith("Happy")]
    s.set_states(happy[:10], "happy")  # 10 new labels: not yet
    assert win.learn_job is None and s.suggestions.labelled == 0
    sad = [i for i, name in enumerate(s.ids) if name.startswith("Sad")]
    s.set_states(sad[:10], "sad")  # 20: learnt again, quietly, from both classes' labels
    qtbot.waitUntil(lambda: s.suggestions.labelled == 20, timeout=WAIT_MS)
    assert s.suggestions.cv_accuracy and "from your 20 labels" in win.statusBar().currentMessage()


def test_group_photos_are_reviewed_face_by_face(qtbot, make_window, tmp_path, two_people_bgr,  # noqa: F811
                                                review_model, one_torch_thread):
    """Opened with every face, a photo of two people is two samples; the detail shows the photo
    with the selected face boxed, says which face it is, and the banner what the cut found."""
    import cv2

    photos = tmp_path / "party"
    photos.mkdir()
    cv2.imwrite(str(photos / "two.png"), two_people_bgr)
    cv2.imwrite(str(photos / "wall.png"), np.full((90, 90, 3), 120, np.uint8))
    win = make_window()
    with qtbot.waitSignal(win.sessionChanged, timeout=WAIT_MS):
        win.open_dataset(DatasetRequest(str(photos), model=str(review_model), every_face=True))
    s = win.session
    assert s.ids == ["two_face0.png", "two_face1.png"] and s.unlabelled().all()
    assert "2 faces from 1 of 2 images; no face in wall.png" in win.banner.text()
    win.grid.go_to_row(win.grid.grid_model.row_of(1))
    qtbot.waitUntil(lambda: win.detail.sample == 1)
    qtbot.waitUntil(lambda: "×" in win.detail.original_caption.text(), timeout=WAIT_MS)  # read off the GUI thread
    assert win.detail.original.pixmap() is not None and not win.detail.original.pixmap().isNull()
    caption = win.detail.original_caption.text()
    assert caption.startswith(f"photo {two_people_bgr.shape[1]}×512: two.png, face 2 of 2"), caption
    assert "<b>from</b> two.png, face 2 of 2" in win.detail.info.text()
    from fer_desktop._qt.tools.review.grid import tile_tooltip

    assert tile_tooltip(s, 1).splitlines()[:2] == ["two_face1.png", "from two.png, face 2 of 2"]
    menu = win._show_tile_menu(win.grid.visualRect(win.grid.grid_model.index(win.grid.grid_model.row_of(1))).center())
    assert "Open two.png" in [a.text() for a in menu.actions()]  # the photo the face was cut from
    menu.close()
    key(win, Qt.Key.Key_4)  # happy
    assert s.state_of(1) == "happy"


def test_an_original_is_read_in_the_background_and_a_missing_one_is_said(qtbot, make_window, faces_root,  # noqa: F811
                                                                        review_model, tmp_path, one_torch_thread):
    """The detail's original image arrives from the reader thread; a file deleted since the
    dataset was opened reads "cannot read the original", and labelling goes on."""
    import shutil

    root = tmp_path / "faces"
    shutil.copytree(faces_root, root)
    win = make_window()
    s = open_data(qtbot, win, root, review_model)
    first, second = (win.grid.grid_model.sample_at(row) for row in (0, 1))
    Path(s.paths[second]).unlink()
    win.grid.go_to_row(0)
    qtbot.waitUntil(lambda: win.detail.original_caption.text() == "original 48×48", timeout=WAIT_MS)
    assert not win.detail.original.pixmap().isNull() and win.detail.originals.reads >= 1
    win.grid.go_to_row(1)
    qtbot.waitUntil(lambda: win.detail.original.text() == "cannot read\nthe original", timeout=WAIT_MS)
    assert win.detail.sample == second and s.ids[second] in win.detail.info.text()
    key(win, Qt.Key.Key_2)
    assert s.state_of(second) == s.classes[1]
    reads = win.detail.originals.reads
    win.grid.go_to_row(0)  # kept: shown at once, not read again
    assert win.detail.original_caption.text() == "original 48×48" and win.detail.originals.reads == reads


def test_a_right_click_offers_the_labels_and_the_files(qtbot, make_window, faces_root,  # noqa: F811
                                                       review_model, monkeypatch, one_torch_thread):
    """Right-clicking a tile outside the selection selects it alone and opens its menu: its
    label actions label it, Copy Id and Copy Path fill the clipboard, Open Image File hands the
    file to the desktop; on a selection of two, the menu acts on both."""
    from PySide6.QtGui import QDesktopServices, QGuiApplication
    from PySide6.QtWidgets import QMenu

    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))

    def right_click(row: int) -> dict[str, object]:
        rect = win.grid.visualRect(win.grid.grid_model.index(row))
        menu = win._show_tile_menu(rect.center())
        assert isinstance(menu, QMenu) and menu.isVisible()
        menus.append(menu)
        return {a.text(): a for a in menu.actions()}

    menus: list[QMenu] = []

    first = win.grid.grid_model.sample_at(3)
    actions = right_click(3)
    assert win.grid.selected_samples() == [first]
    assert {"Copy Id", "Copy Path", "Open Image File", "Show in Folder", "Show &Copies of This Face"} <= set(actions)
    actions["Copy Id"].trigger()
    assert QGuiApplication.clipboard().text() == s.ids[first]
    actions["Open Image File"].trigger()
    assert opened == [str(faces_root / s.ids[first])]
    other = next(c for c in s.classes if c != s.given_name(first))
    [label] = [a for a in actions["&Label"].menu().actions() if a.text() == f"Label as {other}"]
    label.trigger()
    assert s.state_of(first) == other

    win.grid.go_to_row(0)
    win.grid.selectionModel().select(win.grid.grid_model.index(1), win.grid.selectionModel().SelectionFlag.Select)
    pair = win.grid.selected_samples()
    actions = right_click(1)  # inside the selection: it stays
    assert win.grid.selected_samples() == pair and "&Label 2 Faces" in actions and "Copy Ids" in actions
    actions["Copy Paths"].trigger()
    assert QGuiApplication.clipboard().text().splitlines() == [str(faces_root / s.ids[i]) for i in pair]
    from PySide6.QtCore import QPoint

    menus.append(win._show_tile_menu(QPoint(-5, -5)))  # the menu key: the current tile's selection
    assert "&Label 2 Faces" in [a.text() for a in menus[-1].actions()]
    for menu in menus:
        menu.close()


def test_the_given_labels_key_confirms_it_and_checked_faces_can_be_hidden(qtbot, make_window, faces_root,  # noqa: F811
                                                                          review_model, one_torch_thread):
    """Going down the likeliest errors, a face whose label is right gets its own class's key:
    the label stays, the face is marked checked (a ✓, the title says so) and the grid moves on;
    "not checked yet" then leaves it out, and 0 makes it untouched again."""
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    win.grid.setFocus()
    i = win.grid.current_sample()
    given = int(s.given[i])
    key(win, getattr(Qt.Key, f"Key_{given + 1}"))
    assert s.confirmed()[i] and s.labels()[i] == given and win.grid.current_sample() != i
    assert "1 confirmed" in s.summary()["headline"] and "confirmed" in win.windowTitle()
    win.detail.show_sample(i)
    assert win.detail.title.text().startswith(f"labelled {s.classes[given]}  ✓  checked")
    assert f"<b>last change</b> confirmed {s.classes[given]}" in win.detail.info.text()
    from fer_desktop._qt.tools.review.grid import tile_tooltip

    assert f"confirmed: {s.classes[given]}" in tile_tooltip(s, i).splitlines()
    box = win.filter_bar.changes_box
    box.setCurrentIndex(box.findText("not checked yet"))
    assert i not in win.grid.grid_model.order.tolist() and len(win.grid.grid_model.order) == len(s) - 1
    box.setCurrentIndex(box.findText("checked by you"))
    assert win.grid.grid_model.order.tolist() == [i]
    win.grid.go_to_row(0)
    key(win, Qt.Key.Key_0)
    assert s.state_of(i) is None and not s.confirmed().any()


def test_import_journal_from_the_menu_is_one_undo_step(qtbot, make_window, faces_root,  # noqa: F811
                                                     review_model, tmp_path, one_torch_thread):
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    theirs = RelabelJournal(tmp_path / "bob.jsonl", s.dataset)
    theirs.set(s.ids[0], EXCLUDED, user="bob")
    theirs.set(s.ids[1], s.classes[(s.given[1] + 1) % 4], user="bob")
    assert win.import_journal(str(tmp_path / "bob.jsonl"))["taken"] == 2
    assert "Imported 2 label changes from bob.jsonl." in win.banner.text()
    assert win.undo_stack.undoText() == "import 2 label changes" and s.state_of(0) == EXCLUDED
    win.undo_stack.undo()
    assert s.state_of(0) is None and s.state_of(1) is None
    assert win.import_journal(str(s.journal.path)) is None and "own journal" in win.banner.text()
    (tmp_path / "notes.txt").write_text("not a journal\n")
    assert win.import_journal(str(tmp_path / "notes.txt")) is None  # said, not raised
    assert "notes.txt: no label changes for" in win.banner.text()


def test_compare_a_journal_shows_the_disagreements_and_t_takes_theirs(qtbot, make_window, faces_root,  # noqa: F811
                                                                      review_model, tmp_path, one_torch_thread):
    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    other = [s.classes[(s.given[i] + 1) % 4] for i in range(3)]
    for i in range(3):  # you: faces 0-2 confirmed
        s.relabel(i, s.given_name(i))
    theirs = RelabelJournal(tmp_path / "bob.jsonl", s.dataset)
    theirs.set(s.ids[0], other[0], user="bob")  # differs
    theirs.set(s.ids[1], s.given_name(1), user="bob")  # alike
    theirs.set(s.ids[5], EXCLUDED, user="bob")  # bob only
    assert not win.filter_bar.annotators_box.isVisibleTo(win) and not win.act_take_theirs.isEnabled()
    result = win.compare_journal(str(tmp_path / "bob.jsonl"))
    assert (result.both, result.agree) == (2, 1) and s.state_of(5) is None  # nothing taken
    assert "you and bob both judged 2 faces and agree on 1 (50.0%" in win.banner.text()
    assert "Shown: the 1 you disagree on; T takes bob's label" in win.banner.text()
    assert win.grid.grid_model.order.tolist() == [0] and win.filter_bar.annotators_box.isVisibleTo(win)
    assert win.filter_bar.annotators_box.currentText() == "you and bob disagree"
    assert "you and bob agree on 1 of 2" in win.matrix.headline.text()
    win.grid.go_to_row(0)
    assert f"bob: {other[0]}, 20" in win.detail.info.text()
    key(win, Qt.Key.Key_T)
    assert s.state_of(0) == other[0] and not s.annotators("disagree").any()
    assert win.undo_stack.undoText().startswith("relabel")
    win.undo_stack.undo()
    assert s.state_of(0) == s.given_name(0)
    box = win.filter_bar.annotators_box
    box.setCurrentIndex(box.findText("only bob judged"))
    assert win.grid.grid_model.order.tolist() == [5]
    assert win.compare_journal(str(s.journal.path)) is None and "own journal" in win.banner.text()
    (tmp_path / "notes.txt").write_text("not a journal\n")
    assert win.compare_journal(str(tmp_path / "notes.txt")) is None  # said, not raised
    assert "Could not compare: notes.txt: no labels for" in win.banner.text()


def test_a_compared_journal_comes_back_with_the_dataset_until_stopped(qtbot, make_window, faces_root,  # noqa: F811
                                                                      review_model, tmp_path, one_torch_thread):
    """Open Recent reopens a dataset with the journal it was compared with; Stop Comparing puts
    it away (and forgets it); a compared journal deleted since is said and forgotten."""
    from fer_desktop._qt.tools.review.recent import recent_requests, title

    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    s.relabel(0, s.given_name(0))
    bob = tmp_path / "bob.jsonl"
    RelabelJournal(bob, s.dataset).set(s.ids[0], s.classes[(s.given[0] + 1) % 4], user="bob")
    win.compare_journal(str(bob))
    assert recent_requests(win.ctx.settings)[0].compare == (str(bob),)
    assert "compared with bob" in title(recent_requests(win.ctx.settings)[0])
    win.ctx.settings.sync()
    win.close()

    again = make_window()

    def reopen() -> ReviewSession:
        with qtbot.waitSignal(again.sessionChanged, timeout=WAIT_MS):
            again.open_dataset(recent_requests(again.ctx.settings)[0])
        return again.session

    other = reopen().other
    assert other is not None and other.name == "bob" and again.act_take_theirs.isEnabled()
    assert again.filter_bar.annotators_box.currentText() == "you and bob disagree"
    assert again.grid.grid_model.order.tolist() == [0]
    again.stop_comparing()
    assert again.session.other is None and not again.act_take_theirs.isEnabled()
    assert not again.filter_bar.annotators_box.isVisibleTo(again) and again.filter.annotators is None
    assert len(again.grid.grid_model.order) == len(again.session)
    assert recent_requests(again.ctx.settings)[0].compare == ()
    assert reopen().other is None
    again.compare_journal(str(bob))
    bob.unlink()
    assert reopen().other is None and "The journal compared last time is gone" in again.banner.text()
    assert recent_requests(again.ctx.settings)[0].compare == ()


def test_a_team_compared_shows_its_split_faces_and_comes_back(qtbot, make_window, faces_root,  # noqa: F811
                                                              review_model, tmp_path, one_torch_thread):
    """Two journals compared at once are a team: the banner gives everyone's alpha, the faces it
    is split on are a filter, the detail lists each member, and Open Recent brings both back."""
    from fer_desktop._qt.tools.review.recent import recent_requests

    win = make_window()
    s = open_data(qtbot, win, faces_root, review_model)
    other = [s.classes[(s.given[i] + 1) % 4] for i in range(2)]
    paths = []
    for name, judged in (("bob", {0: s.given_name(0), 1: other[1]}), ("cy", {0: s.given_name(0), 1: s.given_name(1)})):
        journal = RelabelJournal(tmp_path / f"{name}.jsonl", s.dataset)
        for i, to in judged.items():
            journal.set(s.ids[i], to, user=name)
        paths.append(str(journal.path))
    s.relabel(0, other[0])  # you differ from the team on face 0; it is split on face 1
    win.compare_journal(paths)
    text = win.banner.text()
    assert "Compared with bob and cy: Krippendorff's alpha" in text
    assert "for all 3 of you; 1 face splits the team" in text
    assert "You and the team's majority both judged 1 face and agree on 0" in text
    assert win.grid.grid_model.order.tolist() == [0]
    box = win.filter_bar.annotators_box
    box.setCurrentIndex(box.findText("the team is split"))
    assert win.grid.grid_model.order.tolist() == [1]
    win.grid.go_to_row(0)
    assert f"bob: {other[1]}; cy: {s.given_name(1)} (no majority)" in win.detail.info.text()
    # under the matrix: everyone against the others' majority (face 0: bob and cy both say its label, you not)
    about = win.about_scores.text()
    assert "<b>The team</b> (bob, cy and you)" in about and "1 face splits the team" in about
    assert "you 0% of 1, bob 0% of 1, cy 0% of 1" in about  # counted by hand: each differs where the others agree
    s.relabel(0, s.given_name(0))  # you take its label after all: the note follows
    assert "you 100% of 1" in win.about_scores.text()

    assert recent_requests(win.ctx.settings)[0].compare == tuple(paths)
    win.ctx.settings.sync()
    win.close()
    again = make_window()
    with qtbot.waitSignal(again.sessionChanged, timeout=WAIT_MS):
        again.open_dataset(recent_requests(again.ctx.settings)[0])
    assert again.session.other.names() == "bob and cy" and again.session.team_agreement() is not None


def test_the_window_fits_a_laptop_screen(qtbot, make_window, faces_root, review_model, one_torch_thread):  # noqa: F811
    """The docks scroll rather than push the window past a 1280x720 screen (their content once
    made it at least 1454x804)."""
    win = make_window()
    open_data(qtbot, win, faces_root, review_model)
    win.detail.show_sample(0)
    hint = win.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    win.resize(1280, 720)
    qtbot.wait(50)
    assert win.width() <= 1280 and win.height() <= 720
    fresh = ReviewWindow(win.ctx, cache_dir=win.cache_dir)  # no saved layout yet: first run on a larger screen
    qtbot.addWidget(fresh)
    fresh.resize(1600, 1000)
    fresh.show()
    open_data(qtbot, fresh, faces_root, review_model)
    qtbot.wait(50)
    for name, dock in fresh.docks.items():
        assert not dock.widget().horizontalScrollBar().isVisible(), name  # their content once clipped at 1600



def test_a_video_face_shows_its_track_in_frame_order(qtbot, make_window, tmp_path, two_people_bgr,  # noqa: F811
                                                     review_model, one_torch_thread):
    from test_every_face import two_people_clip

    clips = two_people_clip(tmp_path / "clips", two_people_bgr)
    win = make_window()
    with qtbot.waitSignal(win.sessionChanged, timeout=WAIT_MS):
        win.open_dataset(DatasetRequest(str(clips), model=str(review_model), every_face=True))
    s = win.session
    assert len(s) == 8
    i = next(k for k, o in enumerate(s.origins) if o.frame == 20 and o.index == 1)  # frame 20's smaller face
    win.grid.go_to_row(win.grid.grid_model.row_of(i))
    QTest.keyClick(win.grid, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    shown = win.grid.grid_model.order.tolist()
    assert len(shown) == 4 and i in shown and [s.origins[k].frame for k in shown] == [0, 10, 20, 30]
    assert len({s.origins[k].track for k in shown}) == 1
    assert win.filter_bar.title.text() == f"two.avi, track {s.origins[i].track + 1} (4 faces)"
    # the detail shows the face's video frame, boxed, not the crop again
    h, w = two_people_bgr.shape[:2]
    qtbot.waitUntil(lambda: win.detail.original_caption.text() == f"frame {w // 2}×{h // 2}: {s.origins[i].describe()}",
                    timeout=WAIT_MS)
    key(win, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(win, Qt.Key.Key_2)  # one label for the person's whole track
    assert [s.state_of(k) for k in shown] == [s.classes[1]] * 4
