"""The article's "relative annual TCO index" table, reproduced with the simulator
(the computation lives in :mod:`sim.analysis.article_table`).

    python experiments/article_table.py                                  # config defaults (10,000 x 5 years)
    python experiments/article_table.py --replications 2000 --horizon-years 3 --output table.csv
    python experiments/article_table.py --ci bootstrap scenario.regulated_share=0
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from models.errors import ConfigError
from sim.analysis.article_table import DEFAULT_MODELS, article_table, explain, format_table, write_csv_atomic
from sim.apps.errors import BAD_INPUT, fail


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the table and the explanation; optionally write the CSV."""
    parser = argparse.ArgumentParser(description="Reproduce the article's relative annual TCO index table with the simulator.")
    parser.add_argument("--replications", type=int, default=None, help="replications per scenario (default: configs/config.yaml)")
    parser.add_argument("--horizon-years", type=int, default=None, help="simulated years (default: configs/config.yaml)")
    parser.add_argument("--seed", type=int, default=None, help="master seed; also seeds the bootstrap (default: configs/config.yaml)")
    parser.add_argument("--engine", choices=("numba", "simpy"), default="numba")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated operating models; the first is the table's")
    parser.add_argument("--ci", choices=("delta", "bootstrap"), default="delta", help="interval of each ratio of means")
    parser.add_argument("--bootstrap-samples", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=None, help="write the tidy table as CSV (with the seed) to this path")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every scenario, e.g. scenario.regulated_share=0")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        table = article_table(
            args.replications, args.horizon_years, args.seed, args.engine, models, args.ci, args.bootstrap_samples, overrides=args.overrides
        )
    except ConfigError as exc:
        return fail("article_table", str(exc), BAD_INPUT)
    print(format_table(table, models[0]))
    print()
    print("Why the simulated index differs from the article's (computed from this run):")
    for line in explain(table, models[0]):
        print(f"- {line}")
    if args.output is not None:
        print(f"\nwrote {write_csv_atomic(table, args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
