"""FER-2013's near copies: how many, how sure, and how many a known change still finds.

``trainer.evaluation.duplicates`` calls two images near copies when their pixels correlate at
``NEAR_COPY_SIMILARITY`` or more where they line up best (small shifts and scalings), or
``MIRRORED_COPY_SIMILARITY`` with one mirrored. This script
1. finds them in all of FER-2013 (Training, PublicTest, PrivateTest) and counts them;
2. with ``--montage DIR``, draws 16 random pairs (fixed seed) from each band of similarity,
   each pair side by side, for the eye to say whether they are one photo twice: the threshold
   was chosen on these pictures (pairs that line up best mirrored get sheets of their own);
3. with ``--ferplus``, measures copies labelled two ways against FER+'s majority (an
   independent relabelling): how often FER-2013's label of a face in such a group differs from
   FER+'s, and of the faces whose label the fewest of its copies share (the group's minority);
4. with ``--recall N``, makes a changed copy of N random Training faces (shifted up to 3 px,
   scaled 0.92-1.08, turned up to 4 degrees, contrast 0.8-1.2, brightness -20 to 20, JPEG
   quality 40-90), adds them to the dataset and counts the copies found in their original's
   group: the share of such near copies the finder gets among 35,887 other faces (``--neighbours``:
   how many candidates a face; and how many reach the threshold compared with their original
   directly, the most any number of candidates could find); with ``--mirror``, the changed
   copies are mirrored too.

    python bench/near_copies.py --montage /tmp/near --recall 1000 --ferplus
    python bench/near_copies.py --recall 1000 --mirror
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leakage import summarise_copies  # noqa: E402  (bench/leakage.py: the same counts it reports)
from trainer.data.fer2013 import read_fer2013  # noqa: E402
from trainer.evaluation.duplicates import (MIRRORED_COPY_SIMILARITY, NEAR_COPY_SIMILARITY, UNIQUE,  # noqa: E402
                                           NearCopies, copy_groups, disagreeing, group_members, near_copy_groups,
                                           near_copy_pairs, similarity)

BANDS = ((0.97, 0.99), (0.95, 0.97), (0.93, 0.95), (0.92, 0.93), (0.91, 0.92), (0.89, 0.91), (0.85, 0.89))


def changed(face: np.ndarray, rng: np.random.Generator, mirror: bool = False) -> np.ndarray:
    """A near copy of a 48x48 face: moved, scaled, turned, re-lit and re-encoded a little (and
    mirrored)."""
    side = face.shape[0]
    if mirror:
        face = np.ascontiguousarray(face[:, ::-1])
    m = cv2.getRotationMatrix2D(((side - 1) / 2, (side - 1) / 2), rng.uniform(-4, 4), rng.uniform(0.92, 1.08))
    m[:, 2] += rng.uniform(-3, 3, 2)
    out = cv2.warpAffine(face, m, (side, side), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    out = np.clip(out * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 91))])
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)


def montage(images: np.ndarray, found: NearCopies, exact: np.ndarray, out: Path, mirrored: bool) -> dict:
    """One PNG a band: 16 random pairs not exact copies that line up best as they are (or
    ``mirrored``), two rows of eight, each pair side by side as the data hold them."""
    out.mkdir(parents=True, exist_ok=True)
    rng, drawn = np.random.default_rng(0), {}
    pairs, alike = found.pairs, found.alike
    for lo, hi in BANDS:
        idx = np.flatnonzero((alike >= lo) & (alike < hi) & ~exact & (found.mirrored == mirrored))
        pick = rng.choice(idx, min(16, len(idx)), replace=False)
        tiles = [np.pad(np.hstack([images[i], np.full((48, 2), 255, np.uint8), images[j]]), ((3, 3), (6, 6)))
                 for i, j in pairs[pick]]
        if not tiles:
            continue
        tiles += [np.zeros_like(tiles[0])] * (16 - len(tiles))
        sheet = np.vstack([np.hstack(tiles[:8]), np.hstack(tiles[8:])])
        name = out / f"{'mirrored-' if mirrored else ''}pairs-{lo:.2f}-{hi:.2f}.png"
        cv2.imwrite(str(name), cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
        drawn[f"{lo:.2f}-{hi:.2f}"] = {"pairs_in_band": int(len(idx)), "drawn": int(len(pick)), "file": str(name)}
    return drawn


def against_ferplus(groups: np.ndarray, labels: np.ndarray, differs: np.ndarray) -> dict:
    """How often FER-2013's label differs from FER+'s majority (``differs``: 1, 0, NaN where FER+
    has none) on all faces, in groups of copies labelled two ways, and on those groups' minority
    and majority labels (groups whose top label is tied left out of the last two)."""
    conflict = disagreeing(groups, labels)
    minority, majority = [], []
    for members in group_members(groups):
        counts = np.bincount(labels[members])
        top = counts.argmax()
        if (counts > 0).sum() < 2 or (counts == counts[top]).sum() > 1:
            continue
        minority += members[labels[members] != top].tolist()
        majority += members[labels[members] == top].tolist()

    def rate(mask) -> dict:
        known = differs[mask]
        known = known[~np.isnan(known)]
        return {"faces": int(len(known)), "differs_from_ferplus": round(float(known.mean()), 4) if len(known) else None}

    everyone = np.ones(len(labels), bool)
    return {"all_faces": rate(everyone), "in_groups_labelled_two_ways": rate(conflict),
            "in_groups_labelled_one_way": rate((groups != UNIQUE) & ~conflict),
            "minority_label": rate(np.isin(np.arange(len(labels)), minority)),
            "majority_label": rate(np.isin(np.arange(len(labels)), majority))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fer2013", type=Path, default=Path("../shared/data/fer2013/fer2013.csv.gz"))
    p.add_argument("--montage", type=Path, metavar="DIR", help="write the pairs of each band of similarity here")
    p.add_argument("--recall", type=int, default=0, metavar="N", help="add N changed Training faces and count them found")
    p.add_argument("--mirror", action="store_true", help="mirror the changed copies of --recall")
    p.add_argument("--neighbours", type=int, default=4, help="candidates a face for --recall (the finder's default: 4)")
    p.add_argument("--ferplus", action="store_true",
                   help="measure copies labelled two ways against FER+'s majority (fer2013new.csv beside fer2013/)")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()

    sets = read_fer2013(args.fer2013)
    images = np.concatenate([s.images for s in sets.values()])
    labels = np.concatenate([s.labels for s in sets.values()])
    splits = np.concatenate([np.full(len(s), name) for name, s in sets.items()])
    started = time.perf_counter()
    groups = near_copy_groups(images)
    result: dict = {"images": len(images), "threshold": NEAR_COPY_SIMILARITY,
                    "seconds": round(time.perf_counter() - started, 1)}
    exact = copy_groups(images)
    for kind, g in (("exact", exact), ("exact_or_near", groups)):
        result[kind] = summarise_copies(g, labels, splits)
    if args.ferplus:
        from label_issues import ferplus_differs  # bench/label_issues.py: the same truth as the ranking's

        root = args.fer2013.resolve().parent.parent
        differs = np.concatenate([ferplus_differs(root, name, list(part.ids), part.classes, part.labels)
                                  for name, part in sets.items()])
        result["against_ferplus"] = {kind: against_ferplus(g, labels, differs) for kind, g in
                                     (("exact", exact), ("exact_or_near", groups))}
    if args.montage:
        lowest = min(lo for lo, _ in BANDS)
        found = near_copy_pairs(images, threshold=lowest, mirrored_threshold=lowest)
        same = np.array([np.array_equal(images[i], images[j]) for i, j in found.pairs], bool)
        result["montage"] = {kind: montage(images, found, same, args.montage, mirrored=kind == "mirrored")
                             for kind in ("as_they_are", "mirrored")}
    if args.recall:
        rng = np.random.default_rng(1)
        originals = rng.choice(np.flatnonzero(splits == "Training"), args.recall, replace=False)
        copies = np.stack([changed(images[i], rng, args.mirror) for i in originals])
        g = near_copy_groups(np.concatenate([images, copies]), neighbours=args.neighbours)
        found = (g[len(images):] != UNIQUE) & (g[len(images):] == g[originals])
        # the most the candidates could give: each copy compared with its original directly
        threshold = MIRRORED_COPY_SIMILARITY if args.mirror else NEAR_COPY_SIMILARITY
        direct = np.array([similarity(c, images[i], mirrored=args.mirror) for c, i in zip(copies, originals)])
        direct = direct >= threshold
        result["recall"] = {"changed_copies": args.recall, "mirrored": args.mirror, "neighbours": args.neighbours,
                            "found_with_their_original": int(found.sum()), "share": round(float(found.mean()), 4),
                            "alike_enough_with_their_original": int(direct.sum())}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
