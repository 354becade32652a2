"""``fer-train merge A B [C ...] --out M``: average the weights of fine-tunings of one network,
or (``--ensemble``) keep every network and average their predictions.

Two models, ``--alpha``: M = (1 - alpha) * A + alpha * B (weight-space ensembling, "WiSE-FT",
Wortsman et al., CVPR 2022): interpolating stage 1 (FER) and stage 2 (SFEW) of a cascade
trades what each knows. Three or more: the uniform average ("model soup", Wortsman et al.,
ICML 2022) of runs that differ only in seed, which is often better than each of them at
no extra inference cost. The card is the last model's with the merge recorded.

``--ensemble``: one model holding every network, their class probabilities averaged
(trainer.models.ensemble). It works where a soup fails (runs from different starts) and costs
one classifier pass a face per member. The members must read the same input (backbone, size,
normalisation, face preprocessing, test views). ``--half`` stores the weights as float16: half
the file, for a model to ship; check it with ``fer-train evaluate`` like any other.

``--test-views eight``: the card lists the eight test views (turned 8 degrees either way, scaled
0.9 and 1.1, shifted 1/24 of the side each way: trainer.evaluation.views.VIEWS), which every
path that runs the model then averages in, at nine times the classifier's time a face;
``none`` removes them. With it, one model is enough: the copy differs only in its card.

    fer-train merge runs/fer32/model runs/fer32-sfew/model --alpha 0.5 --out runs/merged/model
    fer-train merge runs/s0/model runs/s1/model runs/s2/model --out runs/soup/model
    fer-train merge runs/a/model runs/b/model --ensemble --half --out runs/ensemble/model
    fer-train merge runs/a/model --test-views eight --out runs/a-views/model
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="average the weights of models of the same architecture",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="+", metavar="MODEL",
                   help="two or more models (one with --test-views)")
    p.add_argument("--alpha", type=float, help="two models only: weight of the second, in [0, 1] "
                                               "(default: a uniform average)")
    p.add_argument("--ensemble", action="store_true",
                   help="keep every network and average their probabilities (one pass a face each)")
    p.add_argument("--half", action="store_true", help="store the weights as float16 (half the file)")
    p.add_argument("--test-views", choices=("eight", "none"),
                   help="the views the card lists: eight (nine looks a face) or none")
    p.add_argument("--out", type=Path, required=True, help="output NAME (writes NAME.safetensors + NAME.json)")


def run(args: argparse.Namespace) -> int:
    from trainer.errors import UsageError
    from trainer.models.card import load_model, save_model

    if len(args.models) < 2 and args.test_views is None:
        raise UsageError("merge needs two or more models (one model merged with itself is itself), "
                         "or one with --test-views")
    if len(args.models) == 1 and args.ensemble:
        raise UsageError("--ensemble needs two or more models")
    if args.alpha is not None and (len(args.models) != 2 or args.ensemble):
        raise UsageError("--alpha weighs two models; with more, merge takes the uniform average "
                         "(and --ensemble averages every model's predictions alike)")
    loaded = [load_model(m) for m in args.models]
    models, cards = [m for m, _ in loaded], [c for _, c in loaded]
    if len(models) == 1:
        merged, card, what = models[0], cards[0], "a copy"
    elif args.ensemble:
        from trainer.models.ensemble import ensemble_of

        merged, card = ensemble_of(models, cards, [str(m) for m in args.models])
        what = f"an ensemble of {len(models)}"
    else:
        merged, card, what = _average(models, cards, args)
    if args.test_views is not None:
        what += f", test views: {args.test_views}"
        _set_test_views(card, args.test_views)
    # runs/soup/model -> "soup": "model" names nothing in the app's status bar and model list
    card.name = args.out.parent.name if args.out.stem == "model" and args.out.parent.name else args.out.stem
    if args.half:
        card.provenance = {**card.provenance, "stored_as": "float16"}
    save_model(merged, card, args.out, half=args.half)
    print(f"wrote {args.out.with_suffix('.safetensors')} ({what}{', float16' if args.half else ''})")
    return 0


def _set_test_views(card, which: str) -> None:
    """The card lists ``which`` views; metrics measured with the old ones no longer hold."""
    from trainer.evaluation.views import VIEWS

    card.test_views = [v.to_dict() for v in VIEWS] if which == "eight" else []
    card.metrics = {}
    card.training = {**card.training, "test_views_set": which}


def _average(models: list, cards: list, args: argparse.Namespace) -> tuple:
    """The weight average (a soup, or WiSE-FT with --alpha), its card and a few words on it."""
    from trainer.models.merge import average, interpolate

    if args.alpha is not None:
        merged = interpolate(models[0], cards[0], models[1], cards[1], args.alpha)
        weights = [1.0 - args.alpha, args.alpha]
    else:
        weights = [1.0 / len(models)] * len(models)
        merged = average(models, cards, weights)
    card = cards[-1]
    card.metrics = {}  # measured on the merged weights by `fer-train evaluate`, not inherited
    card.training = {**card.training, "merged": {"models": [str(m) for m in args.models], "weights": weights}}
    if args.alpha is not None:
        card.training["merged"]["alpha"] = args.alpha
    return merged, card, "weights " + ", ".join(f"{w:.3g}" for w in weights)
