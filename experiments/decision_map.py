"""The cheapest operating model over two parameters, with the probability it is cheapest.

    python experiments/decision_map.py                       # adapters x refresh cadence
    python experiments/decision_map.py --x scenario.regulated_share --x-values 0:1:0.25 \
        --y operating_model.self_managed_lora.platform.base_fte --y-values 0.25,0.5,1,1.5
"""

from __future__ import annotations

import sys

from sim.analysis import decision_map
from sim.apps import studies


def main(argv: list[str] | None = None) -> int:
    p = studies.parser(__doc__.splitlines()[0])
    p.add_argument("--x", default="scenario.adapters")
    p.add_argument("--x-values", type=studies.values, default=studies.values("1,3,5,10,20"))
    p.add_argument("--y", default="scenario.refresh_interval_days")
    p.add_argument("--y-values", type=studies.values, default=studies.values("30,60,90"))
    args = p.parse_args(argv)

    def body(args) -> int:
        cfg = studies.config(args)
        frame = decision_map(cfg, (args.x, args.x_values), (args.y, args.y_values))
        studies.print_table(frame, [args.x, args.y, "cheapest", "p_cheapest", "margin"])
        studies.save(args.output, {"decision_map": frame}, int(cfg["seed"]))
        return 0

    return studies.run(body, args)


if __name__ == "__main__":
    sys.exit(main())
