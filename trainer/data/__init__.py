"""Datasets: readers for FER-2013, FER+ and class folders, relabel journals, transforms.

Entry points: :func:`load_dataset` / :func:`load_variant` (train + val sets by variant name or
data spec), :func:`load_samples` (one set from ``PATH[#SPLIT]``), :class:`RelabelJournal` and
:func:`apply_relabels` (user corrections). Heavy modules load on first use.
"""

from trainer.data.samples import DataError, SampleSet

__all__ = ["DataError", "SampleSet", "RelabelJournal", "apply_relabels", "load_dataset", "load_samples",
           "load_variant", "VARIANTS"]


def __getattr__(name: str):
    # Lazy: the GUI imports trainer.data for the journal without paying for the readers.
    if name in ("RelabelJournal", "apply_relabels"):
        from trainer.data import relabel

        return getattr(relabel, name)
    if name in ("load_dataset", "load_samples", "load_variant", "VARIANTS"):
        from trainer.data import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'trainer.data' has no attribute {name!r}")
