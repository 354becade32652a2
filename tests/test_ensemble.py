"""Ensembles (``fer-train merge --ensemble``): one model file whose probabilities are the mean of
its members', the same through ONNX Runtime and PyTorch, with the members' embeddings side by
side; float16 storage; members that read faces differently refused; trainable like any model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from trainer import cli
from trainer.classes import BASIC_CLASSES
from trainer.inference.backends import onnxruntime_installed, predict_probs
from trainer.inference.predictor import Predictor
from trainer.models import ModelCard, create_model, load_model, save_model
from trainer.models.card import ModelLoadError, model_paths, read_card
from trainer.models.registry import classifier_of

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 64


def _member(tmp_path, name: str, seed: int, **card_fields) -> None:
    """A random Lite0 whose head is scaled up, so members disagree and are sure of themselves
    (near-uniform outputs would make any average look right)."""
    torch.manual_seed(seed)
    model, _ = create_model("efficientnet-lite0", len(BASIC_CLASSES), pretrained=False)
    with torch.no_grad():
        classifier_of(model).weight.mul_(40)
    fields = dict(name=name, backbone="efficientnet-lite0", classes=list(BASIC_CLASSES), input_size=SIZE,
                  mean=[0.5], std=[0.5], preprocessing={"faces": "align", "grey": True, "crop_size": SIZE})
    save_model(model, ModelCard(**{**fields, **card_fields}), tmp_path / name)


def _faces(astronaut_bgr) -> list[np.ndarray]:
    grey = astronaut_bgr.mean(axis=2).astype(np.uint8)
    face = grey[20:220, 150:320]  # Eileen Collins' face, roughly
    return [face, face[:, ::-1].copy(), (face * 0.6).astype(np.uint8), grey[200:400, 0:170], grey[300:500, 300:470]]


def _ensemble(tmp_path, *extra: str) -> list[str]:
    _member(tmp_path, "a", 0)
    _member(tmp_path, "b", 1)
    args = ["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--ensemble", "--out", str(tmp_path / "e"), *extra]
    assert cli.main(args) == 0
    return args


@pytest.mark.skipif(not onnxruntime_installed(), reason="onnxruntime is not installed")
def test_an_ensemble_predicts_the_mean_of_its_members_on_both_back_ends(tmp_path, astronaut_bgr):
    _ensemble(tmp_path)
    faces = _faces(astronaut_bgr)
    members = [Predictor.from_path(tmp_path / n, backend="torch", device="cpu") for n in "ab"]
    a, b = (m.predict_crops(faces, tta_flip=False) for m in members)
    assert np.abs(a - b).max() > 0.2  # the members disagree: a wrong average cannot pass
    for backend in ("onnx", "torch"):
        ensemble = Predictor.from_path(tmp_path / "e", backend=backend, device="cpu")
        assert ensemble.card.members == 2
        for tta in (False, True):
            expected = (members[0].predict_crops(faces, tta_flip=tta) + members[1].predict_crops(faces, tta_flip=tta)) / 2
            assert np.abs(ensemble.predict_crops(faces, tta_flip=tta) - expected).max() <= 1e-4, (backend, tta)
        # The embedding the review's label-quality head reads: each member's, side by side.
        batch = ensemble.to_batch(faces)
        _, emb = predict_probs(ensemble.classifier, batch, False, embeddings=True)
        _, first = predict_probs(members[0].classifier, batch, False, embeddings=True)
        _, second = predict_probs(members[1].classifier, batch, False, embeddings=True)
        assert emb.shape == (len(faces), first.shape[1] + second.shape[1])
        assert np.abs(emb - np.concatenate([first, second], axis=1)).max() <= 1e-3 * np.abs(first).max()


def test_half_storage_halves_the_file_and_keeps_the_answers(tmp_path, astronaut_bgr):
    _ensemble(tmp_path)
    assert cli.main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--ensemble", "--half",
                     "--out", str(tmp_path / "h")]) == 0
    full, half = (model_paths(tmp_path / n)[0] for n in "eh")
    assert half.stat().st_size < 0.55 * full.stat().st_size
    assert {t.dtype for t in load_file(str(half)).values() if t.is_floating_point()} == {torch.float16}
    assert read_card(tmp_path / "h").provenance["stored_as"] == "float16"
    assert read_card(tmp_path / "h").name == "h"
    (tmp_path / "soup").mkdir()
    assert cli.main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "soup" / "model")]) == 0
    assert read_card(tmp_path / "soup" / "model").name == "soup"  # the folder names it, not "model"
    faces = _faces(astronaut_bgr)
    p_full, p_half = (Predictor.from_path(tmp_path / n, backend="torch", device="cpu").predict_crops(faces)
                      for n in "eh")
    assert np.abs(p_full - p_half).max() < 0.02  # float16 keeps about three significant digits


def test_members_that_read_faces_differently_are_refused(tmp_path, capsys):
    _member(tmp_path, "a", 0)
    _member(tmp_path, "b", 1, input_size=96)
    assert cli.main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--ensemble",
                     "--out", str(tmp_path / "e")]) == 2
    assert "differ in input_size" in capsys.readouterr().err
    assert not model_paths(tmp_path / "e")[0].exists()


def test_an_ensemble_is_named_as_members_not_nested(tmp_path, capsys):
    _ensemble(tmp_path)
    assert cli.main(["merge", str(tmp_path / "e"), str(tmp_path / "a"), "--ensemble",
                     "--out", str(tmp_path / "f")]) == 2
    assert "already an ensemble of 2" in capsys.readouterr().err


def test_a_card_whose_member_count_disagrees_with_its_weights_is_refused(tmp_path):
    _ensemble(tmp_path)
    card_path = model_paths(tmp_path / "e")[1]
    for count, message in ((3, "missing members.2"), (1, "unexpected members.0"), (9, "members")):
        card_path.write_text(card_path.read_text().replace('"members": 2', f'"members": {count}'))
        with pytest.raises(ModelLoadError, match=message):
            load_model(tmp_path / "e")
        card_path.write_text(card_path.read_text().replace(f'"members": {count}', '"members": 2'))
    load_model(tmp_path / "e")


def test_a_classifier_only_stage_from_an_ensemble_trains_every_head_and_stays_one(tmp_path):
    from trainer.data.samples import SampleSet
    from trainer.data.synthetic import pattern_set
    from trainer.training.config import resolve_config
    from trainer.training.loop import train_stage

    images, labels = pattern_set(96, 4, 32, 1)
    train = SampleSet([f"t:{i}" for i in range(96)], images, labels.astype(np.int64), BASIC_CLASSES, name="t")
    for seed, name in enumerate("ab"):
        torch.manual_seed(seed)
        model, _ = create_model("timm:test_resnet", len(BASIC_CLASSES), pretrained=False)
        save_model(model, ModelCard(name=name, backbone="timm:test_resnet", classes=list(BASIC_CLASSES),
                                    input_size=32, mean=[0.5], std=[0.5]), tmp_path / name)
    assert cli.main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--ensemble", "--out", str(tmp_path / "e")]) == 0
    cfg = resolve_config("modern", model="timm:test_resnet", pretrained=False, input_size=32, batch_size=32, epochs=1,
                         seed=3, freeze_backbone=True, init_from=str(tmp_path / "e"))
    result = train_stage(cfg, train, None, tmp_path / "run")
    assert result.card.members == 2
    before = load_file(str(model_paths(tmp_path / "e")[0]))
    after = load_file(str(tmp_path / "run" / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {f"members.{m}.fc.{p}" for m in (0, 1) for p in ("weight", "bias")}
    load_model(tmp_path / "run" / "model")
