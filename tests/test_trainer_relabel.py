"""The relabel journal: last write wins, undo, torn last line, applying it to a SampleSet."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES, UnknownClassError
from trainer.data.relabel import RelabelJournal, apply_relabels
from trainer.data.samples import SampleSet


def _samples() -> SampleSet:
    return SampleSet(ids=["a.png", "b.png", "c.png"], images=np.zeros((3, 8, 8), np.uint8),
                     labels=np.array([0, 3, 6]), classes=BASIC_CLASSES,
                     soft_labels=np.full((3, 7), 1 / 7, dtype=np.float32), name="toy")


def test_last_write_wins_and_undo(tmp_path):
    journal = RelabelJournal(tmp_path / "sub" / "relabels.jsonl")
    assert journal.current() == {}
    journal.set("a.png", "Happiness", user="ann")  # spellings are canonicalised
    journal.set("b.png", "sad")
    journal.set("a.png", "surprise")
    journal.undo("b.png")
    assert journal.current() == {"a.png": "surprise"}
    first = json.loads((tmp_path / "sub" / "relabels.jsonl").read_text().splitlines()[0])
    assert first["label"] == "happy" and first["user"] == "ann" and isinstance(first["time"], float)
    with pytest.raises(UnknownClassError):
        journal.set("a.png", "grumpy")


def test_torn_last_line_is_skipped_and_the_next_append_survives(tmp_path, caplog):
    path = tmp_path / "relabels.jsonl"
    journal = RelabelJournal(path)
    journal.set("a.png", "happy")
    with open(path, "ab") as fh:
        fh.write(b'{"id": "b.png", "label": "s')  # a crash in the middle of a write
    with caplog.at_level(logging.WARNING):
        assert journal.current() == {"a.png": "happy"}
    assert "malformed" in caplog.text
    journal.set("c.png", "fear")  # must not be glued onto the torn line
    assert journal.current() == {"a.png": "happy", "c.png": "fear"}


def test_apply_relabels(tmp_path):
    journal = RelabelJournal(tmp_path / "j.jsonl")
    journal.set("a.png", "happy")
    journal.set("c.png", "angry")
    journal.set("c.png", None)  # withdrawn: the dataset's own label applies again
    journal.set("zzz.png", "sad")  # another split's sample
    journal.set("b.png", "contempt")  # not a class of this set: ignored with a warning
    original = _samples()
    fixed = apply_relabels(original, tmp_path / "j.jsonl")
    assert list(fixed.labels) == [3, 3, 6]
    np.testing.assert_array_equal(fixed.soft_labels[0], np.eye(7)[3])  # the user overrides the votes
    assert list(original.labels) == [0, 3, 6]  # the source is untouched
    assert fixed.meta["relabelled"] == 1
