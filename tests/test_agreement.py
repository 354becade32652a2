"""Annotators' agreement (trainer.evaluation.agreement) against hand-computed and published values, and
the review session's comparison with another annotator's journal."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.classes import BASIC_CLASSES
from trainer.data.relabel import EXCLUDED
from trainer.data.samples import DataError
from trainer.evaluation.agreement import agreement, describe, judgements


def test_agreement_and_kappa_by_hand():
    # ten faces both judged: 8 alike; each says happy on 5 -> chance agreement 0.5, kappa (0.8 - 0.5) / 0.5
    a = {f"f{i}": "happy" if i < 5 else "sad" for i in range(10)}
    b = {**a, "f4": "sad", "f9": "happy"}
    a["only-a"] = "fear"
    b["only-b"] = "angry"
    b["other-set"] = "contempt"  # no class of these: as if not given
    r = agreement(a, b, BASIC_CLASSES)
    assert (r.both, r.agree, r.only_a, r.only_b) == (10, 8, ("only-a",), ("only-b",))
    assert r.rate == pytest.approx(0.8) and r.kappa == pytest.approx(0.6)
    assert r.disagreeing == ("f4", "f9")
    assert r.categories == BASIC_CLASSES  # nobody said "not a face": no such row
    assert sorted(r.most_confused()) == [("happy", "sad", 1), ("sad", "happy", 1)]
    assert describe(r, "you", "bob").startswith("you and bob both judged 10 faces and agree on 8 (80.0%, "
                                                 "Cohen's kappa 0.60); most often you said ")


def test_not_a_face_is_a_judgement_and_one_category_has_no_kappa():
    r = agreement({"x": EXCLUDED, "y": "sad"}, {"x": "sad", "y": "sad"}, BASIC_CLASSES)
    assert r.categories[-1] == EXCLUDED and r.confusion[-1, BASIC_CLASSES.index("sad")] == 1
    assert "you said not a face where they said sad (1)" in describe(r)
    same = agreement({"x": "sad"}, {"x": "sad"}, BASIC_CLASSES)
    assert same.kappa is None and same.rate == 1.0  # kappa is undefined with one category in use
    assert "agree on 1 (100.0%)" in describe(same)
    assert describe(agreement({}, {"x": "sad"}, BASIC_CLASSES)) == "you and they have judged no face in common yet"


def test_withdrawn_faces_are_not_judged():
    latest = {"a": {"to": "sad"}, "b": {"to": None}, "c": {"to": EXCLUDED}}
    assert judgements(latest) == {"a": "sad", "c": EXCLUDED}


def test_the_review_compares_a_journal_without_taking_it(tmp_path):
    from test_review import ann_and_bob  # the same small data (labels: index % 4)

    mine, bob = ann_and_bob(tmp_path)
    mine.relabel("s01", "sad")      # both: differ
    bob.relabel("s01", "angry")
    mine.relabel("s02", "fear")     # both: alike (ann confirms the given fear, bob too)
    bob.relabel("s02", "fear")
    bob.exclude("s03")              # bob only
    mine.relabel("s04", "happy")    # ann only
    mine.relabel("s06", "angry")    # ann, then withdrawn: not a judgement
    mine.withdraw("s06")
    bob.relabel("s06", "angry")
    bob.journal.set("s07", "contempt", user="bob")  # not one of this data's classes: not counted, not shown
    mine.relabel("s07", "sad")
    result = mine.compare_journal(bob.journal.path)
    assert (result.both, result.agree, len(result.only_a), len(result.only_b)) == (2, 1, 2, 2)
    assert mine.state_of(3) is None  # nothing taken
    assert np.flatnonzero(mine.annotators("disagree")).tolist() == [1]
    assert np.flatnonzero(mine.annotators("agree")).tolist() == [2]
    assert np.flatnonzero(mine.annotators("theirs")).tolist() == [3, 6]
    assert mine.their_judgement(3).startswith("bob: not a face, 20") and mine.their_judgement(4) is None
    from fer_desktop.review import Filter

    assert mine.view(Filter(annotators="disagree"), sort="id").tolist() == [1]
    # (sad, fear) against (angry, fear): 1/2 alike, chance 1/4 (fear on half of each side): kappa 1/3
    assert "you and bob agree on 1 of 2, kappa 0.33)" in mine.summary()["headline"]
    mine.relabel("s01", "angry")  # settled: ann takes bob's
    assert mine.agreement().agree == 2 and not mine.annotators("disagree").any()
    assert "you and bob agree on 2 of 2, kappa 1.00" in mine.summary()["headline"]
    # what ann takes from bob by Import is not her judgement: the comparison still sees hers
    mine.relabel("s04", "sad")
    bob.relabel("s04", "surprise")
    mine.import_journal(bob.journal.path)
    mine.compare_journal(bob.journal.path)  # read again: bob has judged s04 since
    assert mine.state_of(4) == "surprise" and mine.annotators("disagree")[4]
    [taken] = mine.take_theirs([4])  # the label is bob's already, by import: taking it is ann's judgement now
    assert (taken["to"], taken["user"], taken["op"]) == ("surprise", "ann", "set") and not mine.annotators("disagree")[4]
    assert mine.take_theirs([4]) == [] and mine.relabel(4, "surprise") is None  # and only once
    import csv

    from fer_desktop.review_io import export_csv

    rows = {r["id"]: r for r in csv.DictReader(open(export_csv(mine, tmp_path / "ranked.csv"), encoding="utf-8"))}
    assert (rows["s03"]["compared"], rows["s04"]["compared"], rows["s05"]["compared"]) == (EXCLUDED, "surprise", "")
    with pytest.raises(DataError, match="no such journal"):
        mine.compare_journal(tmp_path / "gone.jsonl")
    (tmp_path / "notes.csv").write_text("id,label\ns01,happy\n")
    with pytest.raises(DataError, match="no labels for small in it"):
        mine.compare_journal(tmp_path / "notes.csv")


def test_a_compared_team_judges_by_majority(tmp_path):
    """Three journals compared at once: a face's judgement is the majority of those who judged
    it; split faces have none (and a filter); T takes the majority; everyone's alpha includes
    you; the detail lists each member."""
    from test_review import small_session

    from fer_desktop.review import Filter
    from trainer.data.relabel import RelabelJournal
    from trainer.evaluation.agreement import krippendorff_alpha

    mine = small_session(tmp_path)
    mine.user = "ann"
    said = {"bob": {"s00": "angry", "s01": "sad", "s02": "fear", "s03": "happy"},
            "cy": {"s00": "angry", "s01": "happy", "s02": "surprise"},
            "dee": {"s00": "disgust", "s01": "sad", "s02": "neutral", "s04": EXCLUDED}}
    paths = []
    for name, judged in said.items():
        journal = RelabelJournal(tmp_path / f"{name}.jsonl", mine.dataset)
        for sample_id, to in judged.items():
            journal.set(sample_id, to, user=name)
        paths.append(journal.path)
    mine.relabel("s00", "angry")
    mine.relabel("s01", "happy")
    result = mine.compare_journals(paths)
    team = mine.other
    assert team.team and team.name == "the team" and team.names() == "bob, cy and dee"
    assert team.judgements == {"s00": "angry", "s01": "sad", "s03": "happy", "s04": EXCLUDED}
    assert team.split == {"s02"}  # fear, surprise, neutral: no majority
    assert (result.both, result.agree) == (2, 1)  # you against the majority: s00 alike, s01 not
    assert np.flatnonzero(mine.annotators("split")).tolist() == [2]
    assert mine.view(Filter(annotators="split"), sort="id").tolist() == [2]
    assert mine.their_judgement(1) == "bob: sad; cy: happy; dee: sad (majority sad)"
    assert mine.their_judgement(2) == "bob: fear; cy: surprise; dee: neutral (no majority)"
    # everyone, you included, on their own: alpha from the votes counted here by hand
    votes = np.zeros((5, 8), np.int64)  # s00..s04 over the 7 classes and "not a face"
    classes = list(mine.classes) + [EXCLUDED]
    for judged in [{"s00": "angry", "s01": "happy"}, *said.values()]:
        for sample_id, to in judged.items():
            votes[int(sample_id[1:]), classes.index(to)] += 1
    everyone = mine.team_agreement()
    assert everyone.annotators == ("you", "bob", "cy", "dee")
    assert everyone.alpha == pytest.approx(krippendorff_alpha(votes))
    assert f"the team's alpha {everyone.alpha:.2f}" in mine.summary()["headline"]
    [taken] = mine.take_theirs([1, 2])  # s02 has no majority: nothing to take
    assert taken["id"] == "s01" and mine.state_of(1) == "sad" and mine.state_of(2) is None
    assert mine.team_agreement().pairs[("you", "bob")].agree == 2  # settled: recomputed
    with pytest.raises(DataError, match="the same journal chosen twice"):
        mine.compare_journals([paths[0], paths[0]])
    mine.stop_comparing()
    assert mine.other is None and mine.team_agreement() is None and mine.their_judgement(1) is None


def test_fer_train_agreement_from_two_journals(tmp_path, capsys):
    import json

    from trainer.cli import main
    from trainer.data.relabel import RelabelJournal

    ann, bob = RelabelJournal(tmp_path / "ann.jsonl", "sfew2"), RelabelJournal(tmp_path / "bob.jsonl", "sfew2")
    for i in range(10):  # the by-hand case above: 8 of 10 alike, kappa 0.6
        ann.set(f"f{i}", "happy" if i < 5 else "sad", user="ann")
        bob.set(f"f{i}", {4: "sad", 9: "happy"}.get(i, "happy" if i < 5 else "sad"), user="bob")
    bob.set("f0", "happy", user="ann", op="import")  # taken from ann: not bob's judgement ...
    bob.set("f1", "contempt", user="bob")  # ... this is, in a class ann's data lacks
    assert main(["agreement", str(tmp_path / "ann.jsonl"), str(tmp_path / "bob.jsonl"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["both"], out["agree"], out["dataset"]) == (10, 7, "sfew2")  # contempt counts as a class ...
    assert main(["agreement", str(tmp_path / "ann.jsonl"), str(tmp_path / "bob.jsonl"), "--json",
                 "--classes", "happy,sad"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["both"], out["agree"], out["kappa"]) == (9, 7, pytest.approx(1 - 2 / 9 / (1 - 41 / 81)))  # ... or not
    assert {d["id"] for d in out["disagreeing"]} == {"f4", "f9"}
    RelabelJournal(tmp_path / "ann.jsonl", "fer2013").set("fer2013:1", "sad")
    assert main(["agreement", str(tmp_path / "ann.jsonl"), str(tmp_path / "bob.jsonl")]) == 2
    assert "holds labels for 2 datasets (fer2013, sfew2): name one with --dataset" in capsys.readouterr().err
    assert main(["agreement", str(tmp_path / "ann.jsonl"), str(tmp_path / "bob.jsonl"), "--dataset", "sfew2"]) == 0
    text = capsys.readouterr().out  # the fer2013 face is another dataset's: not counted
    assert text.startswith("ann and bob both judged 10 faces and agree on 7 (70.0%, Cohen's kappa 0.45)")
    assert text.splitlines()[-1] == "f9: sad / happy"


def test_krippendorffs_alpha_is_the_published_value():
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four
    observers, twelve units, some values missing; nominal alpha 0.743."""
    from trainer.evaluation.agreement import krippendorff_alpha

    observers = ["1 2 3 3 2 1 4 1 2 . . .", "1 2 3 3 2 2 4 1 2 5 . 3", ". 3 3 3 2 3 4 2 2 5 1 .",
                 "1 2 3 3 2 4 4 1 2 5 1 ."]
    votes = np.zeros((12, 5), np.int64)
    for row in observers:
        for unit, value in enumerate(row.split()):
            if value != ".":
                votes[unit, int(value) - 1] += 1
    assert krippendorff_alpha(votes) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(votes[:, :1][:0]) is None  # nothing pairable
    assert krippendorff_alpha(np.array([[3, 0], [2, 0]])) is None  # one value only: undefined
    assert krippendorff_alpha(np.array([[3, 0], [0, 2], [1, 0]])) == 1.0  # the lone value pairs with nothing


