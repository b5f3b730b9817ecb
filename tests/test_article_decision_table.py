"""The article's decision table against the simulator: sim.analysis.article_decision_table, the study kind
``article_decision_table`` through the real CLI, and experiments/article_decision_table.py
(not part of an installed package, so loaded from its file)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from models.errors import ConfigError
from sim import load_config
from sim.analysis.article_decision_table import MANAGED, NO_FLIP, ROWS, SELF, assign, preset_changes, side_config
from sim.run.config import validate

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "experiments" / "article_decision_table.py"
SEED = 4242
SIZE = ("replications=60", "horizon_years=2", f"seed={SEED}")
CSV = "article_decision_table.csv"
SIDES = [(row.name, side.side) for row in ROWS for side in row.sides]
COLUMNS = {
    "row",
    "side",
    "scenario",
    "objective",
    "article_expects",
    "cheapest",
    "p_cheapest",
    "p_article_side",
    "agree",
    "flip_input",
    "flip_low",
    "flip_high",
    "threshold",
    "flip_detail",
    "flip_replications",
    "staff_needed",
    "staff_needed_detail",
    "explanation",
    "seed",
    "replications",
    "horizon_years",
}
MODELS = ("self_managed_lora", "managed_finetune", "managed_adapter_serving")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("article_decision_table_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The CLI (a subprocess, started first) and the script (in this process), on the same small config."""
    cli_dir = tmp_path_factory.mktemp("cli") / "run"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cli = subprocess.Popen(
        [sys.executable, "-m", "sim", "experiment=article_decision_table", *SIZE, f"hydra.run.dir={cli_dir}"],
        cwd=tmp_path_factory.mktemp("cwd"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    script_dir = tmp_path_factory.mktemp("script") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = _load().main(["--replications", "60", "--horizon-years", "2", "--output", str(script_dir), f"seed={SEED}"])
    stdout, stderr = cli.communicate(timeout=600)
    return {
        "cli_code": cli.returncode,
        "cli_stdout": stdout,
        "cli_stderr": stderr,
        "cli_dir": cli_dir,
        "script_code": code,
        "script_stdout": printed.getvalue(),
        "script_dir": script_dir,
    }


@pytest.fixture(scope="module")
def table(outputs) -> pd.DataFrame:
    assert outputs["script_code"] == 0
    return pd.read_csv(outputs["script_dir"] / CSV)


def test_the_cli_runs_the_study_and_writes_the_csv(outputs):
    assert outputs["cli_code"] == 0, f"stdout:\n{outputs['cli_stdout']}\nstderr:\n{outputs['cli_stderr']}"
    assert "Traceback" not in outputs["cli_stderr"]
    assert "The article's decision table against lora-tco" in outputs["cli_stdout"]
    assert f"seed {SEED}" in outputs["cli_stdout"]
    written = pd.read_csv(outputs["cli_dir"] / CSV)
    assert len(written) == len(SIDES) and (written.seed == SEED).all()
    assert not list(Path(outputs["cli_dir"]).glob(".*.tmp*")), "temporary file left behind"


def test_the_script_and_the_cli_compute_the_same_table(outputs, table):
    cli = pd.read_csv(outputs["cli_dir"] / CSV)
    pd.testing.assert_frame_equal(cli, table)
    assert "wrote" in outputs["script_stdout"] and CSV in outputs["script_stdout"]
    assert not [p for p in Path(outputs["script_dir"]).iterdir() if p.name != CSV], "temporary file left behind"


def test_every_row_and_side_and_column(table):
    assert len(table) == 6 * 2 + 3 == len(SIDES)
    assert list(zip(table.row, table.side, strict=True)) == SIDES
    assert COLUMNS <= set(table.columns)
    for model in MODELS:
        assert f"tco_mean_{model}" in table.columns and f"economic_mean_{model}" in table.columns
    assert (table.seed == SEED).all() and (table.replications == 60).all() and (table.horizon_years == 2).all()
    assert (table.flip_replications == 60).all()  # min(replications, 500)
    assert set(table.article_expects) == {SELF, MANAGED}
    assert set(table.objective) == {"mean TCO", "mean economic cost"}
    assert (table[table.row == "Latency / uptime SLA"].objective == "mean economic cost").all()


def test_cheapest_is_the_lowest_mean_of_the_rows_objective_and_agree_follows(table):
    for r in table.itertuples():
        measure = "economic" if r.objective == "mean economic cost" else "tco"
        means = {m: getattr(r, f"{measure}_mean_{m}") for m in MODELS}
        assert r.cheapest == min(means, key=means.get), r.row
        lora_side = SELF if r.cheapest == "self_managed_lora" else MANAGED
        assert r.agree == ("yes" if lora_side == r.article_expects else "no"), (r.row, r.side)


def test_probabilities_lie_in_the_unit_interval(table):
    for column in ("p_cheapest", "p_article_side"):
        assert table[column].between(0, 1).all(), column
    # the cheapest on average is cheapest in some replications; the article's side is cheapest with p_article_side
    assert (table.p_cheapest > 0).all()


def test_a_disagreement_is_explained_with_figures(table):
    disagree = table[table.agree == "no"]
    for r in disagree.itertuples():
        assert isinstance(r.explanation, str) and r.explanation.strip(), (r.row, r.side)
        assert re.search(r"\$\d", r.explanation), r.explanation
        assert "more" in r.explanation
    agree = table[(table.agree == "yes") & (table.row != "Base-model dependency")]
    assert agree.explanation.isna().all() or (agree.explanation.fillna("") == "").all()
    caveat = table[table.row == "Base-model dependency"].explanation
    assert caveat.str.contains("quality").all() and caveat.str.contains("not priced").all()


def test_a_threshold_is_a_number_in_the_range_or_no_flip(table):
    for r in table.itertuples():
        text = str(r.threshold)
        if text.startswith(NO_FLIP):
            assert text == f"{NO_FLIP} [{r.flip_low:g}, {r.flip_high:g}]"
            assert "across" in r.flip_detail
        else:
            value = float(text)
            assert r.flip_low <= value <= r.flip_high, (r.row, value)
            assert "below" in r.flip_detail and "above" in r.flip_detail
    # both sides of a decision row share one search on the same input
    for _, group in table.groupby("row"):
        assert group.threshold.nunique() == 1 and group.flip_input.nunique() == 1


def test_experiment_config_composes_as_the_study():
    cfg = load_config(["experiment=article_decision_table"])
    assert cfg.study.kind == "article_decision_table" and cfg.replications == 2000
    assert list(cfg.operating_model) == list(MODELS)  # keeps every model of the config


def test_the_study_needs_the_self_managed_model_and_a_managed_one():
    with pytest.raises(ConfigError) as info:
        load_config(["experiment=article_decision_table", "operating_model=[managed_finetune,managed_adapter_serving]"])
    assert "study.a" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(["experiment=article_decision_table", "operating_model=[self_managed_lora]"])
    assert "operating_model" in str(info.value)


def test_the_script_rejects_bad_overrides(capsys):
    assert _load().main(["--replications", "10", "scenario.regulated_share=1.5"]) == 2
    assert "scenario.regulated_share" in capsys.readouterr().err


# -- the row configs ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["small_team_stable_data", "regulated_many_adapters", "existing_gpu_platform"])
def test_a_preset_row_is_the_composed_preset(preset):
    base = validate(load_config(["replications=10"]))
    row = next(r for r in ROWS if r.sides[0].preset == preset)
    built = side_config(base, row.sides[0])["scenario"]
    composed = validate(load_config(["replications=10", f"scenario={preset}"]))["scenario"]
    assert built == composed
    assert preset_changes(preset)  # the preset changes something


def test_each_side_changes_only_its_own_inputs_within_range():
    base = validate(load_config(["replications=10"]))
    for row in ROWS:
        for side in row.sides:
            if side.preset:
                continue
            scenario = side_config(base, side)["scenario"]
            changed = {k for k in scenario if scenario[k] != base["scenario"][k]}
            assert changed <= {p.removeprefix("scenario.") for p in side.overrides}, (row.name, changed)
        assert len(row.flip.values) in range(5, 10) and np.all(np.diff(row.flip.values) > 0), row.name


def test_assign_gives_a_fraction_to_a_share_written_as_an_integer():
    plain = validate(load_config(["replications=10"]))
    assert plain["scenario"]["existing_staff_cost_share"] == 1
    assign(plain, "scenario.existing_staff_cost_share", 0.375)
    assert plain["scenario"]["existing_staff_cost_share"] == 0.375
    assign(plain, "scenario.adapters", 3.0)
    assert plain["scenario"]["adapters"] == 3 and isinstance(plain["scenario"]["adapters"], int)
    validate(plain)


def test_every_self_fits_side_says_how_many_sunk_fte_would_flip_it(table):
    self_sides = table[table.article_expects == SELF]
    managed_sides = table[table.article_expects == MANAGED]
    assert managed_sides.staff_needed.fillna("").eq("").all()
    for r in self_sides.itertuples():
        text = str(r.staff_needed)
        if text.startswith(NO_FLIP):
            assert text == f"{NO_FLIP} [0, 3]", text
        else:
            assert 0.0 <= float(text) <= 3.0, text
        assert r.staff_needed_detail, r.row
