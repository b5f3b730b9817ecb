"""``lora-tco-report MULTIRUN_DIR``: join the jobs of a Hydra sweep into one tidy dataset,
break-even tables and decision maps, with their charts.

Every job of a sweep ran on the same seed, so replication ``r`` saw the same world in
every job (common random numbers): the report pairs jobs replication by replication,
which is what makes the break-even interval tight. A job counts only when its folder
proves it finished (:func:`sim.apps.jobs.verify`: its done marker's file digests, the config
beside its results) and it belongs to this sweep (the seed and horizon of
``multirun.yaml``); any other job — failed, crashed, never run, or holding another
run's results — is listed by name with its reason and left out, never silently.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.analysis import Sweep, break_even, decision_table
from sim.apps import jobs
from sim.apps.errors import BAD_INPUT, fail, os_error_message
from sim.run.results import atomic_write

PROGRAM = "lora-tco-report"

MEASURES = ("tco", "economic", "tco_npv", "economic_npv")
SWEEP_IDENTITY = ("seed", "horizon_years")  # what every job of one sweep shares unless it is swept
_UNREADABLE = (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException, HydraException)


class ReportError(ValueError):
    """The sweep folder cannot be reported on; the message is one line naming the file."""


@dataclass
class Job:
    """One job of a sweep: its folder, the overrides it was launched with, its state."""

    name: str
    overrides: dict[str, str]
    folder: Path | None
    state: str  # done | failed | incomplete | missing | no-data
    reason: str = ""


@dataclass
class SweepReport:
    """Everything the report found and computed; :func:`write` saves it."""

    directory: Path
    swept: list[str]
    jobs: list[Job]
    totals: pd.DataFrame  # tidy: swept values, replication, operating_model, measures
    summary: pd.DataFrame  # per job and model: mean, se, p05, p50, p95, p_cheapest
    break_even: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: dict[tuple[str, str], object] = field(default_factory=dict)  # (a, b) -> BreakEven
    decision_map: pd.DataFrame = field(default_factory=pd.DataFrame)
    study_tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # per-job study CSVs, joined
    seed: int | None = None
    horizon_years: int | None = None

    @property
    def problems(self) -> list[Job]:
        return [j for j in self.jobs if j.state != "done"]


def _label(overrides: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in overrides.items()) or "(no overrides)"


def _parse(items: list[str]) -> dict[str, str]:
    parser = OverridesParser.create()
    out = {}
    for override in parser.parse_overrides(items):
        if override.is_sweep_override():
            continue
        out[override.get_key_element()] = override.get_value_element_as_str()
    return out


def _yaml_problem(exc: BaseException) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}" if mark is not None else problem


def sweep_record(directory: Path) -> DictConfig | None:
    """``multirun.yaml`` of the sweep in ``directory`` (``None`` if there is none).

    Raises
    ------
    ReportError
        One line naming the file when it is not a readable YAML mapping.
    """
    record = directory / "multirun.yaml"
    if not record.exists():
        return None
    try:
        cfg = OmegaConf.load(record)
    except yaml.YAMLError as exc:
        raise ReportError(f"{record}: not valid YAML ({_yaml_problem(exc)})") from None
    except (OSError, ValueError, OmegaConfBaseException) as exc:
        raise ReportError(f"{record}: unreadable ({' '.join(str(exc).split())})") from None
    if not isinstance(cfg, DictConfig):
        raise ReportError(f"{record}: not a Hydra multirun record (a YAML mapping)")
    return cfg


def expected_jobs(directory: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The swept keys and every combination of values the sweep should have run, from
    ``multirun.yaml`` (the command-line sweep and ``hydra.sweeper.params``)."""
    cfg = sweep_record(directory)
    if cfg is None:
        return [], []
    record = directory / "multirun.yaml"
    try:
        return _expected(cfg)
    except _UNREADABLE as exc:
        raise ReportError(f"{record}: unreadable sweep ({' '.join(str(exc).split())})") from None


