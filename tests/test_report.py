"""Studies from the command line: experiment presets, multirun sweeps on the local
launchers, lora-tco-report, failed and missing jobs, re-runs that skip finished jobs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from sim.run.config import CONFIG_DIR

SMALL = ["replications=120", "horizon_years=1", "output.print_summary=false"]
VOLUMES = "500,2000,5000"  # million tokens per adapter-month: self-managed vs managed fine-tuning cross near 3,400


def lora_tco(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parent)


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.apps.report", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "experiment").glob("*.yaml")), ids=lambda p: p.stem)
def test_swept_grid_of_each_study_preset_matches_its_in_process_grid(path):
    """`lora-tco experiment=X` and `lora-tco -m experiment=X` must study the same points."""
    cfg = OmegaConf.load(path)
    study = cfg.get("study")
    if study is None or study.kind not in ("break_even", "decision_map"):
        return
    params = cfg.hydra.sweeper.params
    grid = [float(v) for v in str(params[study.parameter]).split(",")]
    assert grid == [float(v) for v in study["values"]]
    if study.kind == "decision_map":
        assert [float(v) for v in str(params[study.y_parameter]).split(",")] == [float(v) for v in study.y_values]


def test_break_even_experiment_in_one_process_writes_curve_and_charts(tmp_path):
    done = lora_tco(
        "experiment=breakeven_volume",
        *SMALL,
        f"study.values=[{VOLUMES}]",
        f"hydra.run.dir={tmp_path}",
    )
    assert done.returncode == 0, done.stderr
    curve = pd.read_csv(tmp_path / "break_even_curve.csv")
    assert curve["scenario.tokens_per_adapter_month_m"].tolist() == [500, 2000, 5000]
    row = pd.read_csv(tmp_path / "break_even.csv").iloc[0]
    assert 2000 < row["crossing"] < 5000 and row["ci_low"] <= row["crossing"] <= row["ci_high"]
    for chart in ("break_even.png", "p_cheaper.png"):
        assert (tmp_path / chart).stat().st_size > 20_000


def _sweep(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return lora_tco(
        "-m",
        "experiment=breakeven_volume",
        *SMALL,
        "output.charts=false",
        f"scenario.tokens_per_adapter_month_m={VOLUMES}",
        f"hydra.sweep.dir={folder}",
        *extra,
    )


def _check_report(folder: Path) -> pd.DataFrame:
    done = report(str(folder))
    assert done.returncode == 0, done.stderr
    out = folder / "report"
    sweep = pd.read_parquet(out / "sweep.parquet")
    assert set(sweep["scenario.tokens_per_adapter_month_m"]) == {500.0, 2000.0, 5000.0}
    assert sweep.groupby("job")["replication"].nunique().eq(120).all()
    table = pd.read_csv(out / "break_even.csv").set_index(["a", "b"])
    row = table.loc[("self_managed_lora", "managed_finetune")]
    assert 2000 < row["crossing"] < 5000
    assert (out / "break_even_self_managed_lora_vs_managed_finetune.png").stat().st_size > 20_000
    return table


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory) -> Path:
    """One finished sweep on Hydra's basic launcher; tests copy it before changing it."""
    folder = tmp_path_factory.mktemp("basic") / "sweep"
    done = _sweep(folder)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


def _copy(sweep: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sweep"
    shutil.copytree(sweep, target)
    return target


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_sweep_on_each_launcher_then_report(tmp_path, launcher):
    extra = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "engine.threads=1"]
    if launcher == "submitit_local":
        extra = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"]
    done = _sweep(tmp_path, *extra)
    assert done.returncode == 0, done.stderr[-2000:]
    _check_report(tmp_path)


def test_report_matches_the_in_process_study(basic_sweep, tmp_path):
    """The report's break-even (joined from jobs) equals the one-process study's."""
    joined = _check_report(_copy(basic_sweep, tmp_path)).loc[("self_managed_lora", "managed_finetune")]
    one = lora_tco(
        "experiment=breakeven_volume",
        *SMALL,
        "output.charts=false",
        "study.b=managed_finetune",
        f"study.values=[{VOLUMES}]",
        f"hydra.run.dir={tmp_path / 'one'}",
    )
    assert one.returncode == 0, one.stderr
    single = pd.read_csv(tmp_path / "one" / "break_even.csv").iloc[0]
    for key in ("crossing", "ci_low", "ci_high"):
        assert joined[key] == pytest.approx(single[key], rel=1e-12)


def test_a_failed_job_is_named_and_the_rest_reported(tmp_path):
    # Bad input is refused before any job starts, so this job fails as it runs: its summary.csv cannot be written.
    (tmp_path / "1" / "summary.csv").mkdir(parents=True)
    done = lora_tco("-m", *SMALL, "output.charts=false", "scenario.adapters=1,2,3", f"hydra.sweep.dir={tmp_path}")
    assert done.returncode != 0  # the failed job is reported after the others ran
    assert "summary.csv" in done.stderr, done.stderr
    result = report(str(tmp_path))
    assert result.returncode == 1
    assert "job 1 (scenario.adapters=2) [failed]:" in result.stderr and "summary.csv" in result.stderr, result.stderr
    status = pd.read_csv(tmp_path / "report" / "jobs.csv")
    assert sorted(status["state"]) == ["done", "done", "failed"]
    sweep = pd.read_parquet(tmp_path / "report" / "sweep.parquet")
    assert set(sweep["scenario.adapters"]) == {1.0, 3.0}


