"""``--progress json``: every line the writer emits parses back to the event it was made
from (the app reads it with the same parser), and a reader survives lines that are not events."""

from __future__ import annotations

import io

from trainer.training.progress import (
    BatchEvent,
    DoneEvent,
    EpochEndEvent,
    EpochStartEvent,
    EstimateEvent,
    JsonProgress,
    MessageEvent,
    StageEvent,
    event_to_json,
    parse_event,
)


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_each_hook_writes_one_parsable_event():
    out = io.StringIO()
    p = JsonProgress(out, batch_every=2)
    p.stage("retrain", 3)
    p.epoch_start(0, 5)  # the loop counts epochs from 0, events from 1
    for i in range(5):
        p.batch(i, 1.0 / (i + 1))
    p.epoch_end({"epoch": 1, "lr": 1e-3, "train_loss": 0.9, "train_accuracy": 0.5, "seconds": 2.0,
                 "images_per_second": 64.0, "val_accuracy": 0.4, "val_macro_f1": 0.3, "grad_norm": 1.5})
    p.message("hello")
    p.done({"run_dir": "runs/x", "val_accuracy": 0.4, "interrupted": False, "epochs_run": 1,
            "model": "runs/x/model.safetensors"})
    events = [parse_event(line) for line in _lines(out)]
    assert events == [
        StageEvent("retrain", 3),
        EpochStartEvent(1, 5),
        BatchEvent(1, 0, 5, 1.0), BatchEvent(1, 2, 5, 1 / 3), BatchEvent(1, 4, 5, 0.2),  # every 2nd + the last
        EpochEndEvent(1, 1e-3, 0.9, 0.5, 2.0, 64.0, 0.4, 0.3, extra={"grad_norm": 1.5}),
        MessageEvent("hello"),
        DoneEvent("runs/x", False, 0.4, 1, "runs/x/model.safetensors"),
    ]


def test_round_trip_of_every_kind():
    samples = [StageEvent("s", 2), EpochStartEvent(2, 9), BatchEvent(2, 3, 9, 0.25),
               EpochEndEvent(2, 0.1, 0.2, 0.3, 0.4, 0.5), MessageEvent("m"), DoneEvent("d", True),
               EstimateEvent(0.1, 10, 2.0, 3, 9.0, 320, 80, "cpu")]
    for event in samples:
        assert parse_event(event_to_json(event)) == event
        assert parse_event(event_to_json(event).encode()) == event


def test_a_run_without_validation_has_no_val_fields():
    out = io.StringIO()
    JsonProgress(out).epoch_end({"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_accuracy": 0.5,
                                 "seconds": 1.0, "images_per_second": 10.0})
    event = parse_event(_lines(out)[0])
    assert isinstance(event, EpochEndEvent) and event.val_accuracy is None and event.extra == {}


def test_lines_that_are_not_events():
    for line in ("", "   ", "not json", "[1, 2]", '{"no": "event"}', '{"event": "unknown", "x": 1}',
                 '{"event": "batch", "index": 1}',  # required fields missing
                 '{"event": "stage", "name": "x", "epo', b"\xff\xfe"):
        assert parse_event(line) is None, line
