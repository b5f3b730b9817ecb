"""Which inputs move the answer: a one-at-a-time tornado and variance-based Sobol indices.

Every run uses the config's master seed, so all grid points see the same world
replication by replication (common random numbers).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from sim.analysis.sweeps import check_model, simulate_plain
from sim.core.stats import standard_error
from sim.run.config import validate
from sim.run.results import model_index


# ---------------------------------------------------------------------------------
# sensitivity
# ---------------------------------------------------------------------------------
def uncertain_inputs(cfg: DictConfig | Mapping) -> dict[str, Any]:
    """The uncertain inputs of a config: draw key -> distribution.

    A key names a scenario input (``scenario.<path>``) or an operating-model input
    without the model's name (``operating_model.<path>``): operating models that give
    the same input a distribution share its draw, so fixing a key fixes all of them.
    """
    from models.compile import compile_config

    plain = validate(cfg)
    small = copy.deepcopy(plain)
    small["replications"] = 1
    return dict(compile_config(small).input_keys)


def _response(plain: dict, a: str, b: str | None, measure: str, npv: bool, input_uniforms: Mapping[str, np.ndarray] | None) -> np.ndarray:
    results = simulate_plain(plain, input_uniforms=input_uniforms)
    totals = results.totals(measure, npv)
    ia = model_index(results.model_names, a)
    if b is None:
        return totals[ia]
    return totals[ia] - totals[model_index(results.model_names, b)]


def _chosen_inputs(plain: dict, inputs: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    keys = uncertain_inputs(plain)
    chosen = list(keys) if inputs is None else list(inputs)
    for key in chosen:
        if key not in keys:
            raise ValueError(f"inputs: {key!r} is not an uncertain input; available: {', '.join(keys) or 'none'}")
    return keys, chosen


def _two_models(cfg: DictConfig | Mapping, a: str, b: str | None) -> dict:
    plain = copy.deepcopy(validate(cfg))
    keep = [a] if b is None else [a, b]
    plain["operating_model"] = {name: plain["operating_model"][check_model(plain, name)] for name in keep}
    return plain


def tornado(
    cfg: DictConfig | Mapping,
    a: str,
    b: str | None = None,
    low: float = 0.10,
    high: float = 0.90,
    measure: str = "tco",
    npv: bool = False,
    inputs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One-at-a-time sensitivity of the mean TCO of ``a`` (or of ``a - b``).

    Each uncertain input is fixed at its ``low`` and its ``high`` quantile in every
    replication while every other input keeps its random draw; both runs use the same
    seed, so the swing is a paired difference free of event noise.

    Returns
    -------
    DataFrame
        One row per input, largest swing first: ``input``, ``low_value``,
        ``high_value``, ``response_at_low``, ``response_at_high`` (mean USD),
        their standard errors, ``swing`` = high − low response, and ``base``
        (the mean with every input random).
    """
    plain = _two_models(cfg, a, b)
    keys, chosen = _chosen_inputs(plain, inputs)
    n = int(plain["replications"])
    base = _response(plain, a, b, measure, npv, None)
    rows = []
    for key in chosen:
        at_low = _response(plain, a, b, measure, npv, {key: np.full(n, low)})
        at_high = _response(plain, a, b, measure, npv, {key: np.full(n, high)})
        rows.append(
            {
                "input": key,
                "low_value": keys[key].quantile(low),
                "high_value": keys[key].quantile(high),
                "response_at_low": float(at_low.mean()),
                "response_at_high": float(at_high.mean()),
                "se_at_low": float(standard_error(at_low)),
                "se_at_high": float(standard_error(at_high)),
                "swing": float(at_high.mean() - at_low.mean()),
            }
        )
    frame = pd.DataFrame(rows)
    frame["base"] = float(base.mean())
    frame["response"] = f"{measure} of {a}" if b is None else f"{measure} of {a} minus {b}"
    frame["low_quantile"], frame["high_quantile"] = low, high
    frame = frame.reindex(frame["swing"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    frame["replications"] = n
    frame["seed"] = int(plain["seed"])
    return frame


def sobol_indices(
    cfg: DictConfig | Mapping,
    a: str,
    b: str | None = None,
    base_samples: int = 256,
    measure: str = "tco",
    npv: bool = False,
    inputs: Sequence[str] | None = None,
    resamples: int = 200,
) -> pd.DataFrame:
    """Variance-based (Sobol) first-order and total indices of the uncertain inputs for
    the TCO of ``a`` (or ``a - b``), with SALib's Saltelli design and estimators.

    Each of the ``base_samples`` groups of the design (the A row, the B row and one
    A-with-column-i-from-B row per input) runs on the *same* replication index, so the
    event world (drift, incidents, durations) is common within a group and only the
    inputs differ. The event noise is then a factor that is never varied: it appears
    in the total variance but in no input's index, so the indices sum to less than 1
    and ``1 - sum(ST)`` bounds the share of variance due to event randomness.

    Returns
    -------
    DataFrame
        One row per input: ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (95 % bootstrap
        half-widths from SALib), largest ``ST`` first.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    plain = _two_models(cfg, a, b)
    _, names = _chosen_inputs(plain, inputs)
    if len(names) < 1:
        raise ValueError("sobol_indices: the config has no uncertain inputs")
    d = len(names)
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    seed = int(plain["seed"]) % (2**32)
    design = sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    design = np.clip(design, 1e-12, 1.0 - 1e-12)  # the inverse CDFs need the open interval
    group = d + 2
    run = copy.deepcopy(plain)
    run["replications"] = base_samples
    y = np.empty(design.shape[0])
    for position in range(group):
        rows = design[position::group]
        uniforms = {name: rows[:, j].copy() for j, name in enumerate(names)}
        y[position::group] = _response(run, a, b, measure, npv, uniforms)
    analysis = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=resamples, seed=seed)
    frame = pd.DataFrame(
        {
            "input": names,
            "S1": analysis["S1"],
            "S1_conf": analysis["S1_conf"],
            "ST": analysis["ST"],
            "ST_conf": analysis["ST_conf"],
        }
    )
    frame = frame.sort_values("ST", ascending=False, ignore_index=True)
    frame["response"] = f"{measure} of {a}" if b is None else f"{measure} of {a} minus {b}"
    frame["base_samples"] = base_samples
    frame["evaluations"] = design.shape[0]
    frame["seed"] = int(plain["seed"])
    return frame
