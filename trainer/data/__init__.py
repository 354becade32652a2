"""Datasets: readers for FER-2013, FER+ and class folders, relabel journals, transforms."""

from trainer.data.samples import DataError, SampleSet

__all__ = ["DataError", "SampleSet"]
