"""Face detector back-ends; each imports its heavy package only when it is created."""

from .registry import AUTO_ORDER, NAMES, available_detectors, canonical_name, create_detector, resolved_name

__all__ = ["AUTO_ORDER", "NAMES", "available_detectors", "canonical_name", "create_detector", "resolved_name"]
