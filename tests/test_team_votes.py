"""A team's journals as votes (trainer.data.team_votes), against counts made by hand, and
training on them through fer-train."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data.relabel import EXCLUDED, RelabelJournal
from trainer.data.samples import DataError, SampleSet

CLASSES = ("happy", "sad", "fear")


def _samples(soft: bool = False) -> SampleSet:
    labels = np.array([0, 0, 1, 2, 1, -1])
    votes = np.array([[8, 2, 0], [10, 0, 0], [0, 6, 4], [1, 1, 8], [0, 10, 0], [0, 0, 0]], np.float32) / 10
    return SampleSet(ids=[f"f{i}" for i in range(6)], images=np.zeros((6, 4, 4), np.uint8), labels=labels,
                     classes=CLASSES, soft_labels=votes if soft else None, name="toy/Train", meta={"dataset": "toy"})


def _team(tmp_path, said: dict[str, dict[str, str]]) -> list:
    paths = []
    for name, judged in said.items():
        journal = RelabelJournal(tmp_path / f"{name}.jsonl", "toy")
        for sample_id, to in judged.items():
            journal.set(sample_id, to, user=name)
        paths.append(journal.path)
    return paths


def test_votes_relabel_by_majority_and_leave_out_what_most_say_is_no_face(tmp_path):
    from trainer.data.team_votes import apply_team_votes, vote_counts

    paths = _team(tmp_path, {"ann": {"f0": "sad", "f1": "sad", "f2": "fear", "f4": EXCLUDED, "f5": "fear"},
                             "bob": {"f0": "sad", "f1": "happy", "f2": "happy", "f4": EXCLUDED, "f3": "contempt"}})
    RelabelJournal(paths[1]).set("f3", "sad", user="ann", op="import")  # taken from ann: not bob's vote
    votes, no_face, judges = vote_counts(_samples(), paths)
    # by hand: the dataset's label one vote, each judgement one more
    assert votes.tolist() == [[1, 2, 0], [2, 1, 0], [1, 1, 1], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert no_face.tolist() == [0, 0, 0, 0, 2, 0] and judges.tolist() == [2, 2, 2, 0, 2, 1]
    out = apply_team_votes(_samples(), paths)
    assert out.ids == ["f0", "f1", "f2", "f3", "f5"]  # f4: 2 of 3 votes say no face
    assert out.labels.tolist() == [1, 0, 1, 2, 2]  # f2's three-way tie keeps the dataset's sad
    assert out.soft_labels[0].tolist() == pytest.approx([1 / 3, 2 / 3, 0])
    assert out.soft_labels[3].tolist() == [0, 0, 1]  # no one judged it: as it was
    assert (out.meta["relabelled"], out.meta["excluded"], out.meta["team_judged"]) == (2, 1, 5)


def test_votes_add_to_a_sets_own_vote_distribution(tmp_path):
    from trainer.data.team_votes import apply_team_votes

    paths = _team(tmp_path, {"ann": {"f0": "sad"}, "bob": {"f0": "sad"}, "cy": {"f2": "fear"}})
    out = apply_team_votes(_samples(soft=True), paths)  # FER+'s ten taggers are one vote: 0.8 happy, 0.2 sad
    assert out.labels[0] == 1 and out.soft_labels[0].tolist() == pytest.approx([0.8 / 3, 2.2 / 3, 0])
    assert out.labels[2] == 2 and out.soft_labels[2].tolist() == pytest.approx([0, 0.6 / 2, 1.4 / 2])
    assert out.soft_labels[1].tolist() == pytest.approx([1, 0, 0])  # unjudged: its own votes
    with pytest.raises(DataError, match="team journal not found"):
        apply_team_votes(_samples(), [tmp_path / "gone.jsonl"])
