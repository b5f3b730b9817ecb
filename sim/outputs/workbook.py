"""The planning workbook of a run: :func:`write_excel`.

Sheets: the summary, paired comparisons, the cost pivot by operating model x category
x year, one-time vs recurring cost, operational metrics and every input of the run
with its source (:func:`sim.outputs.tables.assumptions_table`), as an ``.xlsx`` a
planner can filter and cite. The file is written atomically (a temporary file in the
same folder, renamed over the target), so a failure never leaves a half-written file
behind. openpyxl is optional: ``pip install "lora-tco[exports]"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.compile import ACCOUNTING_BASES
from sim.analysis import absorbed_by, cost_by_year, one_time_vs_recurring, paired_comparison, summary_statistics
from sim.core.ledger import CATEGORIES, TCO_MASK
from sim.outputs.extras import require
from sim.outputs.tables import assumptions_table, n_replications
from sim.run.results import Results, atomic_write

__all__ = ["write_excel"]

# Excel number formats: the spreadsheet renders the cells, so a planner keeps full precision.
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
                    "in TCO": "yes" if TCO_MASK[c] else "no",
                    **dict(zip(years, by_year, strict=True)),
                    "total": by_year.sum(),
                }
            )
        for title, mask in (("TCO total", TCO_MASK), ("economic cost total", np.ones_like(TCO_MASK))):
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
        ("Replications", n_replications(results)),
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
    """How many characters Excel shows for ``value`` under the number format ``fmt``:
    these mirror Excel's rendering of the cell (the workbook stores numbers, not text),
    only to size the column."""
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
    require("openpyxl", "write_excel")
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
