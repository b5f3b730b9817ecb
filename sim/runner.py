"""Run a Monte Carlo study: every replication of every selected operating model."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from models.compile import MV, SV, CompiledRun, compile_config
from models.validate import parse_shard
from sim.config import validate
from sim.ledger import CATEGORIES
from sim.progress import LONG_RUN_S, Progress
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


def shard_replications(shard: str, replications: int) -> np.ndarray:
    """Replication indices of ``shard = "i/n"``: the contiguous block
    ``np.array_split(range(replications), n)[i]`` (all of them for ``""``)."""
    parsed = parse_shard(shard, replications)
    indices = np.arange(replications, dtype=np.int64)
    return indices if parsed is None else np.array_split(indices, parsed[1])[parsed[0]]


def simulate(
    cfg: DictConfig | dict,
    replications: Sequence[int] | None = None,
    input_uniforms: Mapping[str, np.ndarray] | None = None,
    *,
    progress: bool | None = None,
) -> Results:
    """Simulate every selected operating model over ``cfg.replications`` replications.

    Parameters
    ----------
    cfg : DictConfig or dict
        A config from :func:`sim.load_config` (validated again here).
    replications : sequence of int, optional
        Replication indices to run (a shard); default all of ``range(cfg.replications)``,
        or with ``cfg.shard = "i/n"`` that shard's contiguous block of them
        (``np.array_split(range(cfg.replications), n)[i]``).
        Each replication's numbers depend only on its index (and, with Latin
        hypercube sampling or rank correlations, on ``cfg.replications``), so
        shards merge into exactly the unsharded result.
    input_uniforms : mapping of str to array, optional
        Explicit input uniforms by draw key, one per simulated replication: they
        override the configured sampling of those inputs (sensitivity designs; see
        :func:`models.compile.compile_config`).
    progress : bool, optional
        Report replications done, rate and ETA on stderr when the run is long
        (:mod:`sim.progress`); default ``cfg.output.progress``. Results do not
        depend on it.

    Returns
    -------
    Results
    """
    plain = validate(cfg)
    shard = ""
    if replications is None and plain.get("shard"):
        shard = plain["shard"]
        replications = shard_replications(shard, plain["replications"])
    run = compile_config(plain, None if replications is None else np.asarray(replications), input_uniforms)
    if progress is None:
        progress = bool(plain.get("output", {}).get("progress", True))
    engine = plain["engine"]
    label = _progress_label(shard)
    if engine["name"] == "numba":
        costs, metrics = _run_numba(run, engine["threads"], progress, label)
    else:
        costs, metrics = _run_simpy(run, progress, label)
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
        shard=shard,
    )


def _progress_label(shard: str) -> str:
    """``lora-tco``, plus the shard and the Hydra multirun job, so that the progress
    lines of jobs running side by side (a joblib launcher) can be told apart."""
    label = "lora-tco"
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            label += f" job {HydraConfig.get().job.num}"
    except Exception:  # not in a Hydra app, or Hydra internals changed: the plain label
        pass
    return f"{label} shard {shard}" if shard else label


def _run_simpy(run: CompiledRun, progress: bool = False, label: str = "lora-tco") -> tuple[np.ndarray, np.ndarray]:
    n_rep = run.replications.shape[0]
    costs = np.zeros((run.n_models, n_rep, run.horizon_years, len(CATEGORIES)))
    metrics = np.zeros((run.n_models, n_rep, len(METRICS)))
    report = Progress(n_rep, label=label)
    try:
        # replication by replication (every model of one, then the next), so progress counts replications
        for row in range(n_rep):
            for m in range(run.n_models):
                result = run_replication(run, row, m)
                costs[m, row] = result.usd
                metrics[m, row] = [result.metrics[k] for k in METRICS]
            if progress:
                report.maybe_start(row + 1)
    finally:
        report.close()
    return costs, metrics


def _kernel_is_cached() -> bool:
    """Whether numba's on-disk cache holds the current kernels (unknown counts as yes)."""
    from sim import kernel

    try:
        return all(bool(f._cache._cache_file._load_index()) for f in (kernel._advance, kernel._run_all))
    except Exception:  # numba internals changed: say nothing rather than fail
        return True


def _run_numba(run: CompiledRun, threads: int, progress: bool = False, label: str = "lora-tco") -> tuple[np.ndarray, np.ndarray]:
    import numba

    if not _kernel_is_cached():
        print(
            "lora-tco: compiling the numba engine for this machine (once, about 1-2 minutes; later runs start in seconds)",
            file=sys.stderr,
            flush=True,
        )
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS) if threads else numba.config.NUMBA_NUM_THREADS)
    try:
        if progress:
            return _run_numba_chunked(run, numba.get_num_threads(), label=label)
        from sim.kernel import run_kernel

        return run_kernel(run)
    finally:
        numba.set_num_threads(previous)


CHUNK_S = {True: 1.0, False: 2.5}  # target seconds per chunk: a terminal bar vs plain lines every ~10 s


def replication_rows(run: CompiledRun, start: int, stop: int) -> CompiledRun:
    """Rows ``start:stop`` of a compiled run: the same replications with the same
    sampled inputs, so an engine gives exactly those rows of the whole run."""
    uniforms = run.uniforms[start:stop] if run.uniforms.shape[0] == run.replications.shape[0] else run.uniforms
    return dataclasses.replace(
        run,
        replications=run.replications[start:stop],
        scenario_values=run.scenario_values[start:stop],
        model_values=run.model_values[:, start:stop],
        uniforms=uniforms,
    )


def _run_numba_chunked(
    run: CompiledRun, threads: int, sizes: Sequence[int] | None = None, stream: TextIO | None = None, label: str = "lora-tco"
) -> tuple[np.ndarray, np.ndarray]:
    """The numba engine over consecutive chunks of replications, with progress.

    Every random number is keyed by replication index, so the result is
    bit-identical to one call over all rows whatever the chunking. Chunks start
    small and grow by 4x while the run is timed; if the rest is expected to take
    less than ``LONG_RUN_S`` it runs in one call and nothing is shown, otherwise
    progress starts and chunks are sized to last about ``CHUNK_S`` seconds.
    ``sizes`` (tests) fixes the chunk sizes instead, the last one repeating.
    """
    from sim.kernel import run_kernel

    n = run.replications.shape[0]
    costs = np.empty((run.n_models, n, run.horizon_years, len(CATEGORIES)))
    metrics = np.empty((run.n_models, n, len(METRICS)))
    report = Progress(n, stream=stream, label=label)
    target = CHUNK_S[report.tty]
    size = max(16, 4 * threads)
    done = calls = 0
    try:
        while done < n:
            if sizes is not None:
                size = sizes[min(calls, len(sizes) - 1)]
            stop = min(n, done + max(1, size))
            tic = time.perf_counter()
            costs[:, done:stop], metrics[:, done:stop] = run_kernel(replication_rows(run, done, stop))
            seconds = time.perf_counter() - tic
            per_row = seconds / (stop - done)
            done, calls = stop, calls + 1
            if sizes is not None:
                report.maybe_start(done, min_elapsed=0.0)
                continue
            if not report.started and calls >= 2:  # the first call may include loading the kernel
                if per_row * (n - done) < LONG_RUN_S:
                    size = n - done  # short: finish in one call, show nothing
                    continue
                report.start(done, rate=1.0 / max(per_row, 1e-12))
            report.update(done)
            size = 4 * size if not report.started else max(1, int(target / max(per_row, 1e-9)))
    finally:
        report.close()
    return costs, metrics


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
