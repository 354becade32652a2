"""``fer-train report``: mean and spread over finished runs, checked against hand values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer import cli


def _run(folder: Path, accuracy: float, disgust_recall: float | None) -> Path:
    folder.mkdir(parents=True)
    val = {"accuracy": accuracy, "macro_f1": accuracy / 2, "name": "sfew2/Val",
           "per_class_recall": {"happy": 0.9, "disgust": disgust_recall}}
    (folder / "metrics.json").write_text(json.dumps({"val": val, "history": []}))
    return folder


def test_report_mean_and_sample_std(tmp_path, capsys):
    runs = [_run(tmp_path / "s0", 0.50, 0.0), _run(tmp_path / "s1", 0.52, None), _run(tmp_path / "s2", 0.54, 0.3)]
    assert cli.main(["report", *map(str, runs), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3
    assert out["accuracy_mean"] == pytest.approx(0.52)
    assert out["accuracy_std"] == pytest.approx(0.02)  # sqrt(((-.02)^2 + 0 + .02^2) / 2)
    assert (out["accuracy_min"], out["accuracy_max"]) == (0.50, 0.54)
    assert out["per_class_recall_mean"]["disgust"] == pytest.approx(0.1)  # a class never seen counts 0


def test_report_finds_a_cascades_last_stage(tmp_path, capsys):
    _run(tmp_path / "cascade" / "1-fer32", 0.60, 0.1)
    _run(tmp_path / "cascade" / "2-sfew", 0.45, 0.2)
    assert cli.main(["report", str(tmp_path / "cascade")]) == 0
    assert "accuracy 0.4500" in capsys.readouterr().out


def test_report_on_an_unfinished_run_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["report", str(tmp_path / "empty")]) == 2
    assert "no metrics.json" in capsys.readouterr().err
