"""Run a Monte Carlo study: every replication of every selected operating model."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from models.compile import MV, SV, CompiledRun, compile_config
from sim.config import validate
from sim.ledger import CATEGORIES
from sim.replication import METRICS, run_replication
from sim.results import Results


def compile_run(
    cfg: DictConfig | dict, replications: Sequence[int] | None = None, input_uniforms: Mapping[str, np.ndarray] | None = None
) -> tuple[CompiledRun, dict]:
    """Validate and compile a config; returns the compiled run and the plain config.

    ``input_uniforms`` is passed to :func:`models.compile.compile_config`.
    """
    plain = validate(cfg)
    return compile_config(plain, None if replications is None else np.asarray(replications), input_uniforms), plain


def simulate(
    cfg: DictConfig | dict, replications: Sequence[int] | None = None, input_uniforms: Mapping[str, np.ndarray] | None = None
) -> Results:
    """Simulate every selected operating model over ``cfg.replications`` replications.

    Parameters
    ----------
    cfg : DictConfig or dict
        A config from :func:`sim.load_config` (validated again here).
    replications : sequence of int, optional
        Replication indices to run (a shard); default all of ``range(cfg.replications)``.
        Each replication's numbers depend only on its index (and, with Latin
        hypercube sampling or rank correlations, on ``cfg.replications``), so
        shards merge into exactly the unsharded result.
    input_uniforms : mapping of str to array, optional
        Explicit input uniforms by draw key, one per simulated replication: they
        override the configured sampling of those inputs (sensitivity designs; see
        :func:`models.compile.compile_config`).

    Returns
    -------
    Results
    """
    run, plain = compile_run(cfg, replications, input_uniforms)
    engine = plain["engine"]
    if engine["name"] == "numba":
        costs, metrics = _run_numba(run, engine["threads"])
    else:
        costs, metrics = _run_simpy(run)
    return Results(
        model_names=run.model_names,
        model_labels=run.model_labels,
        replications=run.replications,
        costs=costs,
        metrics_array=metrics,
        discount_rates=run.scenario_values[:, SV["discount_rate"]].copy(),
        seed=run.seed,
        horizon_years=run.horizon_years,
        engine=plain["engine"]["name"],
        config=plain,
        one_time_usd=run.model_values[:, :, MV["platform.monitoring_build_usd"]].copy(),
    )


def _run_simpy(run: CompiledRun) -> tuple[np.ndarray, np.ndarray]:
    n_rep = run.replications.shape[0]
    costs = np.zeros((run.n_models, n_rep, run.horizon_years, len(CATEGORIES)))
    metrics = np.zeros((run.n_models, n_rep, len(METRICS)))
    for m in range(run.n_models):
        for row in range(n_rep):
            result = run_replication(run, row, m)
            costs[m, row] = result.usd
            metrics[m, row] = [result.metrics[k] for k in METRICS]
    return costs, metrics


def _kernel_is_cached() -> bool:
    """Whether numba's on-disk cache holds the current kernels (unknown counts as yes)."""
    from sim import kernel

    try:
        return all(bool(f._cache._cache_file._load_index()) for f in (kernel._advance, kernel._run_all))
    except Exception:  # numba internals changed: say nothing rather than fail
        return True


def _run_numba(run: CompiledRun, threads: int) -> tuple[np.ndarray, np.ndarray]:
    import numba

    from sim.kernel import run_kernel

    if not _kernel_is_cached():
        print(
            "lora-tco: compiling the numba engine for this machine (once, about 1-2 minutes; later runs start in seconds)",
            file=sys.stderr,
            flush=True,
        )
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS) if threads else numba.config.NUMBA_NUM_THREADS)
    try:
        return run_kernel(run)
    finally:
        numba.set_num_threads(previous)


def trace(cfg: DictConfig | dict, replication: int = 0, operating_model: str | None = None) -> pd.DataFrame:
    """Event trace of one replication on the SimPy engine ("a year in the life").

    Returns a DataFrame with ``time_days, operating_model, event, entity, value``
    for the chosen operating model (default: every selected one).
    """
    run, _ = compile_run(cfg, [replication])
    names = run.model_names if operating_model is None else (operating_model,)
    frames = []
    for name in names:
        if name not in run.model_names:
            raise ValueError(f"operating_model = {name!r}: must be one of {', '.join(run.model_names)}")
        frame = run_replication(run, 0, run.model_names.index(name), trace=True).trace
        frame.insert(1, "operating_model", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
