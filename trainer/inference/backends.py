"""Where the classifier runs: ONNX Runtime on the CPU, PyTorch on a GPU (fp16) or the CPU.

``auto`` picks PyTorch with CUDA where a GPU is usable, else ONNX Runtime (bench/live_fps.py:
several times faster than eager PyTorch per face on a CPU, and it starts without importing
torch), else PyTorch on the CPU. Every back-end takes the same numpy batch
(trainer.inference.preprocess.crops_to_batch) and returns probabilities, optionally with the
embedding the classifier layer sees (the review workspace's label-quality head uses it)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from trainer.errors import UsageError, UserError

if TYPE_CHECKING:
    from torch import nn

    from trainer.models.card import ModelCard

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch")


class BackendUnavailable(UserError, RuntimeError):
    """A back-end asked for by name that cannot run here (a missing package, no GPU)."""


class Classifier(Protocol):
    name: str  # short and stable: "onnxruntime-cpu", "torch-cpu", "torch-cuda-fp16"
    label: str  # for people: the status bar, --json output

    def run(self, batch: np.ndarray, embeddings: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, 1, S, S) float32 -> (N, C) probabilities and, if asked, (N, D) embeddings."""
        ...


def predict_probs(classifier: Classifier, batch: np.ndarray, tta_flip: bool,
                  embeddings: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities (and embeddings) of a batch; with ``tta_flip`` the mirror images go in the
    same call and their outputs are averaged in (one batch of 2N costs less than two of N)."""
    if len(batch) == 0 or not tta_flip:
        return classifier.run(batch, embeddings)
    n = len(batch)
    probs, emb = classifier.run(np.concatenate([batch, batch[..., ::-1]]), embeddings)
    return (probs[:n] + probs[n:]) / 2, (emb[:n] + emb[n:]) / 2 if emb is not None else None


def gpu_possible() -> bool:
    """Whether an NVIDIA driver is installed, checked without importing torch (1.5 s): only
    then is it worth asking torch whether CUDA is usable."""
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version")
    if sys.platform == "win32":
        return os.path.exists(os.path.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "nvcuda.dll"))
    return False  # macOS: no CUDA


def _cuda_usable() -> bool:
    if not gpu_possible():
        return False
    import torch

    return torch.cuda.is_available()


def onnxruntime_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def resolve(backend: str = "auto", device: str = "auto") -> tuple[str, str]:
    """(``onnx`` | ``torch``, torch device name) for a requested back-end and device."""
    backend = (backend or "auto").strip().lower()
    if backend not in BACKENDS:
        raise UsageError(f"unknown back-end {backend!r}; choose one of: {', '.join(BACKENDS)}")
    device = (device or "auto").strip().lower()
    if backend == "onnx":
        if device not in ("auto", "cpu"):
            raise UsageError(f"--backend onnx runs on the CPU; for --device {device} use --backend torch")
        if not onnxruntime_installed():
            raise BackendUnavailable("--backend onnx needs onnxruntime: pip install onnxruntime")
        return "onnx", "cpu"
    if backend == "torch":
        if device == "auto":
            device = "cuda" if _cuda_usable() else "cpu"
        return "torch", device
    if device == "auto":
        device = "cuda" if _cuda_usable() else "cpu"
    if device == "cpu" and onnxruntime_installed():
        return "onnx", "cpu"
    return "torch", device


class TorchClassifier:
    """The network in PyTorch: fp16 and channels-last on a GPU, float32 on the CPU."""

    def __init__(self, model: nn.Module, device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.half = self.device.type == "cuda"
        self.model = model.to(self.device).eval()
        if self.half:
            self.model = self.model.half().to(memory_format=torch.channels_last)
            self.name = "torch-cuda-fp16"
            self.label = f"PyTorch CUDA ({torch.cuda.get_device_name(self.device)}, fp16)"
        else:
            self.name = f"torch-{self.device.type}"
            self.label = f"PyTorch ({self.device.type.upper()})"

    def run(self, batch: np.ndarray, embeddings: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        import contextlib

        import torch

        from trainer.models.registry import captured_embeddings, grey_to_model_input

        with torch.inference_mode(), (captured_embeddings(self.model) if embeddings
                                      else contextlib.nullcontext()) as embedding:
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
            if self.half:
                x = x.half().to(memory_format=torch.channels_last)
            probs = self.model(grey_to_model_input(x)).float().softmax(dim=1).cpu().numpy()
            emb = embedding().float().cpu().numpy() if embeddings else None
        return probs, emb


class OnnxClassifier:
    """The network in ONNX Runtime (CPU), from the file trainer.inference.onnx_cache makes."""

    def __init__(self, path: Path, threads: int | None = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread by default: the live view runs the detector beside the classifier, and on
        # a busy machine more threads only spin-wait on each other. None: every core.
        options.intra_op_num_threads = 0 if threads is None else max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.name = "onnxruntime-cpu"
        self.label = f"ONNX Runtime {ort.__version__} (CPU)"
        self.path = path

    def run(self, batch: np.ndarray, embeddings: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        wanted = ["probs", "embedding"] if embeddings else ["probs"]
        out = self.session.run(wanted, {"input": np.ascontiguousarray(batch, dtype=np.float32)})
        return out[0], (out[1] if embeddings else None)


def create_classifier(model_path: Path, card: ModelCard, backend: str = "auto", device: str = "auto",
                      threads: int | None = 1) -> Classifier:
    """The model at ``model_path`` on the chosen back-end. With ``auto``, an ONNX export that
    fails here falls back to PyTorch (logged, and visible in the classifier's ``label``); asked
    for by name, it raises."""
    kind, torch_device = resolve(backend, device)
    if kind == "onnx":
        from trainer.models.card import ModelLoadError

        try:
            return _onnx_classifier(model_path, card, threads)
        except ModelLoadError:
            raise
        except (UserError, ImportError) as exc:  # onnx_export.ExportError, without importing torch to name it
            if backend == "onnx":
                raise BackendUnavailable(f"cannot run {model_path.name} in ONNX Runtime: {exc}") from None
            log.warning("ONNX Runtime unavailable for %s (%s); using PyTorch", model_path.name, exc)
            fallback = _torch_classifier(model_path, "cpu", threads)
            fallback.label += " (ONNX export failed)"
            return fallback
    return _torch_classifier(model_path, torch_device, threads)


def _onnx_classifier(model_path: Path, card: ModelCard, threads: int | None) -> OnnxClassifier:
    """A session on the cached ONNX file; a cache file ONNX Runtime cannot read (truncated by a
    full disk, say) is made again, once."""
    from trainer.inference.onnx_cache import runtime_onnx

    path = runtime_onnx(model_path, card)
    try:
        return OnnxClassifier(path, threads)
    except Exception as exc:  # ONNX Runtime's own error types (InvalidProtobuf, Fail, ...)
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        log.warning("the cached ONNX file %s is unreadable (%s); making it again", path, exc)
        path.unlink(missing_ok=True)
        return OnnxClassifier(runtime_onnx(model_path, card), threads)


def _torch_classifier(model_path: Path, device: str, threads: int | None) -> TorchClassifier:
    import torch

    from trainer.models.card import load_model

    if threads is not None and device == "cpu":
        torch.set_num_threads(max(1, threads))
    model, _card = load_model(model_path)
    return TorchClassifier(model, device)
