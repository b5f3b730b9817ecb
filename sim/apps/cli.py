"""The ``lora-tco`` command: a Hydra app over ``configs/``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from models.compile import ACCOUNTING_BASES
from models.errors import ConfigError
from models.schema import register_configs
from sim.apps import jobs
from sim.apps.background import Background, BackgroundError
from sim.apps.studies import run_study, totals_table
from sim.core import interrupt
from sim.core.interrupt import DEBUG_ENV, FolderRollback, Interrupted, debug_mode, debug_requested, signals_raise
from sim.core.labels import text_table, usd_unit
from sim.core.packaged import CONFIG_DIR
from sim.run.config import COMPOSE_ERRORS, check_command_line, check_extras, friendly_error, validate
from sim.run.results import Results, atomic_write, check_truncation, write_parquet
from sim.run.runner import check_run_memory, simulate


def _size(results: Results, replications: int) -> str:
    if results.shard:
        total = results.config.get("replications", replications) if results.config else replications
        return f"shard {results.shard}: {replications:,} of {int(total):,} replications"
    return f"{replications:,} replications"


SUMMARY_COLUMNS = (
    ("TCO mean", "tco_mean"),
    ("p05", "tco_p05"),
    ("p50", "tco_p50"),
    ("p95", "tco_p95"),
    ("econ mean", "economic_mean"),
    ("econ p05", "economic_p05"),
    ("econ p95", "economic_p95"),
)


def format_summary(results: Results) -> str:
    """The summary as a text table, in USD thousands or millions (whichever keeps the
    numbers readable), columns as wide as their widest cell."""
    s = results.summary()
    divisor, unit, decimals = usd_unit(s[[key for _, key in SUMMARY_COLUMNS]].to_numpy().ravel())
    rows = [
        [r["label"], *(f"{r[key] / divisor:,.{decimals}f}" for _, key in SUMMARY_COLUMNS), f"{r['p_cheapest_tco']:.0%}"]
        for _, r in s.iterrows()
    ]
    lines = [
        f"lora-tco: {_size(results, int(s['replications'].iloc[0]))} x {results.horizon_years} years, seed {results.seed} "
        f"({unit}, undiscounted; economic = TCO + downtime + staleness)",
        f"accounting basis: {ACCOUNTING_BASES[results.accounting_basis]}",
        *text_table(["operating model", *(name for name, _ in SUMMARY_COLUMNS), "P(cheapest)"], rows),
    ]
    labels = dict(zip(results.model_names, results.model_labels, strict=True))
    for name, found in results.warnings().items():
        lines += [f"warning: {labels[name]}: {text}" for text in found]
    return "\n".join(lines)


def format_paired(results: Results) -> str:
    """Each other model against the cheapest on average: the paired difference with its
    95 % CI, beside the CI an unpaired comparison of the same runs would give."""
    from sim.analysis import paired_comparison

    if len(results.model_names) < 2 or results.costs.shape[1] < 2:
        return ""
    means = results.totals().mean(axis=1)
    best = results.model_names[int(means.argmin())]
    label = dict(zip(results.model_names, results.model_labels, strict=True))
    lines = [f"paired on common random numbers, against the cheapest on average ({label[best]}), USD thousands:"]
    for name in results.model_names:
        if name == best:
            continue
        r = paired_comparison(results, name, best).iloc[0]
        half, unpaired = 1.96 * r["se"] / 1e3, 1.96 * r["unpaired_se"] / 1e3
        lines.append(
            f"  {label[name]}: {r['mean_difference'] / 1e3:+,.0f} more (95 % CI ±{half:,.1f}; "
            f"an unpaired comparison: ±{unpaired:,.1f}, {r['se_ratio']:.1f}x wider); cheaper in {r['p_a_cheaper']:.0%} of replications"
        )
    return "\n".join(lines)


class RunFailed(Exception):
    """A run that cannot finish, told in one line (:attr:`exit_code`: 1 a failure, 2 bad input)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe_failure(exc: BaseException) -> tuple[str, int]:
    """One line for a failure, and the exit code: 2 for bad input, 1 otherwise."""
    if isinstance(exc, RunFailed):
        return str(exc), exc.exit_code
    if isinstance(exc, ConfigError):
        return str(exc), 2
    if isinstance(exc, COMPOSE_ERRORS):
        return str(friendly_error(exc)), 2
    if isinstance(exc, OSError):
        path = exc.filename or ""
        reason = exc.strerror or " ".join(str(exc).split())
        return (f"{path}: {reason}" if path else reason), 1
    if isinstance(exc, BackgroundError):
        return f"drawing the charts failed: {exc}", 1
    detail = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {detail} (unexpected: {DEBUG_HINT})", 1


