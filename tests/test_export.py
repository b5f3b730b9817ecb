"""Excel and PowerPoint exports: write them, read them back, and fail atomically."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sim
from sim.core import labels
from sim.core.ledger import CATEGORIES, ECONOMIC_ONLY
from sim.core.metrics import METRICS
from sim.outputs import deck, tables, workbook
from sim.run import provenance
from sim.run.config import CONFIG_DIR, to_plain

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
    path = workbook.write_excel(results, tmp_path / "run.xlsx")
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
    inputs = tables.assumptions_table(run).set_index("parameter")
    note = inputs.loc["scenario.adapters", "source / note"]
    assert note.startswith("set for this run (scenario/high_traffic.yaml gives 5)") and "assumption, range 1–20" in note
    # A key the preset inherits from default.yaml keeps default.yaml's comment.
    assert "GPU prices" in inputs.loc["scenario.gpu_reserved_usd_per_hour", "source / note"]
    assert "customer-facing" in inputs.loc["scenario.downtime_usd_per_adapter_hour", "source / note"]


def _config_copy(tmp_path: Path) -> Path:
    """The packaged configs plus a preset two levels deep: ``mine`` extends ``high_traffic``,
    which extends ``default``."""
    folder = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, folder)
    (folder / "scenario" / "mine.yaml").write_text(
        "defaults:\n  - high_traffic\n  - _self_\n\nname: mine\nengineers: 4   # our team\ndowntime_usd_per_adapter_hour: 3000\n",
        encoding="utf-8",
    )
    return folder


def test_sources_come_from_the_files_hydra_composes_later_over_earlier(tmp_path):
    folder = _config_copy(tmp_path)
    composition = provenance.compose_files(["scenario=mine"], folder)
    scenario_files = [f for f in composition.files if f.package == "scenario"]
    assert [f.name for f in scenario_files] == ["scenario/default.yaml", "scenario/high_traffic.yaml", "scenario/mine.yaml"]
    assert all(f.path.resolve().is_relative_to(folder.resolve()) for f in composition.files)

    plain = to_plain(sim.load_config(["scenario=mine", "scenario.adapters=7"], config_dir=folder))
    sources = provenance.run_sources(plain, folder)
    assert set(sources) == {"scenario", *(f"operating_model.{m}" for m in plain["operating_model"])}
    scenario = sources["scenario"]
    assert scenario.file == "scenario/mine.yaml" and scenario.values["engineers"] == 4 and scenario.values["adapters"] == 5
    assert scenario.comments["engineers"] == "our team"  # the last file's comment wins
    assert "customer-facing" in scenario.comments["downtime_usd_per_adapter_hour"]  # set without one: high_traffic's stays
    assert scenario.comments["adapters"].startswith("assumption, range 1–20")  # only default.yaml sets it
    # A choice with no file in the folder has no source (rather than another file's).
    assert provenance.run_sources({"scenario": {"name": "nowhere"}, "operating_model": {"built_from_overrides": {}}}) == {}


def test_sources_are_read_inside_a_running_hydra_app(results):
    """The lora-tco command writes its workbook from its Hydra job: reading the sources
    there neither fails on Hydra's global state nor changes it."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    outside = tables.assumptions_table(results)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        running = GlobalHydra.instance().hydra
        inside = tables.assumptions_table(results)
        assert GlobalHydra.instance().hydra is running
    assert inside.equals(outside)


def test_one_formatter_for_each_kind_of_number():
    assert [labels.percent(p) for p in (0, 0.004, 0.005, 0.57, 0.996, 1)] == ["0 %", "<1 %", "<1 %", "57 %", ">99 %", "100 %"]
    assert labels.percent(0.0004, 1) == "<0.1 %" and labels.percent(0.034, 1) == "3.4 %"
    assert labels.usd_exact(1234567.4) == "$1,234,567" and labels.usd_exact(-950) == "-$950"
    assert labels.money(1_250_000) == "$1.25M" and labels.money(-340_000) == "-$340k"
    assert [labels.number(x) for x in (2.1666, 999.6, 12345.6, 5, "pert(1, 2, 4)")] == ["2.17", "1,000", "12,346", "5", "pert(1, 2, 4)"]
    assert labels.readable("tco_distribution") == "TCO distribution" and labels.readable("cost-by_gpu") == "Cost by GPU"
    assert labels.short_label("Managed fine-tuning (OpenAI-enterprise style)") == "Managed fine-tuning"
    assert labels.in_sentence("Managed fine-tuning (OpenAI-enterprise style)") == "managed fine-tuning"
    assert labels.in_sentence("LoRA adapters") == "LoRA adapters"
    assert labels.model_label("self_managed_lora") == "Self-managed LoRA" and labels.model_label("my_gpu_lora") == "My GPU LoRA"


