"""Break-even of two operating models along one parameter, with a CI on the crossing.

    python experiments/break_even.py --parameter scenario.adapters --values 1:15
    python experiments/break_even.py --parameter scenario.tokens_per_adapter_month_m \
        --values 10,50,100,200,400 --a self_managed_lora --b managed_adapter_serving --output out/
"""

from __future__ import annotations

import sys

from sim.analysis import break_even, sweep
from sim.apps import studies


def main(argv: list[str] | None = None) -> int:
    p = studies.parser(__doc__.splitlines()[0])
    p.add_argument("--parameter", default="scenario.adapters", help="dotted config path to sweep")
    p.add_argument("--values", type=studies.values, default=studies.values("1:15"), help="grid, e.g. 1:15 or 10,50,100")
    p.add_argument("--a", default="self_managed_lora")
    p.add_argument("--b", default="managed_finetune")
    p.add_argument("--confidence", type=float, default=0.90)
    args = p.parse_args(argv)

    def body(args) -> int:
        cfg = studies.config(args)
        data = sweep(cfg, args.parameter, args.values, models=[args.a, args.b])
        result = break_even(data, args.a, args.b, confidence=args.confidence)
        print(result.describe())
        studies.print_table(result.curve)
        studies.save(args.output, {"break_even_curve": result.curve, "break_even": _one_row(result)}, data.seed)
        return 0

    return studies.run(body, args)


def _one_row(result):
    import pandas as pd

    return pd.DataFrame([result.as_row()])


if __name__ == "__main__":
    sys.exit(main())
