"""Run replications in batches until every mean TCO and paired difference is known to a
relative 95 % CI half-width target.

    python experiments/precision.py --target 0.005 --batch 2000
"""

from __future__ import annotations

import sys

from sim.analysis import run_to_precision, summary_statistics
from sim.apps import studies


def main(argv: list[str] | None = None) -> int:
    p = studies.parser(__doc__.splitlines()[0])
    p.add_argument("--target", type=float, default=0.01, help="relative half-width of the 95 %% CI")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--max-replications", type=int, default=100_000)
    args = p.parse_args(argv)

    def body(args) -> int:
        cfg = studies.config(args)
        run = run_to_precision(cfg, args.target, args.batch, args.max_replications)
        state = "reached" if run.converged else "NOT reached"
        print(f"Target ±{args.target:.2%} {state} after {run.replications:,} replications")
        last = run.history[run.history["replications"] == run.replications]
        studies.print_table(last, ["quantity", "mean", "half_width", "relative_half_width"])
        studies.save(args.output, {"precision_history": run.history, "summary": summary_statistics(run.results)}, int(cfg["seed"]))
        return 0 if run.converged else 1

    return studies.run(body, args)


if __name__ == "__main__":
    sys.exit(main())