def test_the_old_export_module_still_names_everything():
    import sim.export

    for name in ("write_excel", "write_deck", "headline", "key_numbers", "assumptions_table", "yaml_comments"):
        assert callable(getattr(sim.export, name)), name


def test_deck_reads_back_with_titles_pictures_and_notes(results, charts, tmp_path):
    given = [charts[0], (charts[1], "Labour drives self-managed LoRA's TCO")]
    path = deck.write_deck(results, given, tmp_path / "run.pptx")
    shown = pptx.Presentation(path)
    assert len(shown.slides) == 3 + len(given)
    assert round(shown.slide_width / 914400, 2) == 13.33 and shown.slide_height / 914400 == pytest.approx(7.5)

    slides = list(shown.slides)
    best = int(np.argmin(results.totals().mean(axis=1)))
    headline = slides[0].shapes.title.text
    assert headline == deck.headline(results)
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
        assert 0 <= pic.left and pic.left + pic.width <= shown.slide_width
        assert slide.shapes.title.top + slide.shapes.title.height <= pic.top and pic.top + pic.height <= shown.slide_height
        width_px, height_px = plt.imread(chart).shape[1::-1]
        assert pic.width / pic.height == pytest.approx(width_px / height_px, rel=0.01)
        notes = slide.notes_slide.notes_text_frame.text
        assert notes
        for mean in means:
            assert f"${mean:,.0f}" in notes


def test_failed_workbook_write_leaves_no_file(results, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workbook, "_fit_columns", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        workbook.write_excel(results, tmp_path / "run.xlsx")
    assert list(tmp_path.iterdir()) == []

    # An older workbook at the target survives a failed rewrite untouched.
    (tmp_path / "run.xlsx").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        workbook.write_excel(results, tmp_path / "run.xlsx")
    assert (tmp_path / "run.xlsx").read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_failed_deck_write_leaves_no_file(results, charts, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("picture failed")

    monkeypatch.setattr(deck, "_notes", broken)
    target = tmp_path / "out" / "run.pptx"
    with pytest.raises(RuntimeError, match="picture failed"):
        deck.write_deck(results, charts, target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_missing_chart_is_reported_before_writing(results, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        deck.write_deck(results, [tmp_path / "nope.png"], tmp_path / "run.pptx")
    assert not (tmp_path / "run.pptx").exists()


@pytest.mark.parametrize(("module", "write"), [("openpyxl", "write_excel"), ("pptx", "write_deck")])
def test_missing_dependency_names_the_extra(results, tmp_path, monkeypatch, module, write):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    call = getattr(workbook if write == "write_excel" else deck, write)
    with pytest.raises(ImportError, match=r'pip install "lora-tco\[exports\]"'):
        call(results, tmp_path / "x") if write == "write_excel" else call(results, [], tmp_path / "x")


def test_one_operating_model_exports(tmp_path):
    results = sim.simulate(sim.load_config(["replications=50", "horizon_years=1", "operating_model=[managed_finetune]"]))
    wb = openpyxl.load_workbook(workbook.write_excel(results, tmp_path / "one.xlsx"))
    assert len(_rows(wb["summary"])) == 1 and "nothing to compare" in _rows(wb["paired"])[0]["note"]
    shown = pptx.Presentation(deck.write_deck(results, [], tmp_path / "one.pptx", title="One model"))
    assert len(shown.slides) == 3 and shown.slides[0].shapes.title.text == "One model"


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
    assert provenance.yaml_comments(path) == {
        "model.label": "the label",
        "model.training": "section note",
        "model.training.gpu_hours.mean": "source A",
        "model.training.gpu_hours.cv": "source B",
        "model.serving.mean": "another mean",
    }
