"""Excel and PowerPoint exports: write them, read them back, and fail atomically."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sim
from sim.core.ledger import CATEGORIES, ECONOMIC_ONLY
from sim.core.metrics import METRICS
from sim.outputs import export

openpyxl = pytest.importorskip("openpyxl")
pptx = pytest.importorskip("pptx")

SHEETS = ["about", "summary", "paired", "by_category_year", "one_time_vs_recurring", "metrics", "assumptions"]


@pytest.fixture(scope="module")
def results():
    return sim.simulate(sim.load_config(["replications=200", "horizon_years=2"]))


def _chart(path: Path, size: tuple[float, float]) -> Path:
    fig, ax = plt.subplots(figsize=size)
    ax.plot([0, 1, 2], [1, 3, 2])
    fig.savefig(path, dpi=50)
    plt.close(fig)
    return path


@pytest.fixture
def charts(tmp_path) -> list[Path]:
    # One wide and one tall image, so "fit the box" is tested on both sides.
    return [_chart(tmp_path / "tco_distribution.png", (8, 4)), _chart(tmp_path / "cost_breakdown.png", (4, 6))]


def _rows(ws) -> list[dict]:
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, row, strict=True)) for row in values[1:] if any(v is not None for v in row)]


def test_workbook_reads_back_with_the_run_numbers(results, tmp_path):
    path = export.write_excel(results, tmp_path / "run.xlsx")
    assert path == tmp_path / "run.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS

    summary = wb["summary"]
    rows = _rows(summary)
    assert [r["operating_model"] for r in rows] == list(results.model_names)
    np.testing.assert_allclose([r["TCO mean (USD)"] for r in rows], results.totals().mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose([r["Economic NPV mean (USD)"] for r in rows], results.totals("economic", npv=True).mean(axis=1), rtol=1e-9)
    assert sum(r["P(cheapest, TCO)"] for r in rows) == pytest.approx(1.0)
    assert summary["A1"].font.bold and summary.freeze_panes == "B2"
    assert summary["C2"].number_format == "#,##0"

    pivot = _rows(wb["by_category_year"])
    economic = results.totals("economic").mean(axis=1)
    tco = results.totals("tco").mean(axis=1)
    for m, name in enumerate(results.model_names):
        ledger_rows = [r for r in pivot if r["operating_model"] == name and r["category"] in CATEGORIES]
        assert [r["category"] for r in ledger_rows] == list(CATEGORIES)
        # TCO categories + downtime + staleness = economic cost.
        assert sum(r["total"] for r in ledger_rows) == pytest.approx(economic[m], rel=1e-9)
        assert sum(r["total"] for r in ledger_rows if r["category"] not in ECONOMIC_ONLY) == pytest.approx(tco[m], rel=1e-9)
        totals = {r["category"]: r["total"] for r in pivot if r["operating_model"] == name and r["category"] not in CATEGORIES}
        assert totals["TCO total"] == pytest.approx(tco[m], rel=1e-9)
        assert totals["economic cost total"] == pytest.approx(economic[m], rel=1e-9)
        for r in ledger_rows:
            assert r["year 1"] + r["year 2"] == pytest.approx(r["total"], rel=1e-9, abs=1e-6)
    absorbed = {r["category"]: r["absorbed by"] for r in pivot}
    assert absorbed["vendor_inference"] == "vendor" and absorbed["downtime"] == "business" and absorbed["labor_oncall"] == "team"

    paired = _rows(wb["paired"])
    assert len(paired) == 3 * 4  # three pairs x (TCO, economic) x (undiscounted, NPV)
    first = results.paired(paired[0]["A"], paired[0]["B"])
    assert paired[0]["mean A − B (USD)"] == pytest.approx(first["mean_difference"], rel=1e-9)

    one_time = _rows(wb["one_time_vs_recurring"])
    assert [r["operating_model"] for r in one_time[:3]] == list(results.model_names)

    metrics = _rows(wb["metrics"])
    assert [r["metric"] for r in metrics] == list(METRICS)
    assert metrics[0][results.model_names[0]] == pytest.approx(results.metrics_array[0, :, 0].mean())

    inputs = {r["parameter"]: r for r in _rows(wb["assumptions"])}
    assert inputs["scenario.adapters"]["value"] == 5
    reserved = inputs["scenario.gpu_reserved_usd_per_hour"]
    assert reserved["value"] == "pert(1.7, 2.35, 3.9)" and reserved["mean"] == pytest.approx(2.5)
    assert "GPU prices" in reserved["source / note"]
    gpu_hours = inputs["operating_model.self_managed_lora.training.gpu_hours"]
    assert gpu_hours["value"] == "lognormal(mean=pert(0.25, 1, 2), cv=0.6)"
    assert "LoRA training effort" in gpu_hours["source / note"]
    assert inputs["seed"]["value"] == results.seed and inputs["replications"]["value"] == 200
    assert inputs["horizon_years"]["value"] == 2 and inputs["engine"]["value"] == "numba"

    about = {r["item"]: r["value"] for r in _rows(wb["about"])}
    assert about["Seed"] == results.seed and about["Replications"] == 200 and "downtime" in about["TCO vs economic cost"]


def test_assumptions_flag_values_set_for_this_run():
    cfg = sim.load_config(["replications=20", "horizon_years=1", "scenario=high_traffic", "scenario.adapters=10"])
    run = sim.simulate(cfg)
    inputs = export.assumptions_table(run).set_index("parameter")
    note = inputs.loc["scenario.adapters", "source / note"]
    assert note.startswith("set for this run (scenario/high_traffic.yaml gives 5)") and "assumption, range 1–20" in note
    # A key the preset inherits from default.yaml keeps default.yaml's comment.
    assert "GPU prices" in inputs.loc["scenario.gpu_reserved_usd_per_hour", "source / note"]
    assert "customer-facing" in inputs.loc["scenario.downtime_usd_per_adapter_hour", "source / note"]


def test_deck_reads_back_with_titles_pictures_and_notes(results, charts, tmp_path):
    given = [charts[0], (charts[1], "Labour drives self-managed LoRA's TCO")]
    path = export.write_deck(results, given, tmp_path / "run.pptx")
    deck = pptx.Presentation(path)
    assert len(deck.slides) == 3 + len(given)
    assert round(deck.slide_width / 914400, 2) == 13.33 and deck.slide_height / 914400 == pytest.approx(7.5)

    slides = list(deck.slides)
    best = int(np.argmin(results.totals().mean(axis=1)))
    headline = slides[0].shapes.title.text
    assert headline == export.headline(results)
    assert headline.startswith(results.model_labels[best].split(" (")[0]) and "cheapest in" in headline
    assert f"seed {results.seed}" in slides[0].placeholders[1].text_frame.text
    assert any(s.has_table for s in slides[1].shapes) and any(s.has_table for s in slides[2].shapes)
    table = next(s for s in slides[2].shapes if s.has_table).table
    assert len(table.rows) == 1 + len(results.model_names)

    assert [s.shapes.title.text for s in slides[3:]] == ["TCO distribution", "Labour drives self-managed LoRA's TCO"]
    means = results.totals().mean(axis=1)
    for slide, chart in zip(slides[3:], charts, strict=True):
        pictures = [s for s in slide.shapes if s.shape_type == pptx.enum.shapes.MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        pic = pictures[0]
        assert 0 <= pic.left and pic.left + pic.width <= deck.slide_width
        assert slide.shapes.title.top + slide.shapes.title.height <= pic.top and pic.top + pic.height <= deck.slide_height
        width_px, height_px = plt.imread(chart).shape[1::-1]
        assert pic.width / pic.height == pytest.approx(width_px / height_px, rel=0.01)
        notes = slide.notes_slide.notes_text_frame.text
        assert notes
        for mean in means:
            assert f"${mean:,.0f}" in notes


def test_failed_workbook_write_leaves_no_file(results, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "_fit_columns", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export.write_excel(results, tmp_path / "run.xlsx")
    assert list(tmp_path.iterdir()) == []

    # An older workbook at the target survives a failed rewrite untouched.
    (tmp_path / "run.xlsx").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        export.write_excel(results, tmp_path / "run.xlsx")
    assert (tmp_path / "run.xlsx").read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_failed_deck_write_leaves_no_file(results, charts, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("picture failed")

    monkeypatch.setattr(export, "_notes", broken)
    target = tmp_path / "out" / "run.pptx"
    with pytest.raises(RuntimeError, match="picture failed"):
        export.write_deck(results, charts, target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_missing_chart_is_reported_before_writing(results, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        export.write_deck(results, [tmp_path / "nope.png"], tmp_path / "run.pptx")
    assert not (tmp_path / "run.pptx").exists()


@pytest.mark.parametrize(("module", "write"), [("openpyxl", "write_excel"), ("pptx", "write_deck")])
def test_missing_dependency_names_the_extra(results, tmp_path, monkeypatch, module, write):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    call = getattr(export, write)
    with pytest.raises(ImportError, match=r'pip install "lora-tco\[exports\]"'):
        call(results, tmp_path / "x") if write == "write_excel" else call(results, [], tmp_path / "x")


def test_one_operating_model_exports(tmp_path):
    results = sim.simulate(sim.load_config(["replications=50", "horizon_years=1", "operating_model=[managed_finetune]"]))
    wb = openpyxl.load_workbook(export.write_excel(results, tmp_path / "one.xlsx"))
    assert len(_rows(wb["summary"])) == 1 and "nothing to compare" in _rows(wb["paired"])[0]["note"]
    deck = pptx.Presentation(export.write_deck(results, [], tmp_path / "one.pptx", title="One model"))
    assert len(deck.slides) == 3 and deck.slides[0].shapes.title.text == "One model"


def test_yaml_comments_follow_nesting_and_ignore_hashes_in_quotes(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "# header comment\n"
        "model:\n"
        "  label: 'A # not a comment'   # the label\n"
        "  training:                    # section note\n"
        "    gpu_hours:\n"
        "      mean: {dist: pert, min: 1, mode: 2, max: 3}   # source A\n"
        "      cv: 0.6                  # source B\n"
        "  serving:\n"
        "    mean: 4                    # another mean\n",
        encoding="utf-8",
    )
    assert export.yaml_comments(path) == {
        "model.label": "the label",
        "model.training": "section note",
        "model.training.gpu_hours.mean": "source A",
        "model.training.gpu_hours.cv": "source B",
        "model.serving.mean": "another mean",
    }
