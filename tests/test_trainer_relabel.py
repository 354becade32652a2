"""The relabel journal: last write wins, undo, torn last line, applying it to a SampleSet."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES, UnknownClassError
from trainer.data.relabel import (EXCLUDED, RelabelJournal, apply_relabels, dataset_key,
                                   default_journal_path)
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
    assert first["to"] == "happy" and first["from"] is None and first["user"] == "ann"
    assert isinstance(first["time"], float)
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


def test_a_confirmed_label_counts_apart_and_keeps_its_votes(tmp_path):
    journal = RelabelJournal(tmp_path / "j.jsonl")
    journal.set("b.png", "happy")  # b's own label: checked by a person, kept
    journal.set("c.png", "sad")
    fixed = apply_relabels(_samples(), tmp_path / "j.jsonl")
    assert list(fixed.labels) == [0, 3, 4] and (fixed.meta["relabelled"], fixed.meta["confirmed"]) == (1, 1)
    np.testing.assert_array_equal(fixed.soft_labels[1], np.full(7, 1 / 7, np.float32))  # the crowd's, as it was
    np.testing.assert_array_equal(fixed.soft_labels[2], np.eye(7)[4])


def test_records_keep_from_and_to_and_undo_redo_restore_the_previous_state(tmp_path):
    journal = RelabelJournal(tmp_path / "j.jsonl", dataset="sfew2")
    first = journal.set("a.png", "sad")
    second = journal.set("a.png", "fear", previous="sad")
    assert (second["from"], second["to"], second["dataset"]) == ("sad", "fear", "sfew2")
    journal.undo(second)  # back to "sad", not to "no correction"
    assert journal.state() == {"a.png": "sad"}
    journal.redo(second)
    assert journal.state() == {"a.png": "fear"}
    journal.undo(second)
    journal.undo(first)
    assert journal.state() == {}
    assert [r["op"] for r in journal.records()] == ["set", "set", "undo", "redo", "undo", "undo"]


def test_ids_are_dataset_qualified(tmp_path):
    """One journal over SFEW and FER: a relabel of one dataset's id never hits the other's."""
    path = tmp_path / "j.jsonl"
    RelabelJournal(path, dataset="sfew2").set("Train/Happy/1.png", "sad")
    RelabelJournal(path, dataset="other").set("Train/Happy/1.png", "angry")
    RelabelJournal(path, dataset="fer2013").set("fer2013:0", EXCLUDED)
    sfew = SampleSet(ids=["Train/Happy/1.png"], images=np.zeros((1, 8, 8), np.uint8), labels=np.array([3]),
                     classes=BASIC_CLASSES, name="sfew2/Train", meta={"dataset": "sfew2"})
    fer = SampleSet(ids=["fer2013:0", "fer2013:1"], images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 1]),
                    classes=BASIC_CLASSES, name="fer2013/Training", meta={"dataset": "fer2013"})
    assert list(apply_relabels(sfew, path).labels) == [BASIC_CLASSES.index("sad")]
    fixed = apply_relabels(fer, path)
    assert fixed.ids == ["fer2013:1"] and fixed.meta["excluded"] == 1  # not a face: left out
    # A joined set (FER replayed beside SFEW) keeps each sample's dataset.
    joined = SampleSet.concatenate([sfew, fer], "joined")
    fixed = apply_relabels(joined, path)
    assert fixed.ids == ["Train/Happy/1.png", "fer2013:1"]
    assert list(fixed.labels) == [BASIC_CLASSES.index("sad"), 1]
    assert RelabelJournal(path, dataset="other").current() == {"Train/Happy/1.png": "angry"}


def test_version_1_journals_still_apply_to_every_dataset(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"id": "a.png", "label": "happy", "time": 1.0}\n{"id": "b.png", "label": null}\n')
    records = RelabelJournal(path).records()
    assert records[0]["to"] == "happy" and records[0]["dataset"] is None
    fixed = apply_relabels(_samples(), path, dataset="anything")
    assert list(fixed.labels) == [3, 3, 6]
    # A later qualified record wins over the older unqualified one, and the reverse.
    RelabelJournal(path, dataset="toy").set("a.png", "fear")
    assert RelabelJournal(path, dataset="toy").state() == {"a.png": "fear"}


def test_default_journal_lives_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DESKTOP_HOME", str(tmp_path / "home"))
    data = tmp_path / "read-only" / "sfew2"
    data.mkdir(parents=True)
    path = default_journal_path(data)
    assert path.parent == tmp_path / "home" / "journals" and path.name.startswith("sfew2-")
    other = tmp_path / "elsewhere" / "sfew2"
    other.mkdir(parents=True)
    assert default_journal_path(other) != path  # same name, another dataset: another journal
    assert dataset_key(data) == "sfew2"
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n")
    assert dataset_key(csv) == "fer2013"
