"""The face pipeline (Qt-free): detect faces, find the eyes, align and crop them as in
Ng et al., ICMI 2015. Back-ends: blazeface (MediaPipe's models on LiteRT), haar (OpenCV),
mtcnn (facenet-pytorch), dlib, face-alignment (optional); see docs/detectors.md."""

from .align import DEFAULT_EYE_CORNER, AlignConfig, FaceAligner
from .detectors import available_detectors, create_detector
from .io import IMAGE_EXTENSIONS, ImageReadError, decode_image, find_images, read_image
from .pipeline import AlignedFace, FacePipeline
from .types import DetectorUnavailable, Face, FaceDetector

__all__ = [
    "AlignConfig",
    "AlignedFace",
    "DEFAULT_EYE_CORNER",
    "DetectorUnavailable",
    "Face",
    "FaceAligner",
    "FaceDetector",
    "FacePipeline",
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "available_detectors",
    "create_detector",
    "decode_image",
    "find_images",
    "read_image",
]