DEBUG_HINT = "run again with --debug or LORA_TCO_DEBUG=1 for the traceback"


class JobFailed(RuntimeError):
    """A sweep job failed in a launcher's worker process; Hydra carries it back to the sweep."""


@dataclass
class RunOutcome:
    """How this command's run failed, or the jobs of its sweep that failed (each already
    told in one line).

    Jobs run in this process with Hydra's basic launcher, so they are collected here
    and the sweep carries on; a job in another process (a launcher's worker) raises
    :class:`JobFailed` for Hydra to carry back instead.
    """

    owner_pid: int = field(default_factory=os.getpid)
    jobs: list[str] = field(default_factory=list)
    single_run: RunFailed | None = None  # how a single run (not a sweep) failed


def _hydra_app(failures: RunOutcome) -> Callable[[], None]:
    """The Hydra app over ``configs/``; its jobs report failures into ``failures``."""

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
    def app(cfg: DictConfig) -> None:
        _job(cfg, failures)

    return app


def _job(cfg: DictConfig, failures: RunOutcome) -> None:
    """One run, or one job of a sweep: every file it writes, or none of them."""
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    out = Path(hydra_cfg.runtime.output_dir)
    rollback: FolderRollback | None = None  # only once the folder is this job's: never roll back another run's files
    complete = False
    try:
        plain = validate(cfg)
        claim = jobs.claim(out, plain, multirun)  # holds the folder; removes old markers unless a sweep skips the job
        if claim.skip:
            print(f"lora-tco: {out.name}: already finished with this config, skipped")
            return
        rollback = FolderRollback(out, keep=(jobs.DONE, jobs.FAILED, jobs.LOCK))
        written, text, refusal = _run(plain, out, multirun)
        if refusal is not None:
            # The files stay, with their warnings, for a look at what went wrong; no done
            # marker vouches for them, and the exit status says they are not a result.
            rollback = None
            if plain["output"]["print_summary"]:
                print(text)
            raise RunFailed(refusal.removeprefix("lora-tco: "), TRUNCATED_EXIT)
        claim.done(plain, written)  # last: it vouches for every file above
        rollback, complete = None, True
        if plain["output"]["print_summary"]:
            print(text)
            print(f"\nwrote {', '.join(p.name for p in written)} to {out}")
    except Interrupted as stop:
        interrupt.handled()
        if complete:
            stop.outcome = f"the results in {out} are complete"
        else:
            stop.outcome = rollback.rollback() if rollback is not None else f"nothing was written to {out}"
        raise
    except Exception as exc:
        if debug_mode():
            raise
        message, code = describe_failure(exc)
        outcome = rollback.rollback() if rollback is not None else ""
        if not multirun:
            # Returned, not raised: Hydra would print a line of its own for a raised error.
            failures.single_run = RunFailed(f"{message}; {outcome}" if outcome else message, code)
            return
        jobs.mark_failed(out, message)
        name = f"job {hydra_cfg.job.num} ({' '.join(hydra_cfg.overrides.task) or 'no overrides'})"
        line = f"lora-tco: {name} failed: {message}"
        if os.getpid() != failures.owner_pid:
            raise JobFailed(line) from None
        print(line, file=sys.stderr, flush=True)
        failures.jobs.append(name)  # the sweep goes on with the other jobs


TRUNCATED_EXIT = 3  # the run finished, but too many replications stopped at the event cap