def _expected(cfg: DictConfig) -> tuple[list[str], list[dict[str, str]]]:
    task = list(OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or [])
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    items = [f"{k}={v}" for k, v in params.items()] + task  # command line wins, as in Hydra
    parser = OverridesParser.create()
    sweeps: dict[str, list[str]] = {}
    for override in parser.parse_overrides(items):
        key = override.get_key_element()
        if override.is_sweep_override():
            sweeps[key] = [f"{v}" for v in override.sweep_string_iterator()]
        else:
            sweeps.pop(key, None)
    keys = list(sweeps)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(sweeps[k] for k in keys))]
    return keys, combos


def _sweep_identity(directory: Path, swept: list[str]) -> dict[str, object]:
    """The seed and horizon every job of the sweep must have (those not swept), from ``multirun.yaml``."""
    cfg = sweep_record(directory)
    if cfg is None:
        return {}
    out = {}
    for key in SWEEP_IDENTITY:
        if key in swept:
            continue
        try:
            value = OmegaConf.select(cfg, key, default=None)
        except OmegaConfBaseException:
            value = None
        if value is not None:
            out[key] = value
    return out


def _words(key: str) -> str:
    return key.replace("_", " ")


def belongs_to_sweep(folder: Path, identity: dict[str, object]) -> tuple[str, str]:
    """A verified job's state against its sweep: ``("done", "")``, or ``("incomplete", reason)``
    when its seed or horizon is not the sweep's, or its ``totals.parquet`` is from another seed."""
    try:
        config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    except _UNREADABLE:
        return "incomplete", "its .hydra/config.yaml is unreadable"
    for key, expected in identity.items():
        value = OmegaConf.select(config, key, default=None)
        if value != expected:
            return (
                "incomplete",
                f"results are from another run ({_words(key)} {value} in this job, {_words(key)} {expected} in multirun.yaml)",
            )
    totals = folder / "totals.parquet"
    if totals.is_file():
        try:
            meta = pq.read_schema(totals).metadata or {}
        except _UNREADABLE:
            return "incomplete", "its totals.parquet is unreadable"
        seed = meta.get(b"lora_tco.seed", b"").decode()
        if seed and seed != str(OmegaConf.select(config, "seed", default=None)):
            return (
                "incomplete",
                f"results are from another run (seed {seed} in totals.parquet, seed {config.get('seed')} in .hydra/config.yaml)",
            )
    return "done", ""