def test_a_missing_job_is_named(basic_sweep, tmp_path):
    sweep = _copy(basic_sweep, tmp_path)
    shutil.rmtree(sweep / "1")
    result = report(str(sweep))
    assert result.returncode == 1
    assert "scenario.tokens_per_adapter_month_m=2000" in result.stderr and "[missing]" in result.stderr
    status = pd.read_csv(sweep / "report" / "jobs.csv")
    assert sorted(status["state"]) == ["done", "done", "missing"]


def test_rerunning_a_sweep_skips_finished_jobs(basic_sweep, tmp_path):
    sweep = _copy(basic_sweep, tmp_path)
    before = (sweep / "0" / "ledger.parquet").stat().st_mtime_ns
    (sweep / "2" / ".lora_tco_done.json").unlink()  # as if job 2 had been killed
    again = _sweep(sweep)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already finished") == 2
    assert (sweep / "0" / "ledger.parquet").stat().st_mtime_ns == before
    assert (sweep / "2" / ".lora_tco_done.json").exists()


def test_a_finished_job_is_rerun_when_its_config_or_files_change(tmp_path):
    from sim.apps import jobs
    from sim.run.config import load_config, validate

    plain = validate(load_config(SMALL))
    (tmp_path / "ledger.parquet").write_text("x")
    jobs.mark_done(tmp_path, plain, [tmp_path / "ledger.parquet"])
    assert jobs.finished(tmp_path, plain)
    assert jobs.finished(tmp_path, {**plain, "output": {**plain["output"], "charts": False}})  # output only: same numbers
    assert not jobs.finished(tmp_path, {**plain, "seed": 5})
    (tmp_path / "ledger.parquet").unlink()
    assert not jobs.finished(tmp_path, plain)


def test_a_marker_vouches_for_the_files_and_the_config_beside_them(tmp_path):
    from sim.apps import jobs
    from sim.run.config import load_config, validate

    plain = validate(load_config(SMALL))
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create(plain), tmp_path / ".hydra" / "config.yaml")
    (tmp_path / ".hydra" / "overrides.yaml").write_text("[]\n")
    (tmp_path / "summary.csv").write_text("a,b\n1,2\n")
    claim = jobs.claim(tmp_path, plain, multirun=True)
    assert claim.state == "run" and (tmp_path / jobs.LOCK).read_text().strip() == str(os.getpid())
    claim.done(plain, [tmp_path / "summary.csv"])
    assert jobs.verify(tmp_path) == ("done", "")
    assert set(jobs.record(tmp_path)["files"]) == {"summary.csv", ".hydra/config.yaml", ".hydra/overrides.yaml"}
    assert jobs.claim(tmp_path, plain, multirun=True).skip  # a sweep skips it; a single run would not

    OmegaConf.save(OmegaConf.create({**plain, "seed": 5}), tmp_path / ".hydra" / "config.yaml")  # a re-run rewrote .hydra/
    seeds = f"seed {plain['seed']} in the files, seed 5 in .hydra/config.yaml"
    assert jobs.verify(tmp_path) == ("incomplete", f"results are from another run ({seeds})")
    OmegaConf.save(OmegaConf.create(plain), tmp_path / ".hydra" / "config.yaml")
    assert jobs.verify(tmp_path) == ("done", "")
    with (tmp_path / "summary.csv").open("a") as f:
        f.write("3,4\n")
    assert jobs.verify(tmp_path) == ("incomplete", "its files changed after it finished (summary.csv)")
    assert jobs.claim(tmp_path, plain, multirun=True).state == "run"  # and its old marker is gone
    assert not (tmp_path / jobs.DONE).exists()


def test_report_of_a_folder_without_jobs_is_one_line(tmp_path):
    result = report(str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "no Hydra jobs" in result.stderr


def test_sensitivity_and_decision_map_experiments_run(tmp_path):
    done = lora_tco("experiment=sensitivity", *SMALL, "study.sobol_samples=8", f"hydra.run.dir={tmp_path / 's'}")
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "s" / "tornado.csv")) >= 5
    assert (tmp_path / "s" / "tornado.png").exists() and (tmp_path / "s" / "sobol.csv").exists()
    done = lora_tco("experiment=decision_map", *SMALL, "study.values=[1,10]", "study.y_values=[30,90]", f"hydra.run.dir={tmp_path / 'd'}")
    assert done.returncode == 0, done.stderr
    cells = pd.read_csv(tmp_path / "d" / "decision_map.csv")
    assert len(cells) == 4 and (tmp_path / "d" / "decision_map.png").stat().st_size > 20_000


def test_decision_map_sweep_then_report(tmp_path):
    done = lora_tco(
        "-m",
        "experiment=decision_map",
        *SMALL,
        "output.charts=false",
        "scenario.adapters=1,10",
        "scenario.refresh_interval_days=30,90",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = report(str(tmp_path))
    assert result.returncode == 0, result.stderr
    cells = pd.read_csv(tmp_path / "report" / "decision_map.csv")
    assert len(cells) == 4
    assert set(cells["scenario.adapters"]) == {1, 10} and set(cells["scenario.refresh_interval_days"]) == {30, 90}
    assert cells["p_cheapest"].between(0, 1).all()
    assert (tmp_path / "report" / "decision_map.png").stat().st_size > 20_000
