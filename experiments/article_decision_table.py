"""The article's decision table against the simulator (the computation lives in
:mod:`sim.analysis.article_decision_table`; ``lora-tco experiment=article_decision_table`` runs the same).

    python experiments/article_decision_table.py                              # 2,000 replications x 5 years
    python experiments/article_decision_table.py --replications 300 --horizon-years 3 --output out/
    python experiments/article_decision_table.py --flip-replications 200 scenario.engineers=2 seed=7

The config is ``configs/config.yaml`` with ``experiment=article_decision_table`` and the
given Hydra overrides, so the defaults (replications, models, seed) are the CLI's.
``--output DIR`` writes ``DIR/article_decision_table.csv`` (atomically, with the seed).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sim.analysis.article_decision_table import FLIP_REPLICATIONS, decision_table, format_table
from sim.apps import studies

EXPERIMENT = "experiment=article_decision_table"


def _body(args: argparse.Namespace) -> int:
    args.overrides = [EXPERIMENT, *args.overrides]
    if args.horizon_years is not None:
        args.overrides.append(f"horizon_years={args.horizon_years}")
    plain = studies.config(args)
    table = decision_table(plain, flip_replications=args.flip_replications)
    print(format_table(table))
    studies.save(args.output, {"article_decision_table": table}, int(plain["seed"]))
    if args.output is not None:
        print(f"\nwrote {args.output / 'article_decision_table.csv'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the table; with ``--output`` write the CSV."""
    parser = studies.parser("The article's decision table, row by row, against the simulator.")
    parser.add_argument("--horizon-years", type=int, default=None, help="simulated years (default: the config's)")
    parser.add_argument(
        "--flip-replications",
        type=int,
        default=None,
        help=f"replications per grid point of the flip searches (default: min(replications, {FLIP_REPLICATIONS}))",
    )
    return studies.run(_body, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
