"""How well label-issue scores find real label errors: FER-2013 labels against FER+'s
independent relabelling of the same images.

Ranks FER-2013 Training by each score (built without FER+) and reports the precision of the
top 100 / 500 / 2,000 at finding images whose FER+ majority differs from the FER-2013 label,
against the base rate, a "the model disagrees with the label" baseline and the bundled model's
in-sample self-confidence. Out-of-fold scores are repeated over fold seeds (mean ± sd).
Also times the scoring pass (model over the images + the K-fold head).

    python bench/label_issues.py [--model paper-fer32-sfew] [--data-root ../shared/data] [--split Training] [--seeds 3] [--json OUT]
    python bench/label_issues.py --split PublicTest --view-study   # how the extra views were chosen

``--view-study`` scores every image from the plain view and from each candidate view, and
prints the precision of the plain score averaged with each view, with the shifts and
scalings, with the turns, and with all of them (trainer.evaluation.views.VIEWS).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from trainer.data.datasets import LoadOptions, load_samples
from trainer.evaluation.label_quality import (METHODS, disagreement_scores, label_quality_scores, memorisation_gap,
                                              out_of_fold_probs, rank, score_labels, with_views)
from trainer.evaluation.trained_on import trained_on
from trainer.evaluation.predictions import cached_predict
from trainer.evaluation.views import VIEWS, view_probs
from trainer.inference.bundled import resolve_model
from trainer.inference.backends import create_classifier, predict_probs
from trainer.inference.preprocess import crops_to_batch
from trainer.models.card import read_card

KS = (100, 500, 2000)


def ferplus_differs(data_root: Path, split: str, ids: list[str], fer_classes: tuple[str, ...],
                    fer_labels: np.ndarray) -> np.ndarray:
    """1.0 where FER+'s majority (ties, unknown and not-a-face left out) differs from the
    FER-2013 label, 0.0 where it agrees, NaN where FER+ has no majority."""
    plus = load_samples(f"{data_root}/ferplus/fer2013new.csv#{split}", LoadOptions(contempt="keep"))
    majority = {i: plus.classes[c] for i, c in zip(plus.ids, plus.labels)}
    out = np.full(len(ids), np.nan)
    for n, (i, y) in enumerate(zip(ids, fer_labels)):
        if i in majority:
            out[n] = float(majority[i] != fer_classes[y])
    return out


def precision_at(order: np.ndarray, truth: np.ndarray, ks=KS) -> dict[int, float]:
    ranked = order[~np.isnan(truth[order])]  # only images FER+ gives a verdict on
    return {k: float(truth[ranked[:k]].mean()) for k in ks}


def view_study(classifier, card, samples, pred, truth: np.ndarray) -> None:
    """Every image from each candidate view; the precision of the plain probabilities averaged
    with each view and with groups of them (the choice of trainer.evaluation.views.VIEWS)."""
    mean, std = float(np.mean(card.mean)), float(np.mean(card.std))

    def predict(crops: np.ndarray) -> np.ndarray:
        return predict_probs(classifier, crops_to_batch(crops, card.input_size, mean, std), True)[0]

    images = list(samples.images)
    each = {}
    for view in VIEWS:
        each[view] = view_probs(predict, images, np.zeros_like(pred.probs), views=[view]) * 2  # (0 + view) / 2
        print(f"view {view}: done", flush=True)
    groups = {"plain + one view: " + str(v): [v] for v in VIEWS}
    groups["plain + turns"] = [v for v in VIEWS if v.angle]
    groups["plain + shifts and scalings"] = [v for v in VIEWS if not v.angle]
    groups["plain + all (VIEWS)"] = list(VIEWS)
    ks = (100, 500)
    print(f"\n| views averaged | top {' | top '.join(map(str, ks))} |\n|---|" + "---|" * len(ks))
    plain = precision_at(rank(label_quality_scores(pred.labels, pred.probs)), truth, ks)
    print(f"| plain (mirror only) | {' | '.join(f'{100 * plain[k]:.1f}%' for k in ks)} |")
    for name, views in groups.items():
        probs = (pred.probs + sum(each[v] for v in views)) / (1 + len(views))
        p = precision_at(rank(label_quality_scores(pred.labels, probs)), truth, ks)
        print(f"| {name} | {' | '.join(f'{100 * p[k]:.1f}%' for k in ks)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="Training")
    parser.add_argument("--model", default=None,
                        help="a model file or bundled name (default: the bundled default; docs/label-issues.md's "
                             "Training table is paper-fer32-sfew's: the default model learnt FER+'s own labels of "
                             "those images, so FER+ is no independent answer key for it there)")
    parser.add_argument("--input", choices=("none", "crop"), default="none",
                        help="none: FER-2013's 48x48 crops as they are (how the bundled model was trained); "
                             "crop: re-aligned, as the review window makes them")
    parser.add_argument("--seeds", type=int, default=3, help="fold seeds for the out-of-fold scores")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--view-study", action="store_true",
                        help="compare sets of extra views on this split (choose on PublicTest, not Training)")
    args = parser.parse_args()

    model_path = resolve_model(args.model)
    card = read_card(model_path)
    model = create_classifier(model_path, card, "auto", "auto", threads=2)
    spec = f"{args.data_root}/fer2013/fer2013.csv.gz#{args.split}"
    t0 = time.perf_counter()
    if args.input == "crop":
        from trainer.evaluation.evaluate import face_options_for_input

        samples = load_samples(spec, LoadOptions(faces=face_options_for_input(card, "crop"), faces_on_csv=True),
                               purpose="eval")
    else:
        samples = load_samples(spec)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred, cached, _ = cached_predict(model_path, model, card, samples, spec, embeddings=True, views=True)
    t_predict = time.perf_counter() - t0
    truth = ferplus_differs(args.data_root, args.split, pred.ids, pred.classes, pred.labels)
    known = ~np.isnan(truth)
    print(f"{len(pred)} images, FER+ verdict on {known.sum()}, base rate {np.nanmean(truth):.3f}; "
          f"load {t_load:.1f} s, predict {t_predict:.1f} s{' (cached)' if cached else ''}")

    rows: dict[str, dict] = {}
    base = float(np.nanmean(truth))
    rows["base rate (random order)"] = {"precision": {k: base for k in KS}}
    # Disagreeing samples in a random order: "the model says otherwise", nothing more.
    shuffle = np.random.default_rng(0).permutation(len(pred))
    disagree = disagreement_scores(pred.labels, pred.probs)
    rows["model disagrees with label (in-sample)"] = {
        "precision": precision_at(shuffle[rank(disagree[shuffle])], truth)}
    for method in METHODS:
        rows[f"in-sample {method}"] = {
            "precision": precision_at(rank(label_quality_scores(pred.labels, pred.probs, method)), truth)}
    again = int(np.isfinite(pred.view_probs).all(axis=1).sum())
    rows[f"in-sample self_confidence, likeliest {again} re-scored over {len(VIEWS)} extra views"] = {
        "precision": precision_at(rank(label_quality_scores(pred.labels, with_views(pred))), truth)}
    if args.view_study:
        view_study(model, card, samples, pred, truth)
    oof_by_seed, t_oof = [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        oof_by_seed.append(out_of_fold_probs(pred.embeddings, pred.labels, folds=args.folds, seed=seed,
                                             n_classes=len(pred.classes)))
        t_oof.append(time.perf_counter() - t0)
        print(f"out-of-fold seed {seed}: {t_oof[-1]:.1f} s", flush=True)
    for method in METHODS:
        per_seed = []
        for oof in oof_by_seed:
            scores = label_quality_scores(pred.labels, oof, method)
            per_seed.append(precision_at(rank(scores), truth))
        rows[f"out-of-fold {method}"] = {
            "precision": {k: float(np.mean([p[k] for p in per_seed])) for k in KS},
            "sd": {k: float(np.std([p[k] for p in per_seed], ddof=1)) if len(per_seed) > 1 else 0.0 for k in KS}}

    t0 = time.perf_counter()
    # What `fer-train issues` and the review window use: the auto rule, knowing what the card trained on.
    chosen = score_labels(pred, trained_on(samples, card.training))
    t_chosen = time.perf_counter() - t0
    rows["chosen: auto (fer-train issues default)"] = {
        "precision": precision_at(chosen.order, truth), "out_of_sample": int(chosen.out_of_sample.sum()),
        "memorisation_gap": chosen.memorisation_gap}
    gaps = [memorisation_gap(pred.labels, pred.probs, oof) for oof in oof_by_seed]
    print(f"memorisation gap (model accuracy - out-of-fold accuracy): {np.mean(gaps):+.3f}; auto scored "
          f"{chosen.out_of_sample.sum()} of {len(pred)} out of fold, the rest with the model's probabilities "
          f"({t_chosen:.1f} s)")
    print(f"\n| score | top {' | top '.join(f'{k:,}' for k in KS)} |")
    print("|---|" + "---|" * len(KS))
    for name, row in rows.items():
        cells = [f"{100 * row['precision'][k]:.1f}%" + (f" ± {100 * row['sd'][k]:.1f}" if "sd" in row else "")
                 for k in KS]
        print(f"| {name} | {' | '.join(cells)} |")
    result = {"model": str(model_path), "model_name": card.name, "data": spec, "input": args.input, "n": len(pred),
              "with_ferplus_verdict": int(known.sum()), "base_rate": base, "folds": args.folds,
              "seeds": args.seeds, "seconds": {"load": t_load, "predict": t_predict, "predict_cached": cached,
                                               "out_of_fold_mean": float(np.mean(t_oof)),
                                               "chosen_scoring": t_chosen},
              "memorisation_gap": float(np.mean(gaps)),
              "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