def find_jobs(directory: Path) -> tuple[list[str], list[Job]]:
    """Every job folder under ``directory`` (verified, and checked against the sweep) and
    every expected job with no folder."""
    keys, combos = expected_jobs(directory)
    identity = _sweep_identity(directory, keys)
    found: list[Job] = []
    for overrides_file in sorted(directory.glob("**/.hydra/overrides.yaml")):
        folder = overrides_file.parent.parent
        name = folder.relative_to(directory).as_posix()
        try:
            given = _parse(list(OmegaConf.load(overrides_file)))
        except (*_UNREADABLE, TypeError):
            found.append(Job(name, {}, folder, "incomplete", "its .hydra/overrides.yaml is unreadable"))
            continue
        state, reason = jobs.verify(folder)
        if state == "done":
            state, reason = belongs_to_sweep(folder, identity)
        found.append(Job(name, given, folder, state, reason))
    if not keys:  # no multirun.yaml: the keys that differ between jobs
        all_keys = {k for j in found for k in j.overrides}
        keys = sorted(k for k in all_keys if len({j.overrides.get(k) for j in found}) > 1)
    seen = {tuple(j.overrides.get(k) for k in keys) for j in found}
    for combo in combos:
        if tuple(combo[k] for k in keys) not in seen:
            found.append(Job(_label(combo), combo, None, "missing", "no job folder: the job never started"))
    return keys, found


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def gather(directory: str | Path) -> SweepReport:
    """Read every job of the sweep in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MULTIRUN_DIR = {str(directory)!r}: not a folder")
    keys, found = find_jobs(directory)
    if not found:
        raise FileNotFoundError(f"MULTIRUN_DIR = {str(directory)!r}: no Hydra jobs found (no */.hydra/overrides.yaml)")
    frames, studies = [], {}
    seed = horizon = None
    for job in found:
        if job.state != "done":
            continue
        values = {k: _number(job.overrides.get(k, "")) for k in keys}
        vouched = set((jobs.record(job.folder) or {}).get("files", {}))  # never a stray file of an older run
        totals_file = job.folder / "totals.parquet"
        if totals_file.name in vouched:
            frame = pd.read_parquet(totals_file)
            for k, v in values.items():
                frame.insert(0, k, v)
            frame.insert(0, "job", job.name)
            frames.append(frame)
        for csv in sorted(job.folder.glob("*.csv")):
            if csv.name in ("summary.csv", "paired_comparison.csv") or csv.name not in vouched:
                continue
            table = pd.read_csv(csv)
            for k, v in values.items():
                table.insert(0, k, v)
            table.insert(0, "job", job.name)
            studies.setdefault(csv.stem, []).append(table)
        config = OmegaConf.load(job.folder / ".hydra" / "config.yaml")
        seed, horizon = int(config.seed), int(config.horizon_years)
        if totals_file.name not in vouched and not any(name.endswith(".csv") for name in vouched):
            job.state, job.reason = "no-data", "finished but wrote no tables"
    totals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    report = SweepReport(
        directory=directory,
        swept=keys,
        jobs=found,
        totals=totals,
        summary=_summary(totals, keys),
        study_tables={k: pd.concat(v, ignore_index=True) for k, v in studies.items()},
        seed=seed,
        horizon_years=horizon,
    )
    _analyse(report)
    return report


def _summary(totals: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if totals.empty:
        return pd.DataFrame()
    rows = []
    cheapest = totals.loc[totals.groupby(["job", "replication"])["tco"].idxmin(), ["job", "operating_model"]]
    share = cheapest.value_counts(normalize=False).rename("count").reset_index()
    counts = totals.groupby("job")["replication"].nunique()
    for (job, model), group in totals.groupby(["job", "operating_model"], sort=False, observed=True):
        values = group["tco"].to_numpy()
        n = values.size
        hit = share[(share["job"] == job) & (share["operating_model"] == model)]["count"]
        rows.append(
            {
                "job": job,
                **{k: group[k].iloc[0] for k in keys},
                "operating_model": model,
                "tco_mean": values.mean(),
                "tco_se": values.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan,
                "tco_p05": np.quantile(values, 0.05),
                "tco_p50": np.quantile(values, 0.50),
                "tco_p95": np.quantile(values, 0.95),
                "economic_mean": group["economic"].mean(),
                "p_cheapest_tco": float(hit.sum()) / counts[job],
                "replications": n,
            }
        )
    return pd.DataFrame(rows)


def _grid(totals: pd.DataFrame, keys: list[str], seed: int, horizon: int) -> Sweep | None:
    """The sweep as arrays [points, models, replications] over the replications every
    job has (they share replication indices, so the points stay paired)."""
    numeric = [k for k in keys if pd.api.types.is_numeric_dtype(totals[k])]
    if not numeric or len(numeric) != len(keys):
        return None
    models = list(dict.fromkeys(totals["operating_model"]))
    common = set.intersection(*(set(g["replication"]) for _, g in totals.groupby("job")))
    if len(common) < 2:
        return None
    reps = np.array(sorted(common))
    points = totals[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    arrays = {m: np.empty((len(points), len(models), reps.size)) for m in MEASURES}
    indexed = totals.set_index([*keys, "operating_model", "replication"]).sort_index()
    for p, point in points.iterrows():
        for k, model in enumerate(models):
            rows = indexed.loc[(*point.tolist(), model)].loc[reps]
            for m in MEASURES:
                arrays[m][p, k] = rows[m].to_numpy()
    return Sweep(tuple(keys), points, tuple(models), arrays, seed, horizon, int(reps.size))


def _analyse(report: SweepReport) -> None:
    if report.totals.empty or report.seed is None:
        return
    grid = _grid(report.totals, report.swept, report.seed, report.horizon_years or 0)
    if grid is None:
        return
    if len(report.swept) == 1 and len(grid.points) >= 2:
        rows = []
        for a, b in itertools.combinations(grid.model_names, 2):
            result = break_even(grid, a, b)
            report.curves[(a, b)] = result
            rows.append({**result.as_row(), "takeaway": result.describe()})
        report.break_even = pd.DataFrame(rows)
    elif len(report.swept) == 2:
        report.decision_map = decision_table(grid)


def write(report: SweepReport, output: Path, charts: bool = True) -> list[Path]:
    """Write the dataset, tables and charts into ``output`` (each file atomically)."""
    from sim.outputs import charts as plots

    output.mkdir(parents=True, exist_ok=True)
    written = []
    seed = report.seed

    def table(name: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        frame = frame.copy()
        if "seed" not in frame.columns and seed is not None:
            frame["seed"] = seed
        if name == "sweep":
            written.append(atomic_write(output / "sweep.parquet", lambda p: frame.to_parquet(p, index=False)))
        else:
            written.append(atomic_write(output / f"{name}.csv", lambda p: frame.to_csv(p, index=False)))

    status = pd.DataFrame(
        [{"job": j.name, "state": j.state, "reason": j.reason, **{k: j.overrides.get(k) for k in report.swept}} for j in report.jobs]
    )
    table("jobs", status)
    table("sweep", report.totals)
    table("sweep_summary", report.summary)
    table("break_even", report.break_even)
    table("decision_map", report.decision_map)
    for name, frame in report.study_tables.items():
        table(f"jobs_{name}", frame)
    if charts and seed is not None:
        reps = int(report.summary["replications"].min()) if not report.summary.empty else 0
        note = plots.provenance(reps, report.horizon_years or 0, seed)
        if report.problems:
            note += f"; {len(report.problems)} job(s) missing or failed, see jobs.csv"
        for (a, b), result in report.curves.items():
            stem = f"break_even_{a}_vs_{b}"
            written += plots.save_chart(plots.break_even_chart(result, note), output, f"{stem}").files
            written += plots.save_chart(plots.p_cheaper_chart(result, note), output, f"p_cheaper_{a}_vs_{b}").files
        if not report.decision_map.empty:
            x, y = report.swept
            written += plots.save_chart(plots.decision_map_chart(report.decision_map, x, y, note), output, "decision_map").files
    return written


def main(argv: list[str] | None = None) -> int:
    """Console entry point ``lora-tco-report``."""
    p = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.splitlines()[0])
    p.add_argument("multirun_dir", type=Path, help="the sweep folder Hydra wrote (multirun/DATE/TIME)")
    p.add_argument("--output", type=Path, default=None, help="where to write (default: MULTIRUN_DIR/report)")
    p.add_argument("--no-charts", action="store_true")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # files only
    try:
        report = gather(args.multirun_dir)
    except (FileNotFoundError, ValueError) as exc:
        return fail(PROGRAM, str(exc), BAD_INPUT)
    output = args.output or args.multirun_dir / "report"
    if output.exists() and not output.is_dir():
        return fail(PROGRAM, f"{output}: exists and is not a folder; give --output a folder", BAD_INPUT)
    try:
        written = write(report, output, charts=not args.no_charts)
    except OSError as exc:
        return fail(PROGRAM, os_error_message(exc, output), BAD_INPUT)
    done = sum(j.state == "done" for j in report.jobs)
    print(f"{PROGRAM}: {done} of {len(report.jobs)} jobs finished; swept: {', '.join(report.swept) or 'nothing'}")
    for _, row in report.break_even.iterrows():
        print(f"  {row['takeaway']}")
    if not report.decision_map.empty:
        x, y = report.swept
        cells = report.decision_map[[x, y, "cheapest", "p_cheapest"]]
        print(cells.to_string(index=False))
    for job in report.problems:
        swept = {k: v for k, v in job.overrides.items() if k in report.swept} or job.overrides
        label = f"job {job.name} ({_label(swept)})" if job.folder is not None else f"job {job.name}"
        print(f"  NOT INCLUDED: {label} [{job.state}]: {job.reason}", file=sys.stderr)
    print(f"wrote {len(written)} files to {output}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
