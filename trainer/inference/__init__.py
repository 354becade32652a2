"""Inference: load a model by its card, find and align faces, give class probabilities."""

from trainer.inference.predictor import FacePrediction, Predictor, default_model_path

__all__ = ["FacePrediction", "Predictor", "default_model_path"]
