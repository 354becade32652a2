"""``fer-train merge A B [C ...] --out M``: average the weights of fine-tunings of one network.

Two models, ``--alpha``: M = (1 - alpha) * A + alpha * B (weight-space ensembling, "WiSE-FT",
Wortsman et al., CVPR 2022): interpolating stage 1 (FER) and stage 2 (SFEW) of a cascade
trades what each knows. Three or more: the uniform average ("model soup", Wortsman et al.,
ICML 2022) of runs that differ only in seed, which is often better than each of them at
no extra inference cost. The card is the last model's with the merge recorded.

    fer-train merge runs/fer32/model runs/fer32-sfew/model --alpha 0.5 --out runs/merged/model
    fer-train merge runs/s0/model runs/s1/model runs/s2/model --out runs/soup/model
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="average the weights of models of the same architecture",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="+", metavar="MODEL", help="two or more models")
    p.add_argument("--alpha", type=float, help="two models only: weight of the second, in [0, 1] "
                                               "(default: a uniform average)")
    p.add_argument("--out", type=Path, required=True, help="output NAME (writes NAME.safetensors + NAME.json)")


def run(args: argparse.Namespace) -> int:
    from trainer.errors import UsageError
    from trainer.models.card import load_model, save_model
    from trainer.models.merge import average, interpolate

    if len(args.models) < 2:
        raise UsageError("merge needs two or more models (one model merged with itself is itself)")
    if args.alpha is not None and len(args.models) != 2:
        raise UsageError("--alpha weighs two models; with more, merge takes the uniform average")
    loaded = [load_model(m) for m in args.models]
    models, cards = [m for m, _ in loaded], [c for _, c in loaded]
    if args.alpha is not None:
        merged = interpolate(models[0], cards[0], models[1], cards[1], args.alpha)
        weights = [1.0 - args.alpha, args.alpha]
    else:
        weights = [1.0 / len(loaded)] * len(loaded)
        merged = average(models, cards, weights)
    card = loaded[-1][1]
    card.name = args.out.stem
    card.metrics = {}  # measured on the merged weights by `fer-train evaluate`, not inherited
    card.training = {**card.training, "merged": {"models": [str(m) for m in args.models], "weights": weights}}
    if args.alpha is not None:
        card.training["merged"]["alpha"] = args.alpha
    save_model(merged, card, args.out)
    print(f"wrote {args.out.with_suffix('.safetensors')} (weights {', '.join(f'{w:.3g}' for w in weights)})")
    return 0
