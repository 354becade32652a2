"""The app's retraining bookkeeping without Qt: progress from events (curves, ETA), reading a
growing events file, process liveness, the comparison sets a run defaults to, and the
history of models trained here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fer_desktop.model_history import ModelHistory, entry_from_card
from fer_desktop.retrain import EventReader, RunProgress, default_test_spec, format_duration, process_alive, val_spec_of
from trainer.data.synthetic import write_class_folders, write_fer_csv
from trainer.training.progress import (
    BatchEvent,
    DoneEvent,
    EpochEndEvent,
    EpochStartEvent,
    MessageEvent,
    StageEvent,
    event_to_json,
)


def _epoch(n: int, val: float | None = 0.5) -> EpochEndEvent:
    return EpochEndEvent(n, 1e-3, 1.0 / n, 0.4 + 0.1 * n, 2.0, 50.0, val, None)


def test_progress_eta_and_curves():
    p = RunProgress()
    p.add(StageEvent("run", 4), now=0.0)
    p.add(EpochStartEvent(1, 10), now=0.0)
    assert p.eta_seconds(now=0.1) is None  # no rate yet
    p.add(BatchEvent(1, 4, 10, 2.0), now=10.0)  # 5 batches in 10 s
    assert p.batches_done() == 5 and p.batches_total() == 40
    assert p.eta_seconds(now=10.0) == pytest.approx(35 * 2.0)
    p.add(_epoch(1), now=20.0)
    p.add(EpochStartEvent(2, 10), now=20.0)
    p.add(BatchEvent(2, 9, 10, 1.0), now=40.0)
    assert p.batches_done() == 20 and p.eta_seconds(now=40.0) == pytest.approx(20 * 2.0)
    p.add(_epoch(2, None), now=40.0)
    curves = p.curves()
    assert curves["train_loss"] == ([1, 2], [1.0, 0.5])
    assert curves["val_accuracy"] == ([1], [0.5])  # epoch 2 had no validation
    assert curves["batch_loss"] == ([0.5, 2.0], [2.0, 1.0])  # x in fractional epochs
    p.add(DoneEvent("r", True, None, 2), now=41.0)
    assert p.eta_seconds(now=42.0) is None and p.done.interrupted

    # A resume: the rate restarts, the epochs already done stay done; a re-run epoch replaces its row.
    p.add(MessageEvent("resumed"), now=100.0)
    p.add(StageEvent("run", 4), now=100.0)
    p.add(EpochStartEvent(3, 10), now=100.0)
    p.add(BatchEvent(3, 4, 10, 0.5), now=105.0)
    assert p.eta_seconds(now=105.0) == pytest.approx(15 * 1.0)
    p.add(_epoch(2, 0.7), now=106.0)
    assert p.curves()["val_accuracy"] == ([1, 2], [0.5, 0.7])


def test_event_reader_waits_for_whole_lines(tmp_path):
    path = tmp_path / "progress.jsonl"
    reader = EventReader(path)
    assert reader.read() == []  # not there yet
    line = event_to_json(StageEvent("s", 2))
    path.write_text(line[:10])
    assert reader.read() == []
    with open(path, "a") as fh:
        fh.write(line[10:] + "\nnot json\n" + event_to_json(EpochStartEvent(1, 3)) + "\n")
    assert reader.read() == [StageEvent("s", 2), EpochStartEvent(1, 3)]
    assert reader.read() == []


def test_process_alive():
    assert process_alive(os.getpid())
    assert not process_alive(None)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"],
                               stdout=subprocess.PIPE, text=True)
    try:
        sleeper.stdout.readline()  # until it runs its own command line (fork-to-exec is a window under load)
        assert process_alive(sleeper.pid, marker="time.sleep")
        if sys.platform.startswith("linux"):  # the command line tells a reused pid apart
            assert not process_alive(sleeper.pid, marker="something else")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_default_comparison_sets(tmp_path):
    sfew = write_class_folders(tmp_path / "sfew2", 1, splits=["Train", "Val"])
    fer = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 4, "PublicTest": 4, "PrivateTest": 4})
    assert val_spec_of([str(sfew)], None) == f"{sfew}#Val"
    assert val_spec_of([str(fer)], None) == f"{fer}#PublicTest"
    assert val_spec_of([str(sfew)], "x#Y") == "x#Y"
    # SFEW has no test split: the replayed FER-2013's PrivateTest is the untouched set
    assert default_test_spec([str(sfew)], [f"{fer}#Training+PublicTest"], f"{sfew}#Val") == f"{fer}#PrivateTest"
    assert default_test_spec([str(fer)], [], f"{fer}#PublicTest") == f"{fer}#PrivateTest"
    assert default_test_spec([str(sfew)], [], f"{sfew}#Val") is None
    with_test = write_class_folders(tmp_path / "raf", 1, splits=["train", "test"])
    assert default_test_spec([str(with_test)], [], None) == f"{with_test}#test"


def test_format_duration():
    assert [format_duration(s) for s in (None, 4.4, 75, 3725)] == ["—", "4 s", "1 min 15 s", "1 h 02 min"]


def test_model_history(tmp_path):
    history = ModelHistory(tmp_path / "models.json")
    assert history.entries() == []
    for name in ("a", "b"):
        (tmp_path / f"{name}.safetensors").write_bytes(b"x")
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, "metrics": {
            "sfew2/Val": {"accuracy": 0.5, "n": 10}, "odd": "not a metric"}}))
        history.add(entry_from_card(tmp_path / f"{name}.safetensors", base_model="bundled", data="sfew2"))
    assert [e.name for e in history.entries()] == ["b", "a"]  # newest first
    assert history.entries()[0].metrics == {"sfew2/Val": 0.5}
    assert "sfew2/Val 50.0%" in history.entries()[0].label()
    history.add(entry_from_card(tmp_path / "a.json"))  # listed again: moves to the top, not twice
    assert [e.name for e in history.entries()] == ["a", "b"]
    (tmp_path / "b.safetensors").unlink()
    assert [e.exists() for e in history.entries()] == [True, False]
    history.remove(tmp_path / "b.safetensors")
    assert [e.name for e in history.entries()] == ["a"]
    (tmp_path / "models.json").write_text("{broken")
    assert history.entries() == []  # a damaged file is an empty history, not a crash
