"""Shared plumbing of the scripted studies in ``experiments/``: one command line
(Hydra overrides, replications, models, output folder) and atomic CSV output that
carries the seed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from models.errors import ConfigError
from sim.apps.errors import BAD_INPUT, fail
from sim.run.config import load_config, validate
from sim.run.results import atomic_write


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every study shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. scenario.regulated_share=0.5 seed=7")
    p.add_argument("--replications", type=int, default=None, help="replications per point (default: the config's)")
    p.add_argument("--output", type=Path, default=None, help="folder for the CSV tables (written atomically)")
    return p


def values(text: str) -> list[float]:
    """``"1,2,5"`` or ``"1:10"`` (integers, inclusive) or ``"0.5:2:0.5"`` (start:stop:step, inclusive)."""
    if ":" in text:
        parts = [float(p) for p in text.split(":")]
        start, stop = parts[0], parts[1]
        step = parts[2] if len(parts) > 2 else 1.0
        if step <= 0 or stop < start:
            raise argparse.ArgumentTypeError(f"{text!r}: need start <= stop and step > 0")
        count = round((stop - start) / step) + 1
        return [start + i * step for i in range(count)]
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 1,2,5 or 1:10") from None


def config(args: argparse.Namespace) -> dict:
    """The validated plain config of a study's command line."""
    overrides = list(args.overrides)
    if args.replications is not None:
        overrides.append(f"replications={args.replications}")
    return validate(load_config(overrides))


def save(folder: Path | None, tables: Mapping[str, pd.DataFrame], seed: int) -> None:
    """Write each table as ``<name>.csv`` with a ``seed`` column, atomically."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        _csv(folder, name, table, seed)


def run(body: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a study; bad input prints one line and returns 2."""
    try:
        return body(args)
    except (ConfigError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return fail(Path(sys.argv[0]).name, str(message), BAD_INPUT)


def print_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> None:
    print(_text(frame if columns is None else frame[list(columns)]))


# ---------------------------------------------------------------------------------
# studies run by the CLI (``study.kind``), in one process
# ---------------------------------------------------------------------------------
def totals_table(results) -> pd.DataFrame:
    """Per replication and operating model: TCO and economic cost, undiscounted and
    NPV. ``lora-tco-report`` joins these across the jobs of a sweep."""
    frames = []
    for m, name in enumerate(results.model_names):
        frame = pd.DataFrame({"replication": results.replications, "operating_model": name})
        for measure in ("tco", "economic"):
            frame[measure] = results.totals(measure)[m]
            frame[f"{measure}_npv"] = results.totals(measure, npv=True)[m]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _csv(folder: Path, name: str, frame: pd.DataFrame, seed: int) -> Path:
    frame = frame.copy()
    if "seed" not in frame.columns:
        frame["seed"] = seed
    return atomic_write(folder / f"{name}.csv", lambda p: frame.to_csv(p, index=False))


def run_study(plain: Mapping, folder: Path, charts: bool = True) -> tuple[list[Path], str]:
    """Run ``plain['study']`` in this process; write its tables (and charts) into
    ``folder``. Returns the files written and a short text report."""
    from sim import analysis
    from sim.outputs import charts as plots

    study = plain["study"]
    kind = study["kind"]
    seed, years, reps = int(plain["seed"]), int(plain["horizon_years"]), int(plain["replications"])
    footnote = plots.provenance(reps, years, seed)
    formats = list(plain["output"].get("chart_formats", plots.FORMATS))
    written: list[Path] = []
    if kind == "break_even":
        data = analysis.sweep(plain, study["parameter"], list(study["values"]), models=[study["a"], study["b"]])
        result = analysis.break_even(data, study["a"], study["b"], confidence=float(study["confidence"]))
        written += [
            _csv(folder, "break_even_curve", result.curve, seed),
            _csv(folder, "break_even", pd.DataFrame([result.as_row()]), seed),
            _csv(folder, "sweep_means", data.means(), seed),
        ]
        if charts:
            written += plots.save_chart(plots.break_even_chart(result, footnote, data.model_names), folder, "break_even", formats).files
            written += plots.save_chart(plots.p_cheaper_chart(result, footnote), folder, "p_cheaper", formats).files
        return written, result.describe() + "\n" + _text(result.curve)
    if kind == "decision_map":
        x, y = study["parameter"], study["y_parameter"]
        frame = analysis.decision_map(plain, (x, list(study["values"])), (y, list(study["y_values"])))
        written.append(_csv(folder, "decision_map", frame, seed))
        if charts:
            names = tuple(plain["operating_model"])
            written += plots.save_chart(plots.decision_map_chart(frame, x, y, footnote, names), folder, "decision_map", formats).files
        return written, _text(frame[[x, y, "cheapest", "p_cheapest", "margin"]])
    if kind == "sensitivity":
        b = None if study["b"] in ("", "none") else study["b"]
        swings = analysis.tornado(plain, study["a"], b)
        indices = analysis.sobol_indices(plain, study["a"], b, base_samples=int(study["sobol_samples"]))
        written += [_csv(folder, "tornado", swings, seed), _csv(folder, "sobol", indices, seed)]
        if charts:
            written += plots.save_chart(plots.tornado_chart(swings, plots.provenance(reps, years, seed)), folder, "tornado", formats).files
        text = _text(swings[["input", "low_value", "high_value", "swing"]]) + "\n\n" + _text(indices[["input", "S1", "ST"]])
        return written, text
    if kind == "article_table":
        from sim.analysis import article_table as article

        models = list(plain["operating_model"])
        table = article.article_table(reps, years, seed, plain["engine"]["name"], models, base=plain)
        written.append(_csv(folder, "article_table", table, seed))
        lines = [article.format_table(table, models[0]), "", *(f"- {line}" for line in article.explain(table, models[0]))]
        return written, "\n".join(lines)
    if kind == "article_decision_table":
        from sim.analysis import article_decision_table as decision_table

        table = decision_table.decision_table(plain)
        written.append(_csv(folder, "article_decision_table", table, seed))
        return written, decision_table.format_table(table)
    raise ValueError(f"study.kind = {kind!r}: nothing to run")


def _text(frame: pd.DataFrame) -> str:
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:,.4g}".format):
        return frame.to_string(index=False)
