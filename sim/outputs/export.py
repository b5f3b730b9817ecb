"""Exports for planning decks: an Excel workbook and a PowerPoint deck of a run.

- :func:`write_excel`: the summary, paired comparisons, the cost pivot by operating
  model x category x year, one-time vs recurring cost, operational metrics and every
  input of the run with its source, as an ``.xlsx`` a planner can filter and cite;
- :func:`write_deck`: a 16:9 ``.pptx`` with a takeaway title slide, the key inputs,
  the summary table and one chart per slide, with the figures in the speaker notes.

Both files are written atomically (a temporary file in the same folder, renamed over
the target), so a failure never leaves a half-written file behind. openpyxl and
python-pptx are optional: ``pip install "lora-tco[exports]"``.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from models.compile import ACCOUNTING_BASES
from models.distributions import parse_uncertain, to_compact
from models.errors import ConfigError
from sim.analysis import absorbed_by, cost_by_year, one_time_vs_recurring, paired_comparison, summary_statistics
from sim.run.config import CONFIG_DIR
from sim.core.labels import money
from sim.core.ledger import CATEGORIES, ECONOMIC_ONLY
from sim.run.results import Results, atomic_write

__all__ = ["assumptions_table", "headline", "key_numbers", "write_deck", "write_excel", "yaml_comments"]

EXTRA = "exports"
MONEY = "#,##0"
PERCENT = "0.0%"
DECIMAL = "#,##0.00"

# The measures of the summary sheet, in the order a reader scans them: budget first.
_BLOCKS = (
    ("tco", "undiscounted", "TCO"),
    ("tco", "npv", "TCO NPV"),
    ("economic", "undiscounted", "Economic"),
    ("economic", "npv", "Economic NPV"),
)
_STATS = (("mean", "mean"), ("se", "± SE"), ("p05", "p05"), ("p50", "p50"), ("p95", "p95"), ("cvar95", "CVaR95"))

# The inputs a budget meeting argues about; the workbook's assumptions sheet has all of them.
KEY_INPUTS = (
    ("scenario.adapters", "Adapters"),
    ("scenario.refresh_interval_days", "Refresh interval (days)"),
    ("scenario.regulated_share", "Share of adapters on regulated data"),
    ("scenario.engineers", "ML engineers"),
    ("scenario.engineer_loaded_annual_usd", "Engineer loaded cost (USD / year)"),
    ("scenario.reviewer_loaded_annual_usd", "Reviewer loaded cost (USD / year)"),
    ("scenario.gpu_reserved_usd_per_hour", "H100 reserved (USD / GPU-hour)"),
    ("scenario.gpu_on_demand_usd_per_hour", "H100 on-demand (USD / GPU-hour)"),
    ("scenario.tokens_per_adapter_month_m", "Inference volume (M tokens / adapter-month)"),
    ("scenario.token_growth_per_year", "Token growth per year"),
    ("scenario.drift_rate_per_adapter_year", "Drift events per adapter-year"),
    ("scenario.incident_rate_per_deployment_year", "Incidents per deployment-year"),
)

_SLIDE_W, _SLIDE_H = 13.333, 7.5  # inches, 16:9
_ACRONYMS = {"tco": "TCO", "npv": "NPV", "gpu": "GPU", "lora": "LoRA", "sla": "SLA", "cvar": "CVaR", "p05": "p05", "p95": "p95"}


# ---------------------------------------------------------------------------------
# optional dependencies
# ---------------------------------------------------------------------------------
def _require(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f'{what} needs {module.split(".")[0]}, which is not installed: pip install "lora-tco[{EXTRA}]"') from None


# ---------------------------------------------------------------------------------
# numbers as words
# ---------------------------------------------------------------------------------
def _usd_exact(x: float) -> str:
    return f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}"


def _share(p: float) -> str:
    """A probability as a percentage that never rounds a rare event away."""
    if 0 < p < 0.005:
        return "<1 %"
    if 0.995 <= p < 1:
        return ">99 %"
    return f"{p * 100:.0f} %"


def _number(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _short_label(label: str) -> str:
    """``Managed fine-tuning (OpenAI-enterprise style)`` -> ``Managed fine-tuning``,
    so a takeaway title does not nest parentheses."""
    return label.split(" (")[0].strip() or label


def _n_replications(results: Results) -> int:
    return int(results.costs.shape[1])


# ---------------------------------------------------------------------------------
# the run's inputs, flattened, with the comment that sources each one
# ---------------------------------------------------------------------------------
_KEY_LINE = re.compile(r"^(\s*)([A-Za-z_][\w-]*)\s*:(.*)$")


def _split_comment(rest: str) -> tuple[str, str]:
    """Split ``value   # comment`` at the first ``#`` outside quotes."""
    quote = ""
    for i, ch in enumerate(rest):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1 :].strip()
    return rest.strip(), ""


