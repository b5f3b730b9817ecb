"""Tables the workbook and the deck share: every input of a run with its source (the
workbook's ``assumptions`` sheet, and the rows the deck's key-assumptions slide picks)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from models.distributions import parse_uncertain, to_compact
from models.errors import ConfigError
from sim.core.labels import exact_number, number
from sim.run.provenance import SectionSource, run_sources
from sim.run.results import Results

__all__ = ["ASSUMPTION_COLUMNS", "assumptions_table", "describe_value", "n_replications"]

ASSUMPTION_COLUMNS = ["section", "parameter", "value", "mean", "kind", "source / note"]


def n_replications(results: Results) -> int:
    """Replications (simulated futures) per operating model of ``results``."""
    return int(results.costs.shape[1])


def _is_leaf(value: Any) -> bool:
    # A distribution or a per-event spec is one input, not a section of inputs.
    return not isinstance(value, Mapping) or "dist" in value or "family" in value


def _flatten(tree: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    """Leaves of a config tree; a distribution or a per-event spec is one leaf."""
    rows = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if _is_leaf(value):
            rows.append((path, value))
        else:
            rows.extend(_flatten(value, f"{path}."))
    return rows


def _lookup(tree: Mapping, dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _compact(path: str, spec: Any) -> str:
    """A distribution mapping as ``pert(1, 2, 4)``: :func:`to_compact` (which validates
    it and names the kind), with numbers written without float noise."""
    text = spec if isinstance(spec, str) else to_compact(path, spec)
    kind, _, args = text.partition("(")
    try:
        numbers = [float(a) for a in args.rstrip(")").split(",")]
    except ValueError:
        return text
    return f"{kind}({', '.join(exact_number(x) for x in numbers)})"


def describe_value(path: str, value: Any) -> tuple[Any, float | None, str]:
    """How an input reads in a table: (shown value, its mean or None, kind).

    A number stays a number; a distribution shows in compact form (``pert(1, 2, 4)``);
    a per-event spec shows as ``lognormal(mean=12, cv=0.5)`` (its keywords keep it
    apart from the compact ``lognormal(median, sigma)`` of an uncertain input).

    Parameters
    ----------
    path : str
        The input's config path (named in the error of a malformed distribution).
    value : any
        The input as the plain config holds it.

    Returns
    -------
    tuple
        ``(shown, mean, kind)``; ``kind`` is ``fixed``, ``uncertain (drawn per
        replication)``, ``per event`` (``, mean uncertain``) or ``setting``.
    """
    if isinstance(value, bool):
        return str(value).lower(), None, "setting"
    if isinstance(value, (int, float)):
        return value, float(value), "fixed"
    if isinstance(value, Mapping) and "family" in value:
        mean = value.get("mean")
        family = str(value["family"])
        if isinstance(mean, (Mapping, str)):
            shown_mean, mean_value, _ = describe_value(f"{path}.mean", mean)
            kind = "per event, mean uncertain"
        else:
            shown_mean, mean_value, kind = mean, (float(mean) if isinstance(mean, (int, float)) else None), "per event"
        if family == "fixed":
            return f"fixed({number(shown_mean)})", mean_value, "fixed"
        if family == "exponential":
            return f"exponential(mean={number(shown_mean)})", mean_value, kind
        return f"{family}(mean={number(shown_mean)}, cv={number(value.get('cv'))})", mean_value, kind
    if isinstance(value, Mapping) or (isinstance(value, str) and "(" in value):
        try:
            dist = parse_uncertain(path, value)
            shown = _compact(path, value)
        except ConfigError:
            return str(value), None, "setting"
        return shown, dist.mean, "fixed" if dist.is_degenerate else "uncertain (drawn per replication)"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(number(v) for v in value) + "]", None, "setting"
    return ("" if value is None else str(value)), None, "setting"


def _section_rows(section: str, tree: Mapping, source: SectionSource | None) -> list[dict[str, Any]]:
    """One row per input of a section, its note the source comment of its key."""
    comments = source.comments if source else {}
    file_values = source.values if source else {}
    prefix = f"{section}."
    rows = []
    for key, value in _flatten(tree):
        shown, mean, kind = describe_value(f"{prefix}{key}", value)
        parts = [comments[key]] if key in comments else []
        if isinstance(value, Mapping):
            # A multi-line spec carries its sources on its sub-keys (mean: ..., cv: ...).
            parts += [f"{k[len(key) + 1 :]}: {c}" for k, c in comments.items() if k.startswith(f"{key}.")]
        note = "; ".join(parts)
        file_value = _lookup(file_values, key)
        if source and file_value is not None and file_value != value:
            file_shown = describe_value(f"{prefix}{key}", file_value)[0]
            note = f"set for this run ({source.file} gives {number(file_shown)})" + (f"; file note: {note}" if note else "")
        rows.append({"section": section, "parameter": f"{prefix}{key}", "value": shown, "mean": mean, "kind": kind, "source / note": note})
    return rows


def assumptions_table(results: Results, config_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every scenario and operating-model input of the run, then the run settings.

    Parameters
    ----------
    results : Results
        Output of :func:`sim.simulate` (or :meth:`Results.from_saved`).
    config_dir : path, optional
        The config folder whose YAML comments source the inputs (default: the
        packaged ``configs/``).

    Returns
    -------
    DataFrame
        ``section, parameter, value, mean, kind, source / note``: ``parameter`` is the
        full config path (usable as a Hydra override), ``value`` a number or a compact
        distribution, and the note the inline comment of that key in the YAML files
        Hydra composes for the run's scenario or operating model (a preset's comment
        over the file it extends), flagged when this run's value differs from the files'.

    Raises
    ------
    ConfigError
        When Hydra cannot compose the config folder's config.
    """
    cfg = results.config or {}
    sources = run_sources(cfg, Path(config_dir) if config_dir else None)
    rows: list[dict[str, Any]] = []
    if cfg.get("scenario"):
        rows += _section_rows("scenario", cfg["scenario"], sources.get("scenario"))
    for model, tree in (cfg.get("operating_model") or {}).items():
        section = f"operating_model.{model}"
        rows += _section_rows(section, tree, sources.get(section))

    engine = cfg.get("engine") or {}
    inputs = cfg.get("inputs") or {}
    run = [
        ("seed", results.seed, "master seed: every random number is keyed on it"),
        ("replications", n_replications(results), "simulated futures per operating model"),
        ("horizon_years", results.horizon_years, "simulated years of operation"),
        ("engine", results.engine or engine.get("name", ""), "numba (fast) and simpy (reference) give the same numbers"),
        ("inputs.sampling", inputs.get("sampling", "independent"), "how uncertain inputs are sampled across replications"),
        ("inputs.rank_correlations", str(inputs.get("rank_correlations") or "none"), "Spearman rank correlations imposed on the inputs"),
    ]
    if results.shard:
        run.append(("shard", results.shard, "these results are one shard of a larger run"))
    for key, value, note in run:
        rows.append({"section": "run", "parameter": key, "value": value, "mean": None, "kind": "setting", "source / note": note})
    return pd.DataFrame(rows, columns=ASSUMPTION_COLUMNS)
