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

from models.schema import register_configs
from sim.analysis import paired_comparison
from sim.apps import jobs
from sim.apps.background import Background
from sim.apps.commandline import check_command_line, check_extras
from sim.apps.errors import CommandFailed, describe_failure, fail
from sim.apps.studies import run_study, totals_table
from sim.core import interrupt
from sim.core.interrupt import DEBUG_ENV, FolderRollback, Interrupted, debug_mode, debug_requested, signals_raise
from sim.core.packaged import CONFIG_DIR
from sim.outputs.terminal import format_paired, format_summary
from sim.run.config import validate
from sim.run.results import Results, atomic_write, check_truncation, write_parquet
from sim.run.runner import check_run_memory, simulate

PROGRAM = "lora-tco"


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
    single_run: CommandFailed | None = None  # how a single run (not a sweep) failed


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
            print(f"{PROGRAM}: {out.name}: already finished with this config, skipped")
            return
        rollback = FolderRollback(out, keep=(jobs.DONE, jobs.FAILED, jobs.LOCK))
        written, text, refusal = _run(plain, out, multirun)
        if refusal is not None:
            # The files stay, with their warnings, for a look at what went wrong; no done
            # marker vouches for them, and the exit status says they are not a result.
            rollback = None
            if plain["output"]["print_summary"]:
                print(text)
            raise CommandFailed(refusal.removeprefix(f"{PROGRAM}: "), TRUNCATED_EXIT)
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
            failures.single_run = CommandFailed(f"{message}; {outcome}" if outcome else message, code)
            return
        jobs.mark_failed(out, message)
        name = f"job {hydra_cfg.job.num} ({' '.join(hydra_cfg.overrides.task) or 'no overrides'})"
        line = f"{PROGRAM}: {name} failed: {message}"
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
                raise CommandFailed(f"the sweep finished with {len(failures.jobs)} failed job(s): {names}")
    except Interrupted as stop:
        interrupt.handled()
        print(f"{PROGRAM}: interrupted; {stop.outcome or 'nothing was written'}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except Exception as exc:
        if debug:
            raise
        sys.exit(fail(PROGRAM, *describe_failure(exc)))
