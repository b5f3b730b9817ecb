"""The ``lora-tco`` command: a Hydra app over ``configs/``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from models.compile import ACCOUNTING_BASES
from models.errors import ConfigError
from models.schema import register_configs
from sim import jobs
from sim.background import Background
from sim.config import check_command_line, check_extras, validate
from sim.results import Results, atomic_write, write_parquet
from sim.runner import simulate
from sim.studies import run_study, totals_table


def _size(results: Results, replications: int) -> str:
    if results.shard:
        total = results.config.get("replications", replications) if results.config else replications
        return f"shard {results.shard}: {replications:,} of {int(total):,} replications"
    return f"{replications:,} replications"


def format_summary(results: Results) -> str:
    """The summary as a fixed-width text table (USD thousands)."""
    s = results.summary()
    head = (
        f"{'operating model':<34}{'TCO mean':>10}{'p05':>9}{'p50':>9}{'p95':>9}  {'econ mean':>10}{'p05':>9}{'p95':>9}  {'P(cheapest)':>11}"
    )
    lines = [
        f"lora-tco: {_size(results, int(s['replications'].iloc[0]))} x {results.horizon_years} years, seed {results.seed} "
        f"(USD thousands, undiscounted; economic = TCO + downtime + staleness)",
        f"accounting basis: {ACCOUNTING_BASES[results.accounting_basis]}",
        head,
        "-" * len(head),
    ]
    for _, r in s.iterrows():
        lines.append(
            f"{r['label'][:33]:<34}{r['tco_mean'] / 1e3:>10,.0f}{r['tco_p05'] / 1e3:>9,.0f}{r['tco_p50'] / 1e3:>9,.0f}"
            f"{r['tco_p95'] / 1e3:>9,.0f}  {r['economic_mean'] / 1e3:>10,.0f}{r['economic_p05'] / 1e3:>9,.0f}"
            f"{r['economic_p95'] / 1e3:>9,.0f}  {r['p_cheapest_tco']:>11.0%}"
        )
    labels = dict(zip(results.model_names, results.model_labels, strict=True))
    for name, found in results.capacity_warnings().items():
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


class JobFailed(RuntimeError):
    """A multirun job failed; Hydra records it and carries on with the other jobs."""


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def _app(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    out = Path(hydra_cfg.runtime.output_dir)
    try:
        plain = validate(cfg)
        if multirun and jobs.finished(out, plain):
            print(f"lora-tco: {out.name}: already finished with this config, skipped")
            return
        written, text = _run(plain, out, multirun)
    except Exception as exc:
        message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
        if multirun:
            jobs.mark_failed(out, message)
            failure = JobFailed(f"lora-tco: job {out.name} failed: {message}")
            if isinstance(exc, ConfigError):  # bad input: one line, no traceback wall
                raise failure from None
            raise failure from exc
        if isinstance(exc, ConfigError):
            print(f"lora-tco: error: {exc}", file=sys.stderr)
            sys.exit(2)
        raise
    jobs.mark_done(out, plain, written)
    if plain["output"]["print_summary"]:
        print(text)
        print(f"\nwrote {', '.join(p.name for p in written)} to {out}")


def _run(plain: dict, out: Path, multirun: bool) -> tuple[list[Path], str]:
    """One comparison (also each point of a swept study), or a whole study."""
    check_extras(plain)
    kind = plain["study"]["kind"]
    if kind != "none" and not (multirun and kind in ("break_even", "decision_map")):
        return run_study(plain, out, charts=plain["output"]["charts"])
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
            background.wait()  # the chart child must not go on writing after this run failed
        raise
    written += [f for chart in charts for f in chart.files]
    if output["excel"]:
        from sim.export import write_excel

        written.append(write_excel(results, out / "results.xlsx"))
    if output["deck"]:
        from sim.export import write_deck

        written.append(write_deck(results, [(chart.png, chart.title) for chart in charts], out / "results.pptx"))
    paired = format_paired(results)
    return written, format_summary(results) + (f"\n\n{paired}" if paired else "")


# Rendered in a forked child while the parent writes the data files and draws the rest:
# about half of the chart work each (the timeline includes its SimPy trace).
_BACKGROUND_CHARTS = ("cost_by_year", "convergence", "year_in_the_life")


def _start_charts(plain: dict, results: Results, out: Path) -> tuple[Background, Callable[[], list]]:
    """Start the standard chart set: returns the background child, and a function that
    draws the rest and returns every chart in the standard order. The year-in-the-life timeline traces replication 0
    of the first self-managed model (else the first model) on the SimPy engine."""
    from sim import plots

    formats = plain["output"]["chart_formats"]
    if "png" not in formats and plain["output"]["deck"]:
        formats = ["png", *formats]  # the deck embeds the PNG

    def render(names: tuple[str, ...]) -> list:
        events, traced = None, None
        if "year_in_the_life" in names and plain["output"]["year_in_the_life"]:
            from sim.runner import trace

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
    """Console entry point: check the command line first so bad input gets one line, then run."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed (and none on a cluster node)
    register_configs()
    try:
        command = check_command_line(sys.argv[1:])
    except ConfigError as exc:
        print(f"lora-tco: error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.argv[1:] = command.args
    with jobs.run_folder_lock(command):
        _app()