def yaml_comments(path: Path) -> dict[str, str]:
    """Inline comments of a YAML file by dotted key path (``training.gpu_hours.mean``).

    Only ``key: value  # comment`` lines count; whole-line comments are headers,
    not sources of one value.
    """
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _KEY_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([*(k for _, k in stack), key])
        value, comment = _split_comment(rest)
        if comment:
            comments[dotted] = comment
        if not value:
            stack.append((indent, key))
    return comments


def _config_file(directory: Path, group: str, option: str, seen: frozenset[str] = frozenset()) -> tuple[dict[str, str], dict]:
    """Comments and values of ``group/option.yaml``, following its defaults list the
    way Hydra does (a preset's own keys over the ones it extends)."""
    path = directory / group / f"{option}.yaml"
    if not path.is_file() or option in seen:
        return {}, {}
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(values, dict):
        return yaml_comments(path), {}
    comments: dict[str, str] = {}
    merged: dict = {}
    for base in values.pop("defaults", None) or []:
        if isinstance(base, str) and base != "_self_":
            base_comments, base_values = _config_file(directory, group, base, seen | {option})
            comments.update(base_comments)
            merged = _deep_merge(merged, base_values)
    comments.update(yaml_comments(path))
    return comments, _deep_merge(merged, values)


def _deep_merge(base: dict, over: Mapping) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and "dist" not in value and "family" not in value:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _flatten(tree: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    """Leaves of a config tree; a distribution or a per-event spec is one leaf."""
    rows = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and "dist" not in value and "family" not in value:
            rows.extend(_flatten(value, f"{path}."))
        else:
            rows.append((path, value))
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
    return f"{kind}({', '.join(f'{x:.10g}' for x in numbers)})"


def describe_value(path: str, value: Any) -> tuple[Any, float | None, str]:
    """How an input reads in a table: (shown value, its mean or None, kind).

    A number stays a number; a distribution shows in compact form (``pert(1, 2, 4)``);
    a per-event spec shows as ``lognormal(mean=12, cv=0.5)`` (its keywords keep it
    apart from the compact ``lognormal(median, sigma)`` of an uncertain input).
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
            return f"fixed({_number(shown_mean)})", mean_value, "fixed"
        if family == "exponential":
            return f"exponential(mean={_number(shown_mean)})", mean_value, kind
        return f"{family}(mean={_number(shown_mean)}, cv={_number(value.get('cv'))})", mean_value, kind
    if isinstance(value, Mapping) or (isinstance(value, str) and "(" in value):
        try:
            dist = parse_uncertain(path, value)
            shown = _compact(path, value)
        except ConfigError:
            return str(value), None, "setting"
        return shown, dist.mean, "fixed" if dist.is_degenerate else "uncertain (drawn per replication)"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_number(v) for v in value) + "]", None, "setting"
    return ("" if value is None else str(value)), None, "setting"


def assumptions_table(results: Results, config_dir: Path | None = None) -> pd.DataFrame:
    """Every scenario and operating-model input of the run, then the run settings.

    Returns
    -------
    DataFrame
        ``section, parameter, value, mean, kind, source / note``: ``parameter`` is the
        full config path (usable as a Hydra override), ``value`` a number or a compact
        distribution, and the note the inline comment of that key in the scenario or
        operating-model YAML file (flagged when this run's value differs from the file).
    """
    directory = Path(config_dir or CONFIG_DIR)
    cfg = results.config or {}
    rows: list[dict[str, Any]] = []

    def add(section: str, prefix: str, tree: Mapping, comments: Mapping[str, str], file_values: Mapping, file_name: str) -> None:
        for key, value in _flatten(tree):
            shown, mean, kind = describe_value(f"{prefix}{key}", value)
            parts = [comments[key]] if key in comments else []
            if isinstance(value, Mapping):
                # A multi-line spec carries its sources on its sub-keys (mean: ..., cv: ...).
                parts += [f"{k[len(key) + 1 :]}: {c}" for k, c in comments.items() if k.startswith(f"{key}.")]
            note = "; ".join(parts)
            file_value = _lookup(file_values, key)
            if file_values and file_value is not None and file_value != value:
                file_shown = describe_value(f"{prefix}{key}", file_value)[0]
                note = f"set for this run ({file_name} gives {_number(file_shown)})" + (f"; file note: {note}" if note else "")
            rows.append(
                {"section": section, "parameter": f"{prefix}{key}", "value": shown, "mean": mean, "kind": kind, "source / note": note}
            )

    scenario = cfg.get("scenario") or {}
    if scenario:
        name = str(scenario.get("name", ""))
        comments, values = _config_file(directory, "scenario", name) if name else ({}, {})
        add("scenario", "scenario.", scenario, comments, values, f"scenario/{name}.yaml")
    for model, tree in (cfg.get("operating_model") or {}).items():
        comments, values = _config_file(directory, "operating_model", model)
        # An operating-model file nests everything under the model's name.
        strip = f"{model}."
        comments = {k[len(strip) :]: c for k, c in comments.items() if k.startswith(strip)}
        add(f"operating_model.{model}", f"operating_model.{model}.", tree, comments, values.get(model, {}), f"operating_model/{model}.yaml")

    engine = cfg.get("engine") or {}
    inputs = cfg.get("inputs") or {}
    run = [
        ("seed", results.seed, "master seed: every random number is keyed on it"),
        ("replications", _n_replications(results), "simulated futures per operating model"),
        ("horizon_years", results.horizon_years, "simulated years of operation"),
        ("engine", results.engine or engine.get("name", ""), "numba (fast) and simpy (reference) give the same numbers"),
        ("inputs.sampling", inputs.get("sampling", "independent"), "how uncertain inputs are sampled across replications"),
        ("inputs.rank_correlations", str(inputs.get("rank_correlations") or "none"), "Spearman rank correlations imposed on the inputs"),
    ]
    if results.shard:
        run.append(("shard", results.shard, "these results are one shard of a larger run"))
    for key, value, note in run:
        rows.append(
            {
                "section": "run",
                "parameter": key,
                "value": value,
                "mean": None,
                "kind": "setting",
                "source / note": note,
            }
        )
    return pd.DataFrame(rows, columns=["section", "parameter", "value", "mean", "kind", "source / note"])


# ---------------------------------------------------------------------------------
# workbook tables
# ---------------------------------------------------------------------------------
def _summary_table(results: Results) -> tuple[pd.DataFrame, list[str], list[str]]:
    stats = summary_statistics(results).set_index(["operating_model", "measure", "basis"])
    cheapest = results.summary().set_index("operating_model")
    rows = []
    for m, name in enumerate(results.model_names):
        row: dict[str, Any] = {"operating_model": name, "label": results.model_labels[m]}
        for measure, basis, title in _BLOCKS:
            for key, header in _STATS:
                row[f"{title} {header} (USD)"] = stats.loc[(name, measure, basis), key]
        row["P(cheapest, TCO)"] = cheapest.loc[name, "p_cheapest_tco"]
        row["P(cheapest, economic)"] = cheapest.loc[name, "p_cheapest_economic"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    money_columns = [c for c in frame.columns if c.endswith("(USD)")]
    return frame, money_columns, ["P(cheapest, TCO)", "P(cheapest, economic)"]


_PAIRED_HEADERS = {
    "a": "A",
    "b": "B",
    "measure": "measure",
    "basis": "basis",
    "mean_difference": "mean A − B (USD)",
    "se": "± SE (USD)",
    "ci95_low": "95 % CI low (USD)",
    "ci95_high": "95 % CI high (USD)",
    "p_a_cheaper": "P(A cheaper)",
    "p_a_cheaper_se": "± SE of P",
    "unpaired_se": "unpaired SE (USD)",
    "unpaired_ci95_low": "unpaired 95 % CI low (USD)",
    "unpaired_ci95_high": "unpaired 95 % CI high (USD)",
    "se_ratio": "SE ratio unpaired / paired",
}


def _paired_table(results: Results) -> pd.DataFrame:
    if len(results.model_names) < 2:
        return pd.DataFrame({"note": ["one operating model: nothing to compare"]})
    parts = [paired_comparison(results, measure=measure, npv=basis == "npv") for measure, basis, _ in _BLOCKS]
    frame = pd.concat(parts, ignore_index=True)
    return frame[list(_PAIRED_HEADERS)].rename(columns=_PAIRED_HEADERS)


def _year_headers(results: Results) -> list[str]:
    return [f"year {y + 1}" for y in range(results.horizon_years)]


def _category_year_table(results: Results) -> pd.DataFrame:
    means = results.costs.mean(axis=1)  # [models, years, categories]
    years = _year_headers(results)
    in_tco = np.array([c not in ECONOMIC_ONLY for c in CATEGORIES])
    rows = []
    for m, name in enumerate(results.model_names):
        label = results.model_labels[m]
        for c, category in enumerate(CATEGORIES):
            by_year = means[m, :, c]
            rows.append(
                {
                    "operating_model": name,
                    "label": label,
                    "category": category,
                    "absorbed by": absorbed_by(category),
                    "in TCO": "yes" if in_tco[c] else "no",
                    **dict(zip(years, by_year, strict=True)),
                    "total": by_year.sum(),
                }
            )
        for title, mask in (("TCO total", in_tco), ("economic cost total", np.ones_like(in_tco))):
            by_year = means[m][:, mask].sum(axis=1)
            rows.append(
                {
                    "operating_model": name,
                    "label": label,
                    "category": title,
                    "absorbed by": "",
                    "in TCO": "",
                    **dict(zip(years, by_year, strict=True)),
                    "total": by_year.sum(),
                }
            )
    return pd.DataFrame(rows)


def _one_time_table(results: Results) -> pd.DataFrame:
    frame = one_time_vs_recurring(results)
    return frame[["operating_model", "one_time_mean", "recurring_mean", "recurring_per_year_mean", "recurring_share"]].rename(
        columns={
            "one_time_mean": "one-time mean (USD)",
            "recurring_mean": "recurring mean (USD)",
            "recurring_per_year_mean": "recurring per year (USD)",
            "recurring_share": "recurring share of TCO",
        }
    )


def _by_year_table(results: Results) -> pd.DataFrame:
    frame = cost_by_year(results)
    frame = frame[["operating_model", "year", "tco_mean", "tco_se", "one_time_mean", "recurring_mean", "economic_mean"]].copy()
    frame["year"] = frame["year"] + 1  # planners count years from 1; the ledger from 0
    return frame.rename(
        columns={
            "tco_mean": "TCO mean (USD)",
            "tco_se": "TCO ± SE (USD)",
            "one_time_mean": "one-time (USD)",
            "recurring_mean": "recurring (USD)",
            "economic_mean": "economic cost mean (USD)",
        }
    )


def _metrics_table(results: Results) -> pd.DataFrame:
    metrics = results.metrics.drop(columns="replication")
    means = metrics.groupby("operating_model", observed=False).mean()
    table = means.T.reindex(columns=list(results.model_names))
    table.index.name = "metric"
    return table.reset_index()


def _about_table(results: Results, today: str) -> pd.DataFrame:
    models = "; ".join(f"{label} ({name})" for name, label in zip(results.model_names, results.model_labels, strict=True))
    scenario = (results.config.get("scenario") or {}).get("name", "") if results.config else ""
    rows = [
        (
            "What this is",
            "lora-tco: a discrete-event Monte Carlo simulation of the total cost of ownership of LoRA adapters under each "
            "operating model below. Every number is a mean or quantile over simulated futures (replications).",
        ),
        ("Operating models", models),
        ("Scenario", scenario),
        ("Replications", _n_replications(results)),
        ("Horizon (years)", results.horizon_years),
        ("Seed", results.seed),
        ("Engine", results.engine),
        ("Accounting basis", ACCOUNTING_BASES[results.accounting_basis]),
        ("Generated", today),
        (
            "TCO vs economic cost",
            "TCO is what the budget pays: GPUs, storage, monitoring, labour (platform, pipeline, on-call, compliance) and "
            "vendor fees net of SLA credits. Economic cost adds what the business absorbs without an invoice: downtime "
            "(outage adapter-hours x value per adapter-hour) and staleness (quality lost while a drifted adapter waits for its refresh).",
        ),
        ("Money", "USD, undiscounted unless marked NPV. NPV discounts year y by (1 + r)^-y at the replication's discount rate."),
        ("Years", "Numbered from 1 (the ledger and its parquet files number them from 0)."),
        (
            "Statistics",
            "± SE: standard error of the mean over replications. p05 / p50 / p95: quantiles over simulated futures. "
            "CVaR95: mean of the worst 5 % of futures. P(cheapest): share of futures in which the model costs least (ties split).",
        ),
        (
            "Common random numbers",
            "Replication r is the same world for every operating model, so differences are paired: the 'paired' sheet's "
            "SE is the one to use, the unpaired SE is what independent runs would give.",
        ),
        (
            "Sheets",
            "summary: per-model statistics | paired: model A minus model B | by_category_year: mean USD per category and "
            "year, who absorbs it | one_time_vs_recurring: set-up vs recurring cost, TCO by year | metrics: mean "
            "operational metrics | assumptions: every input of the run with its source",
        ),
    ]
    if results.shard:
        rows.insert(3, ("Shard", f"{results.shard}: one part of a larger run, not the whole sample"))
    return pd.DataFrame(rows, columns=["item", "value"])


# ---------------------------------------------------------------------------------
# workbook formatting
# ---------------------------------------------------------------------------------
def _write_table(writer: Any, sheet: str, frame: pd.DataFrame, startrow: int, formats: Mapping[str, str]) -> int:
    """Write ``frame`` at ``startrow`` (0-based) with a bold header and the given number
    formats by column; returns the first free row below it."""
    from openpyxl.styles import Alignment, Font

    frame.to_excel(writer, sheet_name=sheet, startrow=startrow, index=False)
    ws = writer.sheets[sheet]
    header = startrow + 1  # openpyxl rows are 1-based
    for j, column in enumerate(frame.columns, start=1):
        cell = ws.cell(row=header, column=j)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        fmt = formats.get(column)
        if fmt:
            for i in range(len(frame)):
                ws.cell(row=header + 1 + i, column=j).number_format = fmt
    return startrow + len(frame) + 2


def _display_width(value: Any, fmt: str) -> int:
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return 4
        if "%" in fmt:
            return 7
        if fmt == MONEY:
            return len(f"{value:,.0f}")
        if fmt == DECIMAL:
            return len(f"{value:,.2f}")
        return len(f"{value:.6g}")
    return len(str(value))


def _fit_columns(ws: Any, max_width: int = 60) -> None:
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            if cell.font is not None and cell.font.bold and cell.alignment is not None and cell.alignment.wrap_text:
                # A wrapped header only needs its longest word to fit.
                width = max(len(w) for w in str(cell.value).split()) if str(cell.value).split() else 0
            else:
                width = _display_width(cell.value, cell.number_format)
            widths[cell.column] = max(widths.get(cell.column, 0), width)
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(max_width, max(8, width + 2))


def write_excel(results: Results, path: str | os.PathLike, *, config_dir: str | os.PathLike | None = None) -> Path:
    """Write the results as an Excel workbook for planners.

    Sheets: ``about`` (what the workbook is, seed, replications, horizon, date, TCO vs
    economic cost), ``summary`` (one row per operating model: mean ± SE, p05 / p50 /
    p95 and CVaR95 of TCO and economic cost, undiscounted and NPV, P(cheapest)),
    ``paired`` (every pair, each measure and basis), ``by_category_year`` (mean USD
    per model x category x year with totals and who absorbs each category),
    ``one_time_vs_recurring`` (with TCO by year), ``metrics`` (mean operational
    metrics) and ``assumptions`` (every input with its source).

    Parameters
    ----------
    results : Results
        Output of :func:`sim.simulate` (or :meth:`Results.from_saved`).
    path : path
        Target ``.xlsx``; written through a temporary file in the same folder and
        renamed over it, so a failure leaves no partial file.
    config_dir : path, optional
        The config folder whose YAML comments source the inputs (default: the
        packaged ``configs/``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ImportError
        If openpyxl is not installed (``pip install "lora-tco[exports]"``).
    """
    _require("openpyxl", "write_excel")
    from openpyxl.styles import Alignment, Font

    path = Path(path)
    today = date.today().isoformat()
    summary, summary_money, summary_pct = _summary_table(results)
    paired = _paired_table(results)
    pivot = _category_year_table(results)
    one_time = _one_time_table(results)
    by_year = _by_year_table(results)
    metrics = _metrics_table(results)
    inputs = assumptions_table(results, Path(config_dir) if config_dir else None)
    about = _about_table(results, today)
    bold = Font(bold=True)

    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            _write_table(writer, "about", about, 0, {})
            ws = writer.sheets["about"]
            ws.column_dimensions["A"].width = 24
            ws.column_dimensions["B"].width = 110
            for row in ws.iter_rows(min_row=2):
                row[0].font = bold
                row[1].alignment = Alignment(wrap_text=True, vertical="top")
                row[0].alignment = Alignment(vertical="top")

            formats = dict.fromkeys(summary_money, MONEY) | dict.fromkeys(summary_pct, PERCENT)
            _write_table(writer, "summary", summary, 0, formats)
            writer.sheets["summary"].freeze_panes = "B2"

            paired_formats = {c: MONEY for c in paired.columns if c.endswith("(USD)")}
            paired_formats |= {"P(A cheaper)": PERCENT, "± SE of P": PERCENT, "SE ratio unpaired / paired": DECIMAL}
            _write_table(writer, "paired", paired, 0, paired_formats)
            writer.sheets["paired"].freeze_panes = "A2"

            _write_table(writer, "by_category_year", pivot, 0, dict.fromkeys([*_year_headers(results), "total"], MONEY))
            ws = writer.sheets["by_category_year"]
            ws.freeze_panes = "D2"
            for row in ws.iter_rows(min_row=2):
                if row[2].value in ("TCO total", "economic cost total"):
                    for cell in row:
                        cell.font = bold

            one_time_formats = {c: MONEY for c in one_time.columns if c.endswith("(USD)")} | {"recurring share of TCO": PERCENT}
            below = _write_table(writer, "one_time_vs_recurring", one_time, 0, one_time_formats)
            ws = writer.sheets["one_time_vs_recurring"]
            ws.cell(row=below + 1, column=1, value="TCO by year").font = bold
            _write_table(writer, "one_time_vs_recurring", by_year, below + 1, {c: MONEY for c in by_year.columns if c.endswith("(USD)")})
            ws.freeze_panes = "A2"

            _write_table(writer, "metrics", metrics, 0, dict.fromkeys(results.model_names, DECIMAL))
            writer.sheets["metrics"].freeze_panes = "B2"

            _write_table(writer, "assumptions", inputs, 0, {})
            ws = writer.sheets["assumptions"]
            ws.freeze_panes = "C2"

            for name, sheet in writer.sheets.items():
                if name != "about":
                    _fit_columns(sheet, max_width=100 if name == "assumptions" else 60)
            writer.book.properties.title = "lora-tco results"
            writer.book.properties.creator = "lora-tco"

    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, write)


# ---------------------------------------------------------------------------------
# deck
# ---------------------------------------------------------------------------------
def headline(results: Results) -> str:
    """The run's takeaway: which operating model has the lowest expected TCO, and in
    what share of simulated futures it is the cheapest."""
    totals = results.totals("tco")
    means = totals.mean(axis=1)
    best = int(np.argmin(means))
    name = _short_label(results.model_labels[best])
    horizon = f"{results.horizon_years}-year"
    if len(results.model_names) == 1:
        return f"{name}: expected {horizon} TCO of {money(means[best])}"
    p = float(results.summary()["p_cheapest_tco"].iloc[best])
    return f"{name} has the lowest expected {horizon} TCO (cheapest in {_share(p)} of simulated futures)"


def _in_sentence(label: str) -> str:
    """A short label lower-cased for mid-sentence use, unless it starts with an acronym."""
    short = _short_label(label)
    return short if short[1:2].isupper() else short[:1].lower() + short[1:]


def _summary_takeaway(results: Results) -> str:
    means = results.totals("tco").mean(axis=1)
    order = np.argsort(means)
    best_label = _short_label(results.model_labels[order[0]])
    if len(order) == 1:
        return f"Expected {results.horizon_years}-year TCO of {best_label}"
    runner_label = _in_sentence(results.model_labels[order[1]])
    row = paired_comparison(results, results.model_names[order[1]], results.model_names[order[0]]).iloc[0]
    interval = f"95 % CI {money(row['ci95_low'])} to {money(row['ci95_high'])}"
    if row["ci95_low"] <= 0:
        # The runner-up is not reliably dearer: say so rather than name a winner.
        return f"{best_label} and {runner_label} cost about the same over {results.horizon_years} years ({interval})"
    return f"{best_label} costs {money(row['mean_difference'])} less than {runner_label} over {results.horizon_years} years ({interval})"


def key_numbers(results: Results) -> str:
    """Speaker notes: each model's mean TCO, 90 % interval and P(cheapest), and the
    paired differences with their 95 % CIs."""
    summary = results.summary()
    n = _n_replications(results)
    lines = [f"{results.horizon_years}-year TCO, {n:,} simulated futures, seed {results.seed} (undiscounted USD):"]
    for _, row in summary.iterrows():
        lines.append(
            f"- {row['label']}: mean TCO {_usd_exact(row['tco_mean'])} (± {_usd_exact(row['tco_se'])} SE), "
            f"90 % interval {_usd_exact(row['tco_p05'])} to {_usd_exact(row['tco_p95'])}, "
            f"cheapest in {_share(row['p_cheapest_tco'])}; economic cost mean {_usd_exact(row['economic_mean'])}"
        )
    if len(results.model_names) > 1:
        lines.append("Paired differences (common random numbers), A minus B:")
        labels = dict(zip(results.model_names, results.model_labels, strict=True))
        for _, row in paired_comparison(results).iterrows():
            lines.append(
                f"- {_short_label(labels[row['a']])} minus {_in_sentence(labels[row['b']])}: {_usd_exact(row['mean_difference'])} "
                f"(95 % CI {_usd_exact(row['ci95_low'])} to {_usd_exact(row['ci95_high'])}), "
                f"A cheaper in {_share(row['p_a_cheaper'])}"
            )
    return "\n".join(lines)


def _chart_entries(charts: Sequence[Any]) -> list[tuple[Path, str]]:
    entries = []
    for item in charts:
        if isinstance(item, (tuple, list)):
            chart, title = Path(item[0]), str(item[1])
        else:
            chart = Path(item)
            words = [_ACRONYMS.get(w.lower(), w) for w in re.split(r"[_\-\s]+", chart.stem) if w]
            title = " ".join(words)
            title = title[:1].upper() + title[1:]
        if not chart.is_file():
            raise FileNotFoundError(f"{chart}: chart image not found")
        entries.append((chart, title))
    return entries


def _title_size(text: str, largest: int) -> int:
    """A font size that keeps a long takeaway within its box (python-pptx cannot measure text)."""
    if len(text) <= 70:
        return largest
    return max(18, largest - (4 if len(text) <= 110 else 8))


def _set_title(slide: Any, text: str, size: int, top: float = 0.3, height: float = 1.0) -> None:
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches, Pt

    shape = slide.shapes.title
    shape.left, shape.top, shape.width, shape.height = Inches(0.5), Inches(top), Inches(_SLIDE_W - 1.0), Inches(height)
    shape.text_frame.word_wrap = True
    shape.text_frame.text = text
    for paragraph in shape.text_frame.paragraphs:
        paragraph.alignment = PP_ALIGN.LEFT
        for run in paragraph.runs:
            run.font.size = Pt(_title_size(text, size))
            run.font.bold = True


def _add_table(slide: Any, rows: list[list[str]], widths: Sequence[float], top: float, font_size: int) -> None:
    from pptx.util import Inches, Pt

    height = Inches(0.4 * len(rows))
    shape = slide.shapes.add_table(len(rows), len(widths), Inches(0.5), Inches(top), Inches(sum(widths)), height)
    table = shape.table
    for j, width in enumerate(widths):
        table.columns[j].width = Inches(width)
    for i, values in enumerate(rows):
        for j, value in enumerate(values):
            cell = table.cell(i, j)
            cell.text = value
            for paragraph in cell.text_frame.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(font_size)
                    run.font.bold = i == 0


def _notes(slide: Any, text: str) -> None:
    slide.notes_slide.notes_text_frame.text = text


def _key_input_rows(results: Results, config_dir: Path | None) -> list[list[str]]:
    table = assumptions_table(results, config_dir).set_index("parameter")
    rows = [["Input", "Value or distribution", "Mean", "Basis"]]
    for key, label in KEY_INPUTS:
        if key not in table.index:
            continue
        row = table.loc[key]
        mean = "" if pd.isna(row["mean"]) else _number(float(row["mean"]))
        # The comment's lead clause ("assumption, range 1–20", 'sources.md "GPU prices"') names the basis.
        note = str(row["source / note"]).split(":")[0].strip()
        basis = note if len(note) <= 40 else note[:39] + "…"
        rows.append([label, _number(row["value"]), mean, basis])
    return rows


def write_deck(
    results: Results,
    charts: Sequence[str | os.PathLike | tuple[str | os.PathLike, str]],
    path: str | os.PathLike,
    title: str | None = None,
    *,
    config_dir: str | os.PathLike | None = None,
) -> Path:
    """Write a 16:9 PowerPoint deck of the results.

    Slides: a title slide whose title is the run's takeaway (:func:`headline`), the key
    inputs with their distributions, the summary table (mean, p05, p95 TCO and
    P(cheapest) per model), then one chart per slide, scaled to fit, titled with the
    chart's takeaway. Every slide after the title has speaker notes; chart slides carry
    the key numbers (:func:`key_numbers`).

    Parameters
    ----------
    results : Results
        Output of :func:`sim.simulate`.
    charts : sequence of path or (path, title)
        Chart images in slide order. A bare path gets a title from its file stem
        (``tco_distribution.png`` -> "TCO distribution"); give ``(path, takeaway)`` pairs
        for takeaway titles.
    path : path
        Target ``.pptx``, written atomically.
    title : str, optional
        Title slide text instead of the computed takeaway.
    config_dir : path, optional
        Config folder whose YAML comments source the inputs.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If a chart image does not exist (checked before anything is written).
    ImportError
        If python-pptx is not installed (``pip install "lora-tco[exports]"``).
    """
    pptx = _require("pptx", "write_deck")
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches, Pt

    path = Path(path)
    entries = _chart_entries(charts)
    directory = Path(config_dir) if config_dir else None
    today = date.today().isoformat()
    n = _n_replications(results)
    notes = key_numbers(results)
    summary = results.summary()

    def write(tmp: Path) -> None:
        deck = pptx.Presentation()
        deck.slide_width, deck.slide_height = Inches(_SLIDE_W), Inches(_SLIDE_H)
        title_layout, title_only = deck.slide_layouts[0], deck.slide_layouts[5]

        slide = deck.slides.add_slide(title_layout)
        _set_title(slide, title or headline(results), 36, top=2.0, height=2.2)
        subtitle = slide.placeholders[1]
        subtitle.left, subtitle.top, subtitle.width, subtitle.height = Inches(0.5), Inches(4.5), Inches(_SLIDE_W - 1.0), Inches(1.2)
        subtitle.text_frame.text = (
            f"{n:,} simulated futures × {results.horizon_years} years · seed {results.seed} · {results.engine} engine · {today}"
        )
        for paragraph in subtitle.text_frame.paragraphs:
            paragraph.alignment = PP_ALIGN.LEFT
            for run in paragraph.runs:
                run.font.size = Pt(18)
        _notes(slide, notes)

        slide = deck.slides.add_slide(title_only)
        _set_title(slide, "Key assumptions: uncertain inputs are drawn once per simulated future", 28)
        rows = _key_input_rows(results, directory)
        _add_table(slide, rows, (4.2, 3.2, 1.3, 3.63), 1.45, 12)
        _notes(
            slide,
            "pert(min, mode, max) is a Beta-PERT; interval90(low, high) a lognormal with those 5th and 95th percentiles. "
            "Every input of the run, with its source, is on the 'assumptions' sheet of the workbook.",
        )

        slide = deck.slides.add_slide(title_only)
        _set_title(slide, _summary_takeaway(results), 28)
        table = [["Operating model", "Mean TCO", "p05", "p95", "P(cheapest)"]]
        for _, row in summary.iterrows():
            amounts = [money(row[f"tco_{stat}"]) for stat in ("mean", "p05", "p95")]
            table.append([row["label"], *amounts, _share(row["p_cheapest_tco"])])
        _add_table(slide, table, (5.33, 1.75, 1.75, 1.75, 1.75), 1.6, 16)
        box = slide.shapes.add_textbox(Inches(0.5), Inches(_SLIDE_H - 0.8), Inches(_SLIDE_W - 1.0), Inches(0.5))
        box.text_frame.text = f"{results.horizon_years}-year TCO, undiscounted USD; p05–p95 is the 90 % range over {n:,} simulated futures."
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(12)
        _notes(slide, notes)

        area_top, area_height, area_width = 1.4, _SLIDE_H - 1.4 - 0.3, _SLIDE_W - 1.0
        for chart, chart_title in entries:
            slide = deck.slides.add_slide(title_only)
            _set_title(slide, chart_title, 28)
            picture = slide.shapes.add_picture(str(chart), Inches(0.5), Inches(area_top))
            scale = min(Inches(area_width) / picture.width, Inches(area_height) / picture.height)
            picture.width, picture.height = int(picture.width * scale), int(picture.height * scale)
            picture.left = int((deck.slide_width - picture.width) / 2)
            picture.top = int(Inches(area_top) + (Inches(area_height) - picture.height) / 2)
            _notes(slide, notes)

        deck.core_properties.title = title or headline(results)
        deck.core_properties.author = "lora-tco"
        deck.save(str(tmp))

    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, write)
