"""``fer-train merge A B --alpha 0.5 --out C``: average the weights of two fine-tunings of the
same network (weight-space ensembling, "WiSE-FT", Wortsman et al., CVPR 2022).

Interpolating stage 1 (FER) and stage 2 (SFEW) of a cascade keeps most of what stage 1 knew
about FER while gaining most of what stage 2 learnt about the target set: one model, no extra
inference cost. C = (1 - alpha) * A + alpha * B; the card is B's with the merge recorded.

    fer-train merge runs/fer32/model runs/fer32-sfew/model --alpha 0.5 --out runs/merged/model
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="average the weights of two models of the same architecture",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", type=Path, help="first model (weight 1 - alpha)")
    p.add_argument("b", type=Path, help="second model (weight alpha); its card is kept")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of B, in [0, 1] (default 0.5)")
    p.add_argument("--out", type=Path, required=True, help="output NAME (writes NAME.safetensors + NAME.json)")


def run(args: argparse.Namespace) -> int:
    from trainer.models.card import load_model, save_model
    from trainer.models.merge import interpolate

    model_a, card_a = load_model(args.a)
    model_b, card_b = load_model(args.b)
    merged = interpolate(model_a, card_a, model_b, card_b, args.alpha)
    card = card_b
    card.name = args.out.stem
    card.metrics = {}  # measured on the merged weights by `fer-train evaluate`, not inherited
    card.training = {**card.training, "merged": {"a": str(args.a), "b": str(args.b), "alpha": args.alpha}}
    save_model(merged, card, args.out)
    print(f"wrote {args.out.with_suffix('.safetensors')} (alpha {args.alpha})")
    return 0
