"""A model as ONNX, for ONNX Runtime, OpenCV's dnn module or a phone, checked against torch.

The graph is the network as the app uses it: normalised grey face crops (N, 1, S, S) in,
class probabilities (N, C) out (softmax inside; optionally averaged with the mirror image).
Its card, beside the .onnx file, says how a face becomes that input and records the opset
and the check: the largest difference of probabilities from torch's on real faces."""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from trainer.errors import UserError

DEFAULT_OPSET = 17
TOLERANCE = 1e-4  # largest allowed |p_onnx - p_torch| over all faces and classes
RUNTIMES = ("onnxruntime", "opencv")


class ExportError(UserError, RuntimeError):
    """An export that cannot be made or checked here (a missing package, a bad option)."""


class ProbabilityHead(nn.Module):
    """The classifier as the app runs it: (N, 1, S, S) normalised grey -> (N, C) probabilities."""

    def __init__(self, model: nn.Module, input_size: int, tta_flip: bool = False) -> None:
        super().__init__()
        self.model = model
        self.tta_flip = tta_flip
        # The mirror image as a Gather with constant indices: a negative-step Slice (what
        # torch.flip becomes) is one OpenCV's dnn module computes wrongly.
        self.register_buffer("mirror", torch.arange(input_size - 1, -1, -1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, x, x], dim=1)  # grey -> the backbone's three channels (a Concat: every runtime has it)
        probs = self.model(x).softmax(dim=1)
        if self.tta_flip:
            probs = (probs + self.model(x.index_select(3, self.mirror)).softmax(dim=1)) / 2
        return probs


class ProbabilitiesAndEmbedding(nn.Module):
    """The app's inference graph: (N, 1, S, S) normalised grey -> class probabilities and the
    embedding the classifier layer sees (for the review workspace's label-quality head; an
    ensemble's members' side by side). No mirror inside: the caller puts mirror images in the
    same batch."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from trainer.models.registry import captured_embeddings

        with captured_embeddings(self.model) as embedding:
            logits = self.model(torch.cat([x, x, x], dim=1))
            return logits.softmax(dim=1), embedding()


def _padded_conv(conv: nn.Conv2d, pad: Sequence[int]) -> nn.Sequential:
    """A TF-"same" convolution as a fixed zero padding and a plain convolution."""
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
                      conv.groups, conv.bias is not None)
    plain.load_state_dict(conv.state_dict())
    return nn.Sequential(nn.ZeroPad2d(tuple(int(p) for p in pad)), plain)


def fix_same_padding(model: nn.Module, input_size: int) -> nn.Module:
    """A copy of ``model`` whose TF-"same" convolutions (timm's Conv2dSame, as in
    EfficientNet-Lite) pad by constants for ``input_size``: computed at run time, the padding
    becomes Shape/Ceil/Clip/Pad nodes that OpenCV's importer cannot read."""
    try:
        from timm.layers.conv2d_same import Conv2dSame
        from timm.layers.padding import pad_same_arg
    except ImportError:  # no timm: no Conv2dSame either
        return model
    model = copy.deepcopy(model).eval()
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [m.register_forward_pre_hook(lambda _m, inputs, name=name: sizes.__setitem__(name, tuple(inputs[0].shape[-2:])))
             for name, m in model.named_modules() if isinstance(m, Conv2dSame)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in hooks:
            h.remove()
    for name, size in sizes.items():
        conv = model.get_submodule(name)
        pad = pad_same_arg(list(size), list(conv.weight.shape[-2:]), list(conv.stride), list(conv.dilation))
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, _padded_conv(conv, pad))
    return model


def _write(head: nn.Module, input_size: int, out: Path, outputs: Sequence[str], opset: int) -> None:
    """One self-contained file with a dynamic batch axis on the input and every output."""
    import warnings

    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript-based exporter: one file with the weights inside, any opset from 9;
        # torch marks it deprecated in favour of the dynamo exporter (opset 18+, weights beside).
        warnings.simplefilter("ignore")
        torch.onnx.export(head, (torch.zeros(2, 1, input_size, input_size),), str(out), input_names=["input"],
                          output_names=list(outputs), opset_version=opset,
                          dynamic_axes={name: {0: "batch"} for name in ("input", *outputs)},
                          do_constant_folding=True, dynamo=False)