def test_coefficients_never_read_minus_zero():
    from trainer.evaluation.agreement import coefficient

    assert [coefficient(v) for v in (-0.004, 0.0, 0.615, -0.22, 1.0)] == ["0.00", "0.00", "0.61", "-0.22", "1.00"]


def test_a_team_of_three_has_a_consensus_where_most_agree():
    from trainer.evaluation.agreement import team_agreement

    ann = {"a": "happy", "b": "sad", "c": "sad", "d": "happy", "e": "fear"}
    bob = {"a": "happy", "b": "sad", "c": "happy", "d": EXCLUDED, "x": "sad"}
    cy = {"a": "sad", "b": "sad", "c": "fear", "e": "fear", "y": "contempt"}  # contempt: not a class here
    team = team_agreement({"ann": ann, "bob": bob, "cy": cy}, ["happy", "sad", "fear"])
    assert team.ids == ("a", "b", "c", "d", "e", "x") and team.judges.tolist() == [3, 3, 3, 2, 2, 1]
    assert team.consensus() == {"a": "happy", "b": "sad", "e": "fear"}  # c: split three ways, d: one each
    assert team.undecided() == ("c", "d") and team.consensus(min_judges=1)["x"] == "sad"
    assert team.consensus(min_judges=3) == {"a": "happy", "b": "sad"}
    assert set(team.pairs) == {("ann", "bob"), ("ann", "cy"), ("bob", "cy")}
    assert (team.pairs[("ann", "bob")].both, team.pairs[("ann", "bob")].agree) == (4, 2)
    assert team.alpha is not None and -1 < team.alpha < 1
    # each against the others' majority, counted by hand: ann is compared on b, d, e (a and c tie)
    assert team.with_the_others() == {"ann": (2, 3), "bob": (1, 2), "cy": (2, 3)}


