"""Knowledge distillation: a student learns what its teachers know even from labels that say
nothing, and a teacher that cannot serve is refused before training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.classes import BASIC_CLASSES
from trainer.data.samples import SampleSet
from trainer.data.synthetic import pattern_set
from trainer.errors import UsageError
from trainer.training.config import resolve_config
from trainer.training.distill import distillation_loss
from trainer.training.loop import train_stage

TINY = "timm:test_resnet"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _set(n: int, seed: int, name: str, shuffle_labels: bool = False) -> SampleSet:
    images, labels = pattern_set(n, 4, 32, seed)
    if shuffle_labels:  # labels that carry no information about the images
        labels = np.random.default_rng(seed).permutation(labels)
    return SampleSet([f"{name}:{i}" for i in range(n)], images, labels.astype(np.int64), BASIC_CLASSES, name=name)


def _cfg(**kw):
    base = dict(model=TINY, pretrained=False, input_size=32, batch_size=32, epochs=4, seed=3, select="last")
    return resolve_config("modern", **{**base, **kw})


def test_the_loss_is_zero_when_the_student_agrees_and_pulls_it_towards_the_teacher():
    teacher_logits = torch.tensor([[2.0, 0.0, -1.0, 0.5]])
    teacher = torch.softmax(teacher_logits / 3.0, dim=1)
    assert distillation_loss(teacher_logits, teacher, 3.0).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.zeros(1, 4, requires_grad=True)
    distillation_loss(student, teacher, 3.0).backward()
    assert int(torch.argmin(student.grad)) == 0  # a step against the gradient raises the teacher's class


def test_a_student_learns_from_its_teacher_what_its_labels_do_not_say(tmp_path):
    val = _set(160, 2, "val")
    # The teacher learns the task at another input size than the student's (its batch is resized).
    teacher = train_stage(_cfg(input_size=40), _set(320, 1, "train"), val, tmp_path / "teacher", name="teacher")
    assert teacher.metrics["val"]["accuracy"] >= 0.85
    noise = _set(320, 5, "noise", shuffle_labels=True)
    alone = train_stage(_cfg(), noise, val, tmp_path / "alone", name="alone")
    taught = train_stage(_cfg(teachers=[str(tmp_path / "teacher" / "model")], distill_weight=1.0,
                              distill_temperature=2.0), noise, val, tmp_path / "taught", name="taught")
    assert alone.metrics["val"]["accuracy"] < 0.5  # chance is 0.25
    assert taught.metrics["val"]["accuracy"] >= 0.8
    assert taught.card.training["config"]["teachers"] == [str(tmp_path / "teacher" / "model")]


def test_a_teacher_with_other_classes_is_refused_before_training(tmp_path):
    images, labels = pattern_set(64, 3, 32, 1)
    three = SampleSet([str(i) for i in range(64)], images, labels.astype(np.int64), BASIC_CLASSES[:3], name="three")
    train_stage(_cfg(epochs=1), three, None, tmp_path / "teacher", name="teacher")
    with pytest.raises(UsageError, match="teacher .* predicts"):
        train_stage(_cfg(epochs=1, teachers=[str(tmp_path / "teacher" / "model")]), _set(64, 1, "train"), None,
                    tmp_path / "student", name="student")
