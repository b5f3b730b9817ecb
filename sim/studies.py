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
from sim.config import load_config, validate
from sim.results import atomic_write


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
        frame = table.copy()
        if "seed" not in frame.columns:
            frame["seed"] = seed
        atomic_write(folder / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))


def run(body: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a study; bad input prints one line and returns 2."""
    try:
        return body(args)
    except (ConfigError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
        return 2


def print_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> None:
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:,.4g}".format):
        print((frame if columns is None else frame[list(columns)]).to_string(index=False))