def test_fer_train_agreement_of_three_writes_the_consensus_a_review_imports(tmp_path, capsys):
    import json

    from test_review import small_session

    from trainer.cli import main
    from trainer.data.relabel import RelabelJournal

    session = small_session(tmp_path / "lead")
    ids, classes = session.ids, session.classes
    paths = []
    for name, picks in (("ann", (0, 0, 1, 2)), ("bob", (0, 1, 1, 3)), ("cy", (0, 2, 3, 3))):
        journal = RelabelJournal(tmp_path / f"{name}.jsonl", session.dataset)
        for face, k in enumerate(picks):
            journal.set(ids[face], classes[k], user=name)
        paths.append(str(journal.path))
    out = tmp_path / "team" / "consensus.jsonl"
    assert main(["agreement", *paths, "--consensus", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["annotators"] == ["ann", "bob", "cy"] and result["consensus"] == 3
    assert [d["id"] for d in result["undecided"]] == [ids[1]]  # 0, 1, 2: no majority
    assert result["undecided"][0]["votes"] == {classes[0]: 1, classes[1]: 1, classes[2]: 1}
    assert {r["user"] for r in RelabelJournal(out).records()} == {"consensus"}
    records, counts = session.import_journal(out)
    assert counts["taken"] == 3 and [session.state_of(f) for f in (0, 1, 2, 3)] == \
        [classes[0], None, classes[1], classes[3]]
    assert main(["agreement", *paths, "--consensus", str(out)]) == 2  # never appended to
    assert "exists: a consensus goes to a new journal" in capsys.readouterr().err
    assert main(["agreement", *paths]) == 0
    text = capsys.readouterr().out
    assert text.startswith("3 annotators judged 4 faces, 4 of them by two or more: Krippendorff's alpha")
    assert "no majority: 1" in text
    assert text.rstrip().endswith(f"{ids[1]}: {classes[0]} 1, {classes[1]} 1, {classes[2]} 1")
    assert main(["agreement", paths[0], paths[0]]) == 2 and "named twice" in capsys.readouterr().err


def test_a_hostile_journal_is_read_without_a_crash(tmp_path):
    """Another annotator's file is a user's input: records with impossible times, wrong types or
    unknown ops are skipped or tamed, and every face's detail can still be shown."""
    from test_review import small_session

    from trainer.cli import main

    lines = ['{"v": 2, "id": "s01", "to": "sad", "time": NaN, "user": "bob"}',
             '{"v": 2, "id": "s02", "to": "angry", "time": 1e300, "user": "bob"}',
             '{"v": 2, "id": "s03", "to": "happy", "time": true, "user": 5, "op": "rm -rf"}',
             '{"v": 2, "id": "s04", "to": "fear", "time": -1e20}',
             '{"v": 2, "id": "s05", "to": 5}', '{"v": 2, "id": ["s06"], "to": "sad"}', '{"id": "s07", "label": {}}',
             '[' * 5000 + ']' * 5000, '{"v": 2, "id": "s08", "to": "not-a-face", "dataset": 3}', "\xff\xfe"]
    theirs = tmp_path / "bob.jsonl"
    theirs.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    mine = small_session(tmp_path)
    result = mine.compare_journal(theirs)
    assert set(mine.other.judgements) == {"s01", "s02", "s03", "s04"}
    assert result.both == 0
    details = [mine.their_judgement(i) for i in range(len(mine))]
    assert details[1:5] == ["bob: sad", "bob: angry", "bob: happy", "bob: fear"]  # no impossible time shown
    records, counts = mine.import_journal(theirs)
    assert counts["taken"] == 4 and all(mine.last_change(i) is not None for i in range(1, 5))
    assert main(["agreement", str(tmp_path / "journal.jsonl"), str(theirs)]) == 2  # what ann took is not hers
    mine.relabel("s01", "happy")
    assert main(["agreement", str(tmp_path / "journal.jsonl"), str(theirs)]) == 0
