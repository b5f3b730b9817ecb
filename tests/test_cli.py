"""The real ``lora-tco`` command, run as a subprocess: outputs of good runs, one-line errors for bad input.

All runs are started together at the first test that needs one (a thread pool of
subprocesses, one per CPU) so the module stays within a few tens of seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import load_config

SMALL = ("replications=20", "horizon_years=2")
LEDGER_COLUMNS = ["replication", "operating_model", "year", "category", "usd"]
SUMMARY_COLUMNS = {
    "operating_model",
    "tco_mean",
    "tco_p05",
    "tco_p50",
    "tco_p95",
    "economic_mean",
    "economic_p05",
    "economic_p50",
    "economic_p95",
    "p_cheapest_tco",
    "seed",
}
CHARTS = ("tco_distribution.png", "cost_breakdown.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TWO_MODELS = ("self_managed_lora", "managed_finetune")

# bad input -> (overrides, field the error line must name)
BAD_INPUTS = {
    "negative-rate": (("scenario.drift_rate_per_adapter_year=-1",), "scenario.drift_rate_per_adapter_year"),
    "probability-above-1": (("scenario.regulated_share=1.5",), "scenario.regulated_share"),
    "unknown-key": (("+scenario.foo=1",), "scenario.foo"),
    "malformed-pert": (("scenario.drift_rate_per_adapter_year={dist:pert,min:3,mode:1,max:4}",), "scenario.drift_rate_per_adapter_year"),
    "replications-zero": (("replications=0",), "replications"),
    "zero-reviewers-with-regulated-adapters": (("scenario.reviewers=0", "scenario.regulated_share=0.2"), "scenario.reviewers"),
    "unknown-group-option": (("operating_model=[nope]",), "operating_model"),
    "bad-value-beside-a-config-dir-flag": (("--config-dir", str(Path(__file__).parent), "scenario.adapters=0"), "scenario.adapters"),
}


# what the organisation already has, and an idle paid reserved GPU
INCREMENTAL = (
    "scenario.existing_platform_fte=1",
    "scenario.existing_staff_cost_share=0.5",
    "operating_model.self_managed_lora.gpu_pool.reserved=1",
    "output.charts=false",
)
BASIS_FILES = ("ledger.parquet", "metrics.parquet", "replications.parquet", "totals.parquet")


@dataclass
class Run:
    cwd: Path
    run_dir: Path
    returncode: int
    stdout: str
    stderr: str


def _lora_tco_script() -> str | None:
    return shutil.which("lora-tco", path=str(Path(sys.executable).parent))


def _run(command: list[str], cwd: Path, args: tuple[str, ...]) -> Run:
    run_dir = cwd / "run"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [*command, *args, f"hydra.run.dir={run_dir}"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return Run(cwd, run_dir, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """name -> Future[Run]; the slow good runs are submitted first."""
    python = [sys.executable, "-m", "sim"]
    script = _lora_tco_script()
    jobs: dict[str, tuple[list[str] | None, tuple[str, ...]]] = {
        "plain": (python, SMALL),
        "two-models": ([script] if script else None, (*SMALL, f"operating_model=[{','.join(TWO_MODELS)}]")),
        "incremental": (python, (*SMALL, *INCREMENTAL)),
    }
    jobs.update({f"bad:{name}": (python, (*SMALL, *overrides)) for name, (overrides, _) in BAD_INPUTS.items()})
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    futures: dict[str, Future | None] = {}
    for name, (command, args) in jobs.items():
        cwd = tmp_path_factory.mktemp(name.replace(":", "-"))
        futures[name] = pool.submit(_run, command, cwd, args) if command else None
    yield futures
    pool.shutdown(wait=True)


def _result(runs, name: str) -> Run:
    future = runs[name]
    assert future is not None, "no lora-tco console script next to sys.executable"
    return future.result()


def _table_rows(stdout: str) -> list[str]:
    """Lines of the printed summary table between the dashed rule and the first blank line."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def _check_outputs(run: Run, expected_models: list[str]) -> None:
    assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "Traceback" not in run.stderr
    cfg = load_config([*SMALL, f"operating_model=[{','.join(expected_models)}]"])
    labels = [cfg.operating_model[m].label for m in expected_models]

    # the printed summary table: header, then one line per operating model
    assert "operating model" in run.stdout and "TCO mean" in run.stdout and "P(cheapest)" in run.stdout, run.stdout
    assert f"seed {cfg.seed}" in run.stdout
    rows = _table_rows(run.stdout)
    assert len(rows) == len(expected_models), rows
    for label in labels:
        assert sum(row.startswith(label[:20]) for row in rows) == 1, f"no single table line for {label!r}: {rows}"

    # summary.csv: one row per model
    summary = pd.read_csv(run.run_dir / "summary.csv")
    assert SUMMARY_COLUMNS <= set(summary.columns), SUMMARY_COLUMNS - set(summary.columns)
    assert sorted(summary["operating_model"]) == sorted(expected_models)
    assert (summary["seed"] == cfg.seed).all()
    assert summary["p_cheapest_tco"].sum() == pytest.approx(1.0)
    for measure in ("tco", "economic"):
        assert (summary[f"{measure}_p05"] <= summary[f"{measure}_p50"]).all()
        assert (summary[f"{measure}_p50"] <= summary[f"{measure}_p95"]).all()

    # ledger.parquet: the contract columns, the seed in the schema metadata
    table = pq.read_table(run.run_dir / "ledger.parquet")
    assert table.column_names == LEDGER_COLUMNS
    assert table.schema.metadata[b"lora_tco.seed"] == str(cfg.seed).encode()
    ledger = table.to_pandas()
    assert sorted(ledger["operating_model"].astype(str).unique()) == sorted(expected_models)
    assert ledger["replication"].nunique() == 20
    assert sorted(ledger["year"].unique()) == [0, 1]

    # metrics.parquet: one row per replication x operating model
    metrics = pq.read_table(run.run_dir / "metrics.parquet").to_pandas()
    assert {"replication", "operating_model"} <= set(metrics.columns)
    assert len(metrics) == 20 * len(expected_models)

    for chart in CHARTS:
        path = run.run_dir / chart
        assert path.is_file(), f"missing {chart}"
        assert path.read_bytes()[:8] == PNG_MAGIC, f"{chart} is not a PNG"


