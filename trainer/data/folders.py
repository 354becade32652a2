"""Class-folder datasets: ``ROOT/<Class>/...`` or ``ROOT/<Split>/<Class>/...``.

Class folder names are mapped by :func:`trainer.classes.canonical_class` ("Angry", "anger",
"happiness" ...). The layout is recognised from ROOT's sub-folders: all class names means no
split level; none means split folders (``Train``/``Val``, ``train``/``test`` ...) each holding
class folders. Images may sit in nested folders under a class folder. Sample ids are paths
relative to ROOT in posix form (``Val/Happy/x.png``), stable across machines.

The class list is the same for every split of a dataset (all 7 basic classes, plus contempt
when any split has a Contempt folder), so a split may lack a class folder or hold an empty one:
a small test split without disgust, or a corrected copy whose last disgust face was relabelled.

Images not labelled yet sit in an ``unlabelled/`` folder beside the class folders (label -1),
in any split, or are the whole dataset: a folder holding images and no sub-folder at all
(``photos/*.jpg``) is one split of unlabelled images, to be labelled in the review window.

Errors are DataErrors naming the folder: an unknown class folder name, two folders of one
class, no class folders at all, a split (or a dataset) without any image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.classes import (BASIC_CLASSES, FERPLUS_CLASSES, UNLABELLED, UnknownClassError, canonical_class,
                             is_class_name)
from trainer.data.samples import DataError
from trainer.faces.io import IMAGE_EXTENSIONS, images_under

NO_SPLIT = ""
UNLABELLED_SPELLINGS = frozenset({"unlabelled", "unlabeled"})
UNLABELLED_LABEL = -1


@dataclass
class FolderListing:
    root: Path
    classes: tuple[str, ...]  # the canonical class list the labels index
    files: list[str]  # posix paths relative to root
    labels: list[int]  # UNLABELLED_LABEL (-1) for an image without a label yet
    split: str  # the split folder's name as on disk ("" without a split level)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_unlabelled_folder(name: str) -> bool:
    return name.lower() in UNLABELLED_SPELLINGS


def _class_folders(folder: Path, where: str) -> dict[str, Path]:
    """canonical class (or UNLABELLED) -> its folder; errors on unknown names, duplicates and no
    class folder at all."""
    found: dict[str, Path] = {}
    subdirs = _subdirs(folder)
    if not subdirs:
        raise DataError(f"{folder}: no class folders in {where} (expected one folder per class, e.g. Happy/, Sad/)")
    for sub in subdirs:
        if is_unlabelled_folder(sub.name):
            if UNLABELLED in found:
                raise DataError(f"{folder}: folders {found[UNLABELLED].name!r} and {sub.name!r} are both unlabelled")
            found[UNLABELLED] = sub
            continue
        try:
            name = canonical_class(sub.name)
        except UnknownClassError as exc:
            raise DataError(f"{sub}: unknown class folder name in {where}: {exc}") from None
        if name in found:
            raise DataError(f"{folder}: folders {found[name].name!r} and {sub.name!r} are both class {name!r}")
        found[name] = sub
    return found


def dataset_classes(names: set[str]) -> tuple[str, ...]:
    """The canonical class list for a set of class names: the 7 basic ones, plus contempt when present."""
    return BASIC_CLASSES if names <= set(BASIC_CLASSES) else FERPLUS_CLASSES


def _has_split_level(root: Path, subdirs: list[Path]) -> bool:
    """False when ROOT's folders are classes, True when they are splits; a mix is an error
    (most likely a misspelt class folder)."""
    _check_unlabelled_placement(root, subdirs)
    class_like = [d.name for d in subdirs if is_class_name(d.name) or is_unlabelled_folder(d.name)]
    if class_like and len(class_like) != len(subdirs):
        odd = [d.name for d in subdirs if d.name not in class_like]
        raise DataError(f"{root}: unknown class folder name(s) {', '.join(map(repr, odd))} next to class folders "
                        f"{', '.join(class_like)}")
    return not class_like


def _check_unlabelled_placement(root: Path, subdirs: list[Path]) -> None:
    """An unlabelled folder beside split folders (each holding class folders) is an error: its
    images would belong to no split."""
    unlabelled = [d.name for d in subdirs if is_unlabelled_folder(d.name)]
    splits = [d for d in subdirs if not is_unlabelled_folder(d.name)]
    if unlabelled and splits and all(_holds_class_folders(d) for d in splits):
        raise DataError(f"{root}: {unlabelled[0]!r} sits beside the split folders {', '.join(d.name for d in splits)}; "
                        f"move it into one of them ({splits[0].name}/{unlabelled[0]}/) beside its class folders")


def _holds_class_folders(folder: Path) -> bool:
    return any(is_class_name(d.name) for d in _subdirs(folder))


def split_names(root: str | Path) -> list[str]:
    """The split folders of a dataset (``[]`` without a split level)."""
    root = Path(root)
    subdirs = _subdirs(root) if root.is_dir() else []
    return [d.name for d in subdirs] if subdirs and _has_split_level(root, subdirs) else []


def _requested(root: Path, layout: dict[str, dict[str, Path]], splits: list[str] | None) -> dict[str, dict[str, Path]]:
    """The requested splits of ``layout`` (all when None), by case-insensitive name."""
    by_lower = {name.lower(): name for name in layout}
    chosen: dict[str, dict[str, Path]] = {}
    for split in splits or list(layout):
        name = by_lower.get(split.lower())
        if name is None:
            raise DataError(f"{root}: no split folder {split!r}; splits: {', '.join(layout)}")
        chosen[name] = layout[name]
    return chosen


def scan_folder_dataset(root: str | Path, splits: list[str] | None = None) -> list[FolderListing]:
    """List the images of the requested splits (all when None; case-insensitive names).

    Every split gets the class list of the whole dataset (:func:`dataset_classes` of all its
    class folders); a split needs at least one image, a class folder none. Images in an
    ``unlabelled/`` folder, or in a folder without sub-folders, get label -1.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    subdirs = _subdirs(root)
    if not subdirs:
        return [_loose_images(root, splits)]
    if _has_split_level(root, subdirs):
        # Every split's class folders, requested or not: Val read alone gets Train's class list.
        layout = {d.name: _class_folders(d, f"split {d.name!r}") for d in subdirs}
    elif splits:
        raise DataError(f"{root}: has no split folders (its sub-folders are classes), so split "
                        f"{'+'.join(splits)} does not exist")
    else:
        layout = {NO_SPLIT: _class_folders(root, "the dataset root")}
    classes = dataset_classes(set().union(*(set(folders) - {UNLABELLED} for folders in layout.values())))
    out = []
    for split, folders in _requested(root, layout, splits).items():
        files, labels = [], []
        # Class order, the unlabelled images last.
        for name, folder in sorted(folders.items(), key=lambda kv: _class_rank(classes, kv[0])):
            images = images_under(folder)
            files += [p.relative_to(root).as_posix() for p in images]
            labels += [UNLABELLED_LABEL if name == UNLABELLED else classes.index(name)] * len(images)
        if not files:
            where = root / split if split else root
            raise DataError(f"{where}: no images in its class folders (looked for {', '.join(IMAGE_EXTENSIONS)})")
        out.append(FolderListing(root, classes, files, labels, split))
    return out


def _class_rank(classes: tuple[str, ...], name: str) -> int:
    return len(classes) if name == UNLABELLED else classes.index(name)


def _loose_images(root: Path, splits: list[str] | None) -> FolderListing:
    """A folder of images without sub-folders: all of them unlabelled, in one nameless split."""
    if splits:
        raise DataError(f"{root}: has no split folders, so split {'+'.join(splits)} does not exist")
    files = [p.relative_to(root).as_posix() for p in images_under(root)]
    if not files:
        raise DataError(f"{root}: no images and no sub-folders; expected images to label, or one folder per "
                        "class, optionally under split folders")
    return FolderListing(root, dataset_classes(set()), files, [UNLABELLED_LABEL] * len(files), NO_SPLIT)
