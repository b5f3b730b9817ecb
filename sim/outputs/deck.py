"""The planning deck of a run: :func:`write_deck`, a 16:9 ``.pptx`` with a takeaway title
slide (:func:`headline`), the key inputs, the summary table and one chart per slide,
with the figures in the speaker notes (:func:`key_numbers`).

The file is written atomically (a temporary file in the same folder, renamed over the
target), so a failure never leaves a half-written file behind. python-pptx is
optional: ``pip install "lora-tco[exports]"``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import paired_comparison
from sim.core.labels import in_sentence, money, number, percent, readable, short_label, usd_exact
from sim.outputs.extras import require
from sim.outputs.tables import assumptions_table, n_replications
from sim.run.results import Results, atomic_write

__all__ = ["KEY_INPUTS", "headline", "key_numbers", "write_deck"]

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


def headline(results: Results) -> str:
    """The run's takeaway: which operating model has the lowest expected TCO, and in
    what share of simulated futures it is the cheapest."""
    totals = results.totals("tco")
    means = totals.mean(axis=1)
    best = int(np.argmin(means))
    name = short_label(results.model_labels[best])
    horizon = f"{results.horizon_years}-year"
    if len(results.model_names) == 1:
        return f"{name}: expected {horizon} TCO of {money(means[best])}"
    p = float(results.summary()["p_cheapest_tco"].iloc[best])
    return f"{name} has the lowest expected {horizon} TCO (cheapest in {percent(p)} of simulated futures)"


def _summary_takeaway(results: Results) -> str:
    means = results.totals("tco").mean(axis=1)
    order = np.argsort(means)
    best_label = short_label(results.model_labels[order[0]])
    if len(order) == 1:
        return f"Expected {results.horizon_years}-year TCO of {best_label}"
    runner_label = in_sentence(results.model_labels[order[1]])
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
    n = n_replications(results)
    lines = [f"{results.horizon_years}-year TCO, {number(n)} simulated futures, seed {results.seed} (undiscounted USD):"]
    for _, row in summary.iterrows():
        lines.append(
            f"- {row['label']}: mean TCO {usd_exact(row['tco_mean'])} (± {usd_exact(row['tco_se'])} SE), "
            f"90 % interval {usd_exact(row['tco_p05'])} to {usd_exact(row['tco_p95'])}, "
            f"cheapest in {percent(row['p_cheapest_tco'])}; economic cost mean {usd_exact(row['economic_mean'])}"
        )
    if len(results.model_names) > 1:
        lines.append("Paired differences (common random numbers), A minus B:")
        labels = dict(zip(results.model_names, results.model_labels, strict=True))
        for _, row in paired_comparison(results).iterrows():
            lines.append(
                f"- {short_label(labels[row['a']])} minus {in_sentence(labels[row['b']])}: {usd_exact(row['mean_difference'])} "
                f"(95 % CI {usd_exact(row['ci95_low'])} to {usd_exact(row['ci95_high'])}), "
                f"A cheaper in {percent(row['p_a_cheaper'])}"
            )
    return "\n".join(lines)


def _chart_entries(charts: Sequence[Any]) -> list[tuple[Path, str]]:
    entries = []
    for item in charts:
        if isinstance(item, (tuple, list)):
            chart, title = Path(item[0]), str(item[1])
        else:
            chart = Path(item)
            title = readable(chart.stem)
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
        mean = "" if pd.isna(row["mean"]) else number(float(row["mean"]))
        # The comment's lead clause ("assumption, range 1–20", 'sources.md "GPU prices"') names the basis.
        note = str(row["source / note"]).split(":")[0].strip()
        basis = note if len(note) <= 40 else note[:39] + "…"
        rows.append([label, number(row["value"]), mean, basis])
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
    pptx = require("pptx", "write_deck")
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches, Pt

    path = Path(path)
    entries = _chart_entries(charts)
    directory = Path(config_dir) if config_dir else None
    today = date.today().isoformat()
    n = n_replications(results)
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
            f"{number(n)} simulated futures × {results.horizon_years} years · seed {results.seed} · {results.engine} engine · {today}"
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
            table.append([row["label"], *amounts, percent(row["p_cheapest_tco"])])
        _add_table(slide, table, (5.33, 1.75, 1.75, 1.75, 1.75), 1.6, 16)
        box = slide.shapes.add_textbox(Inches(0.5), Inches(_SLIDE_H - 0.8), Inches(_SLIDE_W - 1.0), Inches(0.5))
        box.text_frame.text = (
            f"{results.horizon_years}-year TCO, undiscounted USD; p05–p95 is the 90 % range over {number(n)} simulated futures."
        )
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