def test_plain_run_writes_summary_ledger_metrics_and_charts(runs) -> None:
    run = _result(runs, "plain")
    default_models = list(load_config().operating_model)
    _check_outputs(run, default_models)


def test_console_script_compares_exactly_the_selected_two_models(runs) -> None:
    run = _result(runs, "two-models")
    _check_outputs(run, list(TWO_MODELS))


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_exits_nonzero_with_one_error_line(runs, name: str) -> None:
    run = _result(runs, f"bad:{name}")
    field = BAD_INPUTS[name][1]
    assert run.returncode != 0, f"exit 0 for bad input\nstdout:\n{run.stdout}"
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"stderr is not one line:\n{run.stderr}"
    assert lines[0].startswith("lora-tco: error:"), lines[0]
    assert field in lines[0], f"error line does not name {field}: {lines[0]}"
    assert "Traceback" not in run.stdout and "Traceback" not in run.stderr
    leftovers = [p for pattern in ("*summary.csv*", "*ledger.parquet*") for p in run.cwd.rglob(pattern)]
    assert not leftovers, f"half-written output: {leftovers}"


def test_an_export_without_its_extra_is_a_one_line_config_error(monkeypatch):
    """Checked before any simulation, so nothing is half-written."""
    import importlib.util

    from models.errors import ConfigError
    from sim.apps.commandline import check_extras
    from sim.run.config import validate

    plain = validate(load_config(["output.excel=true"]))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openpyxl" else real(name, *a))
    with pytest.raises(ConfigError, match=r"output\.excel = True: needs the exports extra"):
        check_extras(plain)
    check_extras(validate(load_config(["output.deck=true"])))  # python-pptx is installed with dev


@pytest.mark.parametrize(("name", "basis"), [("plain", "fully_loaded"), ("incremental", "incremental")])
def test_every_output_file_names_its_accounting_basis(runs, name: str, basis: str) -> None:
    run = _result(runs, name)
    assert run.returncode == 0, run.stderr
    words = "fully loaded: every cost" if basis == "fully_loaded" else "incremental: only what an operating model adds"
    assert f"accounting basis: {words}" in run.stdout
    assert set(pd.read_csv(run.run_dir / "summary.csv")["accounting_basis"]) == {basis}
    assert set(pd.read_csv(run.run_dir / "paired_comparison.csv")["accounting_basis"]) == {basis}
    for file in BASIS_FILES:
        assert pq.read_schema(run.run_dir / file).metadata[b"lora_tco.accounting_basis"] == basis.encode(), file


def test_idle_paid_capacity_is_a_warning_line_and_in_summary_csv(runs) -> None:
    run = _result(runs, "incremental")
    lines = [line for line in run.stdout.splitlines() if line.startswith("warning: ")]
    assert lines and all("Self-managed LoRA" in line for line in lines), run.stdout
    assert any("reserved training GPUs are paid for all year but busy" in line for line in lines)
    summary = pd.read_csv(run.run_dir / "summary.csv").set_index("operating_model")
    assert "reserved training GPUs" in summary.loc["self_managed_lora", "warnings"]
    assert pd.isna(summary.loc["managed_finetune", "warnings"])  # no warning: an empty field
    warned = pq.read_schema(run.run_dir / "ledger.parquet").metadata[b"lora_tco.warnings"]
    assert b"reserved training GPUs" in warned
