"""Run a Monte Carlo study: every replication of every selected operating model."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from models.compile import MV, SV, CompiledRun, compile_config, input_keys
from models.errors import ConfigError
from models.validate import ENGINE_RANGES, parse_shard
from sim.core import interrupt
from sim.core.ledger import CATEGORIES
from sim.core.metrics import METRICS
from sim.engines.reference.replication import run_replication
from sim.run.config import validate
from sim.run.progress import LONG_RUN_S, Progress
from sim.run.results import Results, check_finite

# What a replication's engine state can grow to, measured at the event cap with a runaway
# input (an incident queue that only grows, the worst found): bytes per event processed,
# and per adapter for the state every replication starts with (docs/model.md §10).
ENGINE_BYTES_PER_EVENT = {"numba": 250, "simpy": 1_000}
ENGINE_BYTES_PER_ADAPTER = {"numba": 2_500, "simpy": 7_000}
# Results.save's peak per ledger row (the ledger frame, its arrow table, the parquet
# writer), measured; it is the run's largest step beside simulating.
SAVE_BYTES_PER_LEDGER_ROW = 72
COMPILE_OVERHEAD = 1.25  # compile_config's temporaries over the inputs it keeps
LIBRARY_BYTES = 256 * 2**20  # what a run loads after the check: the kernels, the charts and their child process
SHARD_FILL = 0.75  # suggested shards and counts fill this share of the memory available, not all of it


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


def _shard_size(shard: str, replications: int) -> int:
    """``len(shard_replications(shard, replications))`` without making the indices."""
    parsed = parse_shard(shard, replications)
    if parsed is None:
        return replications
    i, n = parsed
    return replications // n + (1 if i < replications % n else 0)


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
        (:mod:`sim.run.progress`); default ``cfg.output.progress``. Results do not
        depend on it.

    Returns
    -------
    Results

    Raises
    ------
    ConfigError
        If the config is not valid, or the run cannot fit in the memory available
        (:func:`check_run_memory`, before anything is allocated).
    sim.run.results.SimulationError
        A ``ConfigError`` too: a cost or metric came out not finite
        (:func:`sim.run.results.check_finite`).
    """
    plain = validate(cfg)
    shard = ""
    if replications is None and plain.get("shard"):
        shard = plain["shard"]
        replications = shard_replications(shard, plain["replications"])
    check_run_memory(plain, None if replications is None else len(replications))
    run = compile_config(plain, None if replications is None else np.asarray(replications), input_uniforms)
    if progress is None:
        progress = bool(plain.get("output", {}).get("progress", True))
    engine = plain["engine"]
    label = _progress_label(shard)
    if engine["name"] == "numba":
        costs, metrics = _run_numba(run, engine["threads"], progress, label)
    else:
        costs, metrics = _run_simpy(run, progress, label)
    results = Results(
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
    check_finite(results, lambda m, row: _largest_input(run, m, row))
    return results


def _largest_input(run: CompiledRun, m: int, row: int) -> tuple[str, float]:
    """The input of model ``m`` in replication row ``row`` with the largest magnitude (a
    non-finite one first): what most likely overflowed a cost."""
    names = [f"scenario.{name}" for name in SV] + [f"operating_model.{run.model_names[m]}.{name}" for name in MV]
    values = np.concatenate([run.scenario_values[row], run.model_values[m, row]])
    j = int(np.argmax(np.where(np.isfinite(values), np.abs(values), np.inf)))
    return names[j], float(values[j])


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """What a run needs, in bytes, by part (see :func:`estimate_run_memory`)."""

    replications: int  # simulated in this process
    per_replication: int  # inputs, costs, metrics and the saved ledger of one replication, all models
    threads: int  # engine threads running replications at once
    per_thread: int  # one replication's engine state at the event cap
    libraries: int

    @property
    def total(self) -> int:
        """Every part together: the estimate :func:`estimate_run_memory` returns."""
        return self.replications * self.per_replication + self.threads * self.per_thread + self.libraries


def _numba_threads(threads: int) -> int:
    """The numba threads a run uses: ``engine.threads``, at most numba's own limit; 0 = that limit."""
    import numba

    return min(threads, numba.config.NUMBA_NUM_THREADS) if threads else numba.config.NUMBA_NUM_THREADS


def memory_estimate(plain: Mapping, replications: int | None = None) -> MemoryEstimate:
    """The parts of :func:`estimate_run_memory`, for a validated plain config."""
    if replications is None:
        replications = _shard_size(plain.get("shard") or "", int(plain["replications"]))
    n = int(replications)
    models = len(plain["operating_model"])
    ledger_rows = models * int(plain["horizon_years"]) * len(CATEGORIES)
    engine = plain["engine"]
    inputs = (len(SV) + models * len(MV) + len(input_keys(plain))) * 8 * COMPILE_OVERHEAD
    packed = models * (len(SV) + len(MV)) * 8 if engine["name"] == "numba" else 0  # the kernel's copy: a subset of both
    outputs = (ledger_rows + models * (len(METRICS) + 1) + 1) * 8  # costs, metrics, one-time USD, discount rate
    simulating = inputs + packed + outputs
    saving = outputs + ledger_rows * SAVE_BYTES_PER_LEDGER_ROW
    threads = min(_numba_threads(int(engine["threads"])), models * n) if engine["name"] == "numba" else 1
    name = engine["name"]
    per_thread = ENGINE_BYTES_PER_EVENT[name] * int(engine["max_events_per_replication"])
    per_thread += ENGINE_BYTES_PER_ADAPTER[name] * int(plain["scenario"]["adapters"])
    return MemoryEstimate(n, math.ceil(max(simulating, saving)), threads, per_thread, LIBRARY_BYTES)


def estimate_run_memory(plain: Mapping, replications: int | None = None) -> int:
    """Peak memory of a run, in bytes: an upper estimate for planning and for refusing
    runs that cannot fit.

    Parameters
    ----------
    plain : Mapping
        A validated plain config (:func:`sim.run.config.validate`).
    replications : int, optional
        Replications simulated in this process; default ``plain["replications"]``,
        or with ``plain["shard"]`` that shard's block of them.

    Returns
    -------
    int
        The compiled inputs, the engine's packed copy, costs and metrics, and the
        larger of simulating and :meth:`Results.save` (its ledger frame, arrow table
        and parquet writer, measured per ledger row); plus each engine thread's
        state if its replication runs away to the event cap (measured per event and
        per adapter, :data:`ENGINE_BYTES_PER_EVENT`), and the libraries a run loads.
        Measured (simulate, summary, save): a stable run peaks at 0.4-0.6 of it with
        10,000 replications and 0.8 with 100,000, where the fixed reserves weigh less;
        a replication that runs away to the cap holds 0.6-0.95 of its thread's share
        (``tests/test_limits.py``).
    """
    return memory_estimate(plain, replications).total


def available_memory() -> int | None:
    """Bytes this process can still use: the system's available memory, lowered by the
    room left under a control-group memory limit (a container, a batch job); None if
    the system does not say."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except OSError:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    room = _cgroup_room()
    if room is not None:
        found.append(room)
    return min(found) if found else None


def _cgroup_room() -> int | None:
    """Room under this process's control-group memory limits (v2, else v1), page cache
    that can be reclaimed counted as room; None without a limit."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return None
    rooms = []
    for _id, controllers, path in (parts for parts in lines if len(parts) == 3):
        if controllers == "":  # v2: a limit may sit on any ancestor
            limit, usage, stat = "memory.max", "memory.current", "inactive_file"
            base = "/sys/fs/cgroup"
        elif "memory" in controllers.split(","):
            limit, usage, stat = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"
            base = "/sys/fs/cgroup/memory"
        else:
            continue
        folder = path.strip("/")
        while True:
            here = os.path.join(base, folder)
            try:
                with open(os.path.join(here, limit)) as f:
                    text = f.read().strip()
                if text.isdigit() and int(text) < 2**60:  # "max" or a huge v1 number: no limit here
                    with open(os.path.join(here, usage)) as f:
                        used = int(f.read())
                    with open(os.path.join(here, "memory.stat")) as f:
                        cache = sum(int(line.split()[1]) for line in f if line.split()[0] == stat)
                    rooms.append(int(text) - used + cache)
            except (OSError, ValueError, IndexError):
                pass
            if not folder:
                break
            folder = os.path.dirname(folder)
    return max(0, min(rooms)) if rooms else None


def check_run_memory(plain: Mapping, replications: int | None = None, available: Callable[[], int | None] = available_memory) -> None:
    """Refuse, before anything is allocated, a run that cannot fit in memory.

    Parameters
    ----------
    plain : Mapping
        A validated plain config.
    replications : int, optional
        Replications simulated here; default ``plain["replications"]``, or with
        ``plain["shard"]`` that shard's block of them.
    available : callable
        Returns the bytes available, or None (unknown: no check).

    Raises
    ------
    ConfigError
        One line naming ``replications`` (with the shards that would fit) or, when
        the engine threads' room at the event cap is what does not fit,
        ``engine.max_events_per_replication``, with the estimate and the memory available.
    """
    free = available()
    need = memory_estimate(plain, replications)
    if free is None or need.total <= free:
        return
    models, years = len(plain["operating_model"]), int(plain["horizon_years"])
    what = f"inputs, costs, ledger and metrics of {models} model{'s' if models > 1 else ''} x {years} years"
    engine = plain["engine"]
    threads = f"{need.threads} engine thread{'s' if need.threads > 1 else ''}"
    head = f"this run needs about {_size(need.total)} of memory ({what}; {threads} at the event cap) and {_size(free)} is available"
    fixed = need.threads * need.per_thread + need.libraries
    room = SHARD_FILL * free - fixed  # for the replications, keeping a margin for what else the machine runs
    if room >= need.per_replication and fixed <= free / 2:  # else the engine threads' room is what to cut
        total = int(plain["replications"])
        whole = total * need.per_replication
        shards = math.ceil(whole / room)
        fits = f"about {_round_down(room // need.per_replication):,} fit"
        advice = f"use fewer replications ({fits})"
        if shards <= total:
            advice = (
                f"split it with shard=0/{shards} ... shard={shards - 1}/{shards} (about {_size(whole / shards + fixed)} each; "
                f"lora-tco-merge then needs about {_size(whole + fixed)}), or {advice}"
            )
        raise ConfigError("replications", total, f"{head}; {advice}")
    # the engine threads' worst case is what does not fit: fewer events or fewer threads
    name = engine["name"]
    per_adapter = ENGINE_BYTES_PER_ADAPTER[name] * int(plain["scenario"]["adapters"])
    spare = SHARD_FILL * free - need.libraries - need.replications * need.per_replication
    options = []
    events = (spare / need.threads - per_adapter) // ENGINE_BYTES_PER_EVENT[name]
    if events >= ENGINE_RANGES["max_events_per_replication"][0]:
        options.append(f"lower engine.max_events_per_replication (about {_round_down(events):,} fits)")
    if name == "numba" and need.threads > 1 and spare >= need.per_thread:
        options.append(f"engine.threads (about {int(spare // need.per_thread)} fit)")
    who = "each thread holds" if need.threads > 1 else "the engine holds"
    advice = f"{who} up to {_size(need.per_thread)} when a replication runs away to the cap; "
    advice += " or ".join(options) if options else "use a machine with more memory"
    raise ConfigError("engine.max_events_per_replication", int(engine["max_events_per_replication"]), f"{head}: {advice}")


def _round_down(n: float) -> int:
    """``n`` rounded down to two significant digits (a count to suggest, not a promise)."""
    n = int(n)
    if n < 100:
        return n
    scale = 10 ** (len(str(n)) - 2)
    return n // scale * scale


def _size(n: float) -> str:
    """Bytes in words, three significant digits: ``96.3 GB``, ``512 MB``, ``1.78 TB`` (decimal units)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 1e3:.3g} kB"


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
    from sim.engines.fast import kernel

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
    numba.set_num_threads(_numba_threads(threads))
    try:
        # Chunked whether or not progress is shown: a signal is handled between chunks,
        # so Ctrl-C stops a long run within seconds instead of at its end.
        return _run_numba_chunked(run, numba.get_num_threads(), label=label, show=progress)
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
    run: CompiledRun,
    threads: int,
    sizes: Sequence[int] | None = None,
    stream: TextIO | None = None,
    label: str = "lora-tco",
    show: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The numba engine over consecutive chunks of replications, with progress.

    Every random number is keyed by replication index, so the result is
    bit-identical to one call over all rows whatever the chunking. Chunks start
    small and grow by 4x while the run is timed; if the rest is expected to take
    less than ``LONG_RUN_S`` it runs in one call and nothing is shown, otherwise
    progress starts and chunks are sized to last about ``CHUNK_S`` seconds.
    ``sizes`` (tests) fixes the chunk sizes instead, the last one repeating.
    ``show=False`` keeps the chunks (a signal is handled between two) and shows nothing.
    """
    from sim.engines.fast.kernel import run_kernel

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
            interrupt.check()
            if not report.started and calls >= 2:  # the first call may include loading the kernel
                if per_row * (n - done) < LONG_RUN_S:
                    size = n - done  # short: finish in one call, show nothing
                    continue
                if not show:
                    size = max(1, int(CHUNK_S[False] / max(per_row, 1e-9)))
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
