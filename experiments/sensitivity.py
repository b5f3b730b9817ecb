"""Which inputs move the TCO difference: a tornado (p10 / p90) and Sobol indices (SALib).

python experiments/sensitivity.py --a self_managed_lora --b managed_finetune --replications 2000
"""

from __future__ import annotations

import sys

from sim.analysis import sobol_indices, tornado
from sim.apps import studies


def main(argv: list[str] | None = None) -> int:
    p = studies.parser(__doc__.splitlines()[0])
    p.add_argument("--a", default="self_managed_lora")
    p.add_argument("--b", default="managed_finetune", help="'none' for the TCO of a alone")
    p.add_argument("--sobol-samples", type=int, default=512, help="Saltelli base samples (a power of 2)")
    args = p.parse_args(argv)

    def body(args) -> int:
        cfg = studies.config(args)
        b = None if args.b == "none" else args.b
        swings = tornado(cfg, args.a, b)
        print(f"Tornado: {swings['response'].iloc[0]} (mean {swings['base'].iloc[0]:,.0f} USD), inputs at p10 / p90")
        studies.print_table(swings, ["input", "low_value", "high_value", "response_at_low", "response_at_high", "swing"])
        indices = sobol_indices(cfg, args.a, b, base_samples=args.sobol_samples)
        print(f"\nSobol indices ({indices['evaluations'].iloc[0]} evaluations)")
        studies.print_table(indices, ["input", "S1", "S1_conf", "ST", "ST_conf"])
        studies.save(args.output, {"tornado": swings, "sobol": indices}, int(cfg["seed"]))
        return 0

    return studies.run(body, args)


if __name__ == "__main__":
    sys.exit(main())