def export_onnx(model: nn.Module, input_size: int, out: Path, *, opset: int = DEFAULT_OPSET,
                tta_flip: bool = False) -> ProbabilityHead:
    """Write ``out`` (output ``probs``) for others to run; returns the torch module that was
    exported, for the check."""
    head = ProbabilityHead(fix_same_padding(model.eval(), input_size), input_size, tta_flip).eval()
    _write(head, input_size, out, ["probs"], opset)
    return head


def export_runtime_onnx(model: nn.Module, input_size: int, out: Path, *, opset: int = DEFAULT_OPSET) -> nn.Module:
    """Write the graph the app runs in ONNX Runtime (outputs ``probs`` and ``embedding``);
    returns the torch module that was exported, for the check."""
    head = ProbabilitiesAndEmbedding(fix_same_padding(model.eval(), input_size)).eval()
    _write(head, input_size, out, ["probs", "embedding"], opset)
    return head


@dataclass
class CheckResult:
    runtime: str
    faces: int
    max_abs_diff: float
    tolerance: float
    passed: bool
    ms_per_face: float


def run_onnx(path: Path, x: np.ndarray, runtime: str) -> tuple[np.ndarray, np.ndarray, str, float]:
    """Probabilities from ``runtime`` ("onnxruntime" or "opencv") as one batch and one face at
    a time (the batch axis is checked too); also the runtime's name and version, and the
    milliseconds a face took one at a time (after a first, warm-up face)."""
    if runtime == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            raise ExportError("onnxruntime is not installed: pip install onnxruntime "
                              "(or check with --runtime opencv)") from None
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        batch = session.run(None, {"input": x})[0]
        start = time.perf_counter()
        single = np.concatenate([session.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
        ms = (time.perf_counter() - start) * 1000 / len(x)
        name = f"onnxruntime {ort.__version__}"
    elif runtime == "opencv":
        import cv2

        net = cv2.dnn.readNetFromONNX(str(path))
        net.setInput(x)
        batch = net.forward()
        start = time.perf_counter()
        single = []
        for i in range(len(x)):
            net.setInput(x[i:i + 1])
            single.append(net.forward())
        ms = (time.perf_counter() - start) * 1000 / len(x)
        single = np.concatenate(single)
        name = f"opencv dnn {cv2.__version__}"
    else:
        raise ExportError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
    return batch, single, name, ms


def check_onnx(path: Path, head: nn.Module, inputs: np.ndarray, runtime: str,
               tolerance: float = TOLERANCE) -> CheckResult:
    """The ONNX model against torch on ``inputs`` (N, 1, S, S) float32, normalised."""
    with torch.no_grad():
        expected = head(torch.from_numpy(inputs)).numpy()
    batch, single, name, ms = run_onnx(path, inputs, runtime)
    diff = float(max(np.abs(batch - expected).max(), np.abs(single - expected).max()))
    return CheckResult(name, len(inputs), diff, tolerance, diff <= tolerance, round(ms, 3))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def onnx_card(card: Any, out: Path, *, opset: int, tta_flip: bool, checks: list[CheckResult],
              source: Path, check_faces: str) -> dict[str, Any]:
    """The card written beside the .onnx file: the model's card plus what the file is."""
    data = asdict(card)
    data["onnx"] = {
        "file": out.name,
        "sha256": file_sha256(out),
        "opset": opset,
        "exported_from": str(source),
        "torch": torch.__version__,
        "input": {"name": "input", "shape": ["batch", 1, card.input_size, card.input_size], "dtype": "float32",
                  "meaning": "grey face crops as the card's preprocessing makes them, resized to input_size, "
                             "scaled to [0, 1], then (x - mean) / std"},
        "output": {"name": "probs", "shape": ["batch", len(card.classes)], "dtype": "float32",
                   "meaning": "class probabilities in the order of classes (softmax applied)"},
        "tta_flip": tta_flip,
        "checked_on": check_faces,
        "checks": [asdict(c) for c in checks],
    }
    return data
