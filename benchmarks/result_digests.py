"""SHA-256 of the result frames of the default run and three presets, to show that a change
to the code (not to the model) leaves every result bit-identical.

    python benchmarks/result_digests.py            # about two minutes warm

Run it on the commit before a refactor and on the commit after: every line must match. Each
frame is sorted by its key columns and hashed column by column (name, then values; category
columns as their labels), so the digest does not depend on row order or on how the file
that holds it was written. Only the public API (``sim.load_config``, ``sim.simulate``) is
used, so the script runs unchanged on either side of a change of module layout.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pandas as pd

from sim import load_config, simulate

RUNS = {
    "default (10,000 replications)": [],
    "experiment=ten_adapters_monthly": ["experiment=ten_adapters_monthly"],
    "scenario=regulated_many_adapters": ["scenario=regulated_many_adapters"],
    "experiment=quick engine=simpy": ["experiment=quick", "engine=simpy"],
}
KEYS = ("operating_model", "replication", "year", "category")


def frame_digest(frame: pd.DataFrame) -> str:
    keys = [k for k in KEYS if k in frame.columns]
    ordered = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    digest = hashlib.sha256()
    for name in ordered.columns:
        column = ordered[name]
        digest.update(name.encode())
        if isinstance(column.dtype, pd.CategoricalDtype):
            digest.update("\x00".join(column.astype(str)).encode())
        else:
            digest.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    return digest.hexdigest()


def main() -> int:
    for title, overrides in RUNS.items():
        results = simulate(load_config(overrides))
        for what in ("ledger", "metrics", "per_replication"):
            print(f"{title:36s} {what:16s} {frame_digest(getattr(results, what))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
