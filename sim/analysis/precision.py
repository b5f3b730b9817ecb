"""Replications in batches until the confidence intervals are as narrow as asked.

Every run uses the config's master seed, so all grid points see the same world
replication by replication (common random numbers).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from sim.analysis.sweeps import simulate_plain
from sim.core.stats import Z95
from sim.run.config import validate
from sim.run.results import Results, model_index


# ---------------------------------------------------------------------------------
# precision control
# ---------------------------------------------------------------------------------
@dataclass
class PrecisionRun:
    """Output of :func:`run_to_precision`."""

    results: Results
    history: pd.DataFrame
    converged: bool
    replications: int
    target: float


def _precision_rows(results: Results, measure: str, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    totals = results.totals(measure)
    n = totals.shape[1]
    rows = []
    series: list[tuple[str, np.ndarray]] = [(name, totals[m]) for m, name in enumerate(results.model_names)]
    for a, b in pairs:
        series.append((f"{a} - {b}", totals[model_index(results.model_names, a)] - totals[model_index(results.model_names, b)]))
    for name, values in series:
        mean = float(values.mean())
        # Z95 · sd / sqrt(n) in this order, not Z95 · standard_error(): the product rounds
        # differently, and the half-widths decide when a run stops, so they stay bit for bit.
        half = Z95 * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
        rows.append(
            {
                "replications": n,
                "quantity": name,
                "mean": mean,
                "half_width": half,
                "relative_half_width": half / abs(mean) if mean else math.inf,
            }
        )
    return rows


def run_to_precision(
    cfg: DictConfig | Mapping,
    target: float = 0.01,
    batch: int = 1000,
    max_replications: int = 100_000,
    measure: str = "tco",
    pairs: Sequence[tuple[str, str]] | str | None = "all",
    progress: Callable[[pd.DataFrame], None] | None = None,
) -> PrecisionRun:
    """Run replications in batches until the 95 % CI of every model's mean TCO, and of
    every paired difference, has a relative half-width at most ``target``.

    Batches are consecutive blocks of replication indices of one run of
    ``max_replications`` replications, so the result after ``n`` replications is
    exactly the first ``n`` replications of that run (whatever the batch size).
    A paired difference whose mean is near zero may never reach a relative target;
    the run then stops at ``max_replications`` with ``converged = False``.

    Parameters
    ----------
    pairs : "all", None or list of (a, b)
        Paired differences to control besides the model means.
    progress : callable, optional
        Called with the history after each batch.
    """
    if not 0 < target < 1:
        raise ValueError(f"target = {target!r}: must be a relative half-width in (0, 1)")
    if batch < 2 or max_replications < batch:
        raise ValueError(f"batch = {batch}, max_replications = {max_replications}: need 2 <= batch <= max_replications")
    plain = copy.deepcopy(validate(cfg))
    plain["replications"] = int(max_replications)
    names = list(plain["operating_model"])
    if pairs == "all":
        pair_list = list(itertools.combinations(names, 2))
    elif pairs is None:
        pair_list = []
    else:
        pair_list = [(a, b) for a, b in pairs]
    parts: list[Results] = []
    history: list[dict[str, Any]] = []
    done = 0
    converged = False
    while done < max_replications:
        stop = min(done + batch, max_replications)
        parts.append(simulate_plain(plain, replications=np.arange(done, stop)))
        done = stop
        combined = Results.concat(parts) if len(parts) > 1 else parts[0]
        parts = [combined]
        rows = _precision_rows(combined, measure, pair_list)
        history.extend(rows)
        if progress is not None:
            progress(pd.DataFrame(history))
        if all(r["relative_half_width"] <= target for r in rows):
            converged = True
            break
    frame = pd.DataFrame(history)
    frame["target"] = target
    frame["seed"] = int(plain["seed"])
    return PrecisionRun(results=parts[0], history=frame, converged=converged, replications=done, target=target)