def _run(plain: dict, out: Path, multirun: bool) -> tuple[list[Path], str, str | None]:
    """One comparison (also each point of a swept study), or a whole study: the files
    written, the text to print, and why the results must not be trusted (or None)."""
    check_extras(plain)
    kind = plain["study"]["kind"]
    if kind != "none" and not (multirun and kind in ("break_even", "decision_map")):
        return (*run_study(plain, out, charts=plain["output"]["charts"]), None)
    results = simulate(plain)
    output = plain["output"]
    background, finish_charts = _start_charts(plain, results, out) if output["charts"] or output["deck"] else (None, list)
    try:
        written = results.save(out)
        totals = totals_table(results)
        written.append(atomic_write(out / "totals.parquet", lambda p: write_parquet(totals, p, results.metadata())))
        if len(results.model_names) > 1:
            from sim.analysis import paired_comparison

            table = paired_comparison(results)
            written.append(atomic_write(out / "paired_comparison.csv", lambda p: table.to_csv(p, index=False)))
        charts = finish_charts()
    except BaseException:
        if background is not None:
            background.stop()  # the chart child must not go on writing after this run failed
        raise
    written += [f for chart in charts for f in chart.files]
    if output["excel"]:
        from sim.outputs.workbook import write_excel

        written.append(write_excel(results, out / "results.xlsx"))
    if output["deck"]:
        from sim.outputs.deck import write_deck

        written.append(write_deck(results, [(chart.png, chart.title) for chart in charts], out / "results.pptx"))
    paired = format_paired(results)
    return written, format_summary(results) + (f"\n\n{paired}" if paired else ""), check_truncation(results)


# Rendered in a forked child while the parent writes the data files and draws the rest:
# about half of the chart work each (the timeline includes its SimPy trace).
_BACKGROUND_CHARTS = ("cost_by_year", "convergence", "year_in_the_life")


def _start_charts(plain: dict, results: Results, out: Path) -> tuple[Background, Callable[[], list]]:
    """Start the standard chart set: returns the background child, and a function that
    draws the rest and returns every chart in the standard order. The year-in-the-life timeline traces replication 0
    of the first self-managed model (else the first model) on the SimPy engine."""
    from sim.outputs import charts as plots

    formats = plain["output"]["chart_formats"]
    if "png" not in formats and plain["output"]["deck"]:
        formats = ["png", *formats]  # the deck embeds the PNG

    def render(names: tuple[str, ...]) -> list:
        events, traced = None, None
        if "year_in_the_life" in names and plain["output"]["year_in_the_life"]:
            from sim.run.runner import trace

            models = list(results.model_names)
            traced = next((n for n in models if "self_managed" in n), models[0])
            one = {**plain, "shard": "", "replications": max(1, int(plain["replications"]))}
            events = trace(one, replication=int(results.replications[0]), operating_model=traced)
        return plots.save_standard_charts(results, out, events, traced, formats, only=names)

    background = Background(lambda: [chart.to_dict() for chart in render(_BACKGROUND_CHARTS)])

    def finish() -> list:
        own = render(tuple(n for n in plots.STANDARD_CHARTS if n not in _BACKGROUND_CHARTS))
        charts = own + [plots.Chart.from_dict(d) for d in background.result()]
        return sorted(charts, key=lambda chart: plots.STANDARD_CHARTS.index(chart.name))

    return background, finish


def main() -> None:
    """Console entry point: check the command line first so bad input gets one line, then run.

    Every way a run can end badly ends here in one line on stderr and an exit code:
    2 bad input, 1 a failed run or sweep, 128 + signal when interrupted. ``--debug``
    (or ``LORA_TCO_DEBUG=1``) shows the traceback instead.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed (and none on a cluster node)
    debug, args = debug_requested(sys.argv[1:])
    if debug:
        os.environ[DEBUG_ENV] = "1"  # also seen by the jobs of a launcher's worker processes
    # Hydra prints its own (partial) traceback unless told to re-raise; the boundary below
    # turns what it re-raises into one line.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    register_configs()
    try:
        with signals_raise():
            command = check_command_line(args)
            if command.plain is not None:
                check_run_memory(command.plain)  # before Hydra starts: a run that cannot fit is refused in seconds
            sys.argv[1:] = command.args
            failures = RunOutcome()
            with jobs.run_folder_lock(command):
                _hydra_app(failures)()
            if failures.single_run is not None:
                raise failures.single_run
            if failures.jobs:
                names = "; ".join(failures.jobs[:4]) + ("; ..." if len(failures.jobs) > 4 else "")
                raise RunFailed(f"the sweep finished with {len(failures.jobs)} failed job(s): {names}")
    except Interrupted as stop:
        interrupt.handled()
        print(f"lora-tco: interrupted; {stop.outcome or 'nothing was written'}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except Exception as exc:
        if debug:
            raise
        message, code = describe_failure(exc)
        print(f"lora-tco: error: {message}", file=sys.stderr)
        sys.exit(code)
