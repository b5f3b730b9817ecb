"""The scripts in experiments/ end to end, at small sizes, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--replications", "200", "horizon_years=2"]


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "experiments" / script), *args], capture_output=True, text=True, timeout=600)


def test_break_even_script_writes_the_curve_and_the_crossing(tmp_path):
    done = run("break_even.py", *SMALL, "--values", "1,5,10,20", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    curve = pd.read_csv(tmp_path / "break_even_curve.csv")
    assert curve["scenario.adapters"].tolist() == [1, 5, 10, 20]
    assert {"mean_difference", "se", "p_a_cheaper", "seed"} <= set(curve.columns)
    crossing = pd.read_csv(tmp_path / "break_even.csv")
    assert len(crossing) == 1 and crossing["seed"].item() == 20261129
    assert "cheaper" in done.stdout


def test_decision_map_script(tmp_path):
    done = run("decision_map.py", *SMALL, "--x-values", "1,10", "--y-values", "30,90", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(tmp_path / "decision_map.csv")
    assert len(frame) == 4
    assert frame["p_cheapest"].between(0, 1).all()


def test_sensitivity_script(tmp_path):
    done = run("sensitivity.py", "--replications", "100", "horizon_years=1", "--sobol-samples", "16", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    swings = pd.read_csv(tmp_path / "tornado.csv")
    assert swings["swing"].abs().is_monotonic_decreasing
    assert (tmp_path / "sobol.csv").stat().st_size > 0


def test_precision_script_reports_the_replications_used(tmp_path):
    done = run("precision.py", *SMALL, "--target", "0.05", "--batch", "100", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    history = pd.read_csv(tmp_path / "precision_history.csv")
    assert "reached after" in done.stdout
    assert history["relative_half_width"].iloc[-1] <= 0.05


@pytest.mark.parametrize(
    ("script", "args", "names"),
    [
        ("break_even.py", ["--parameter", "scenario.adapterz"], "scenario.adapterz"),
        ("break_even.py", ["--a", "nobody"], "nobody"),
        ("decision_map.py", ["scenario.adapters=-1"], "scenario.adapters"),
        ("precision.py", ["--target", "2"], "target"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(script, args, names, tmp_path):
    done = run(script, *args, "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
