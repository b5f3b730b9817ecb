"""Charts: every chart renders from a small run in every format, states a takeaway
computed from the data, carries its provenance, and keeps one colour per model; the
default command writes the standard set, and the deck and workbook read back."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from sim import analysis, load_config, simulate, trace
from sim.core.labels import short_model_label
from sim.outputs import charts as plots

SMALL = ["replications=150", "horizon_years=2"]
EXPORTS = ["output.deck=true", "output.excel=true", "output.chart_formats=[png,svg,pdf]"]


@pytest.fixture(scope="module")
def cfg():
    return load_config(SMALL)


@pytest.fixture(scope="module")
def results(cfg):
    return simulate(cfg)


@pytest.fixture(scope="module")
def every_chart(cfg, results):
    """Every chart of the set, by name, drawn from the small run and small studies."""
    data = analysis.sweep(cfg, "scenario.tokens_per_adapter_month_m", [500, 2000, 5000], models=["self_managed_lora", "managed_finetune"])
    be = analysis.break_even(data, "self_managed_lora", "managed_finetune")
    note = plots.provenance(150, 2, results.seed)
    small = load_config(["replications=40", "horizon_years=1"])
    cells = analysis.decision_map(small, ("scenario.adapters", [1, 10]), ("scenario.refresh_interval_days", [30, 90]))
    swings = analysis.tornado(
        small, "self_managed_lora", "managed_finetune", inputs=["scenario.engineer_loaded_annual_usd", "scenario.gpu_reserved_usd_per_hour"]
    )
    events = trace(cfg, 0, "self_managed_lora")
    figures = plots.standard_charts(results, events, "self_managed_lora")
    figures.update(
        {
            "break_even": plots.break_even_chart(be, note),
            "p_cheaper": plots.p_cheaper_chart(be, note),
            "decision_map": plots.decision_map_chart(cells, "scenario.adapters", "scenario.refresh_interval_days", note),
            "tornado": plots.tornado_chart(swings, note),
        }
    )
    return figures, be


EXPECTED = {
    "tco_distribution",
    "cost_breakdown",
    "cost_by_year",
    "convergence",
    "year_in_the_life",
    "break_even",
    "p_cheaper",
    "decision_map",
    "tornado",
}


def test_every_chart_renders_in_every_format(every_chart, tmp_path):
    figures, _ = every_chart
    assert set(figures) == EXPECTED
    for name, fig in figures.items():
        chart = plots.save_chart(fig, tmp_path, name)
        png, svg, pdf = (tmp_path / f"{name}.{f}" for f in ("png", "svg", "pdf"))
        assert chart.files == [png, svg, pdf]
        assert png.stat().st_size > 30_000, name
        height, width = mpimg.imread(png).shape[:2]
        assert (width, height) == (2666, 1500), name  # 13.333 x 7.5 in at 200 dpi: 16:9
        assert "<svg" in svg.read_text()[:1000], name
        assert pdf.read_bytes()[:5] == b"%PDF-", name
        assert len(chart.title) > 30, name
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_titles_state_takeaways_computed_from_the_data(every_chart, results):
    figures, be = every_chart
    totals = results.totals()
    best = results.model_names[int(totals.mean(axis=1).argmin())]
    title = plots.chart_title(figures["tco_distribution"])
    assert title.startswith(short_model_label(best)) and plots.money(totals.mean(axis=1).min()) in title
    assert plots.chart_title(figures["break_even"]) == be.describe()
    assert f"{be.crossing:,.0f}" in be.describe()
    counts = trace(load_config(SMALL), 0, "self_managed_lora")
    first_year = counts[counts["time_days"] <= 365]
    promoted = int((first_year["event"] == "promoted").sum())
    assert f"{promoted} promotions" in plots.chart_title(figures["year_in_the_life"])


def test_footnotes_give_replications_horizon_and_seed(every_chart, results):
    figures, _ = every_chart
    for name, fig in figures.items():
        text = " ".join(t.get_text() for t in fig.texts)
        assert str(results.seed) in text, name
        if name != "year_in_the_life":
            assert "150 replications x 2 years" in text, name


def test_each_operating_model_keeps_its_colour(every_chart, results):
    figures, _ = every_chart
    for name in ("tco_distribution", "convergence"):
        lines = {line.get_label(): line.get_color() for line in figures[name].axes[0].get_lines()}
        for m, model in enumerate(results.model_names):
            assert mcolors.to_hex(lines[results.model_labels[m]]) == plots.model_colour(model).lower()
    assert len({plots.model_colour(n) for n in results.model_names}) == len(results.model_names)


def test_pipeline_spans_of_a_hand_made_trace():
    events = pd.DataFrame(
        {
            "time_days": [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "event": [
                "refresh_requested",
                "train_start",
                "train_end",
                "eval_start",
                "refresh_requested",
                "review_start",
                "promoted",
                "drift",
            ],
            "entity": [0, 0, 0, 0, 0, 0, 0, 1],
        }
    )
    spans = plots.pipeline_spans(events)
    assert spans.values.tolist() == [
        [0, "waiting", 1.0, 2.0],
        [0, "training", 2.0, 3.0],
        [0, "evaluation", 3.0, 5.0],
        [0, "review", 5.0, 6.0],
    ]
    t, level = plots._active(spans)
    assert t.tolist() == [1.0, 2.0, 3.0, 5.0, 6.0] and level.tolist() == [1, 1, 1, 1, 0]


def test_default_command_writes_the_standard_chart_set_deck_and_workbook(tmp_path):
    """The CLI (small run): the chart set in the three formats asked for, and with output.deck /
    output.excel a deck and a workbook that read back with one slide per chart."""
    from openpyxl import load_workbook
    from pptx import Presentation

    done = subprocess.run(
        [sys.executable, "-m", "sim", *SMALL, *EXPORTS, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    charts = ["tco_distribution", "cost_breakdown", "cost_by_year", "convergence", "year_in_the_life"]
    for name in charts:
        for fmt in ("png", "svg", "pdf"):
            assert (tmp_path / f"{name}.{fmt}").stat().st_size > 10_000, (name, fmt)
    deck = Presentation(tmp_path / "results.pptx")
    slides = list(deck.slides)
    assert len(slides) == 3 + len(charts)
    chart_slides = slides[3:]
    for slide in chart_slides:
        assert any(shape.shape_type == 13 for shape in slide.shapes)  # a picture
        assert "$" in slide.notes_slide.notes_text_frame.text
    titles = [s.shapes.title.text for s in chart_slides]
    assert titles[0].startswith("Managed fine-tuning") or titles[0].startswith("Self-managed") or titles[0].startswith("Managed adapter")
    book = load_workbook(tmp_path / "results.xlsx", read_only=True)
    assert {"summary", "by_category_year", "metrics", "assumptions"} <= set(book.sheetnames)
    summary = pd.read_csv(tmp_path / "summary.csv")
    rows = list(book["summary"].iter_rows(values_only=True))
    assert len(rows) >= 1 + len(summary)
    assert np.isfinite(summary["tco_mean"]).all()
