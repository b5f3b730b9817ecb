"""Sharded replications: ``shard=i/n`` runs of the real ``lora-tco`` command merge with
``lora-tco-merge`` into exactly the unsharded run; missing and duplicate shards are one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from models.errors import ConfigError
from sim import load_config, simulate
from sim.apps.merge import MergeError, merge_results
from sim.run.results import SAVED_TABLES, Results

SMALL = ("replications=31", "horizon_years=2", "output.charts=false", "output.print_summary=false")
N_SHARDS = 3


def _script(name: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"no {name} console script next to {sys.executable} (pip install -e .)"
    return [found]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The unsharded run and its three shards, run by the real CLI side by side."""
    root = tmp_path_factory.mktemp("shards")
    jobs = {"whole": ()} | {f"shard{i}": (f"shard={i}/{N_SHARDS}",) for i in range(N_SHARDS)}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {
            name: pool.submit(_run, [*_script("lora-tco"), *SMALL, *extra, f"hydra.run.dir={root / name}"], root)
            for name, extra in jobs.items()
        }
        done = {name: f.result() for name, f in futures.items()}
    for name, proc in done.items():
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
    return {name: root / name for name in jobs}


def _shards(runs: dict[str, Path], *indices: int) -> list[str]:
    return [str(runs[f"shard{i}"]) for i in indices]


def test_shard_runs_hold_contiguous_blocks_with_the_shard_in_the_metadata(runs) -> None:
    blocks = np.array_split(np.arange(31), N_SHARDS)
    for i in range(N_SHARDS):
        table = pq.read_table(runs[f"shard{i}"] / "ledger.parquet")
        assert table.schema.metadata[b"lora_tco.shard"] == f"{i}/{N_SHARDS}".encode()
        assert np.array_equal(np.unique(table.column("replication").to_numpy()), blocks[i])
    assert pq.read_table(runs["whole"] / "ledger.parquet").schema.metadata[b"lora_tco.shard"] == b""


def test_merged_shards_are_bit_identical_to_the_unsharded_run(runs, tmp_path) -> None:
    out = tmp_path / "merged"
    proc = _run([*_script("lora-tco-merge"), *_shards(runs, 2, 0, 1), "--output", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for name in SAVED_TABLES:
        whole, merged = pq.read_table(runs["whole"] / name), pq.read_table(out / name)
        assert merged.equals(whole), name
        assert merged.schema.metadata == whole.schema.metadata, name
    assert (out / "summary.csv").read_bytes() == (runs["whole"] / "summary.csv").read_bytes()

    whole, merged = Results.from_saved(runs["whole"]), Results.from_saved(out)
    for name in ("replications", "costs", "metrics_array", "discount_rates", "one_time_usd"):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name
    assert merged.shard == "" and merged.model_labels == whole.model_labels


def test_from_saved_rebuilds_the_arrays_simulate_returned(tmp_path) -> None:
    results = simulate(load_config(["replications=12", "horizon_years=2", "seed=7", "scenario.discount_rate=0.08", "shard=1/2"]))
    results.save(tmp_path)
    back = Results.from_saved(tmp_path)
    for name in ("replications", "costs", "metrics_array", "discount_rates", "one_time_usd"):
        assert np.array_equal(getattr(back, name), getattr(results, name)), name
    assert (back.model_names, back.model_labels, back.seed, back.horizon_years, back.shard) == (
        results.model_names,
        results.model_labels,
        7,
        2,
        "1/2",
    )
    assert np.array_equal(back.totals(npv=True), results.totals(npv=True))


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lora-tco-merge: error:"), lines[0]
    return lines[0]


def test_a_missing_shard_is_a_one_line_error_naming_it(runs, tmp_path) -> None:
    out = tmp_path / "merged"
    line = _one_error_line(_run([*_script("lora-tco-merge"), *_shards(runs, 0, 2), "--output", str(out)], tmp_path))
    assert "missing shard 1/3" in line and "replications 11-20" in line, line
    assert not out.exists(), "nothing is written when the merge fails"


def test_a_duplicate_shard_is_a_one_line_error_naming_it(runs, tmp_path) -> None:
    out = tmp_path / "merged"
    line = _one_error_line(_run([*_script("lora-tco-merge"), *_shards(runs, 0, 1, 2, 1), "--output", str(out)], tmp_path))
    assert "duplicate shard 1/3" in line, line
    assert not out.exists()


def test_shards_of_different_runs_do_not_merge(runs, tmp_path) -> None:
    # the same shard of a run with another seed, saved from Python (no .hydra/, no done marker)
    other = tmp_path / "other"
    simulate(load_config([*SMALL, "shard=1/3", "seed=1"])).save(other)
    with pytest.raises(MergeError, match=r"seed = 1 but .* has 20261129"):
        merge_results([*_shards(runs, 0, 2), other])
    simulate(load_config([*SMALL, "shard=1/3", "scenario.adapters=2"])).save(other)
    with pytest.raises(MergeError, match=r"config scenario\.adapters = 2 but"):
        merge_results([*_shards(runs, 0, 2), other])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MergeError, match=r"empty: no ledger\.parquet"):
        merge_results([*_shards(runs, 0, 1), empty])


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("3/3", "0 <= i < n"), ("abc", "i/n"), ("-1/3", "i/n"), ("1/0", "0 <= i < n"), ("2/40", "n <= replications (31)")],
)
def test_a_bad_shard_is_a_one_line_config_error(value: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config([*SMALL, f"shard={value}"])
    message = str(info.value)
    assert message.startswith(f"shard = '{value}': ") and allowed in message and "\n" not in message, message


def test_simulate_honours_the_shard_unless_replications_are_given() -> None:
    cfg = load_config(["replications=10", "horizon_years=1", "shard=2/3", "operating_model=[managed_finetune]"])
    assert simulate(cfg).replications.tolist() == [7, 8, 9]
    explicit = simulate(cfg, replications=[0, 4])
    assert explicit.replications.tolist() == [0, 4] and explicit.shard == ""


def test_a_multirun_directory_stands_for_its_job_folders(runs, tmp_path) -> None:
    sweep = tmp_path / "multirun"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}\n")
    for i in range(N_SHARDS):
        (sweep / str(i)).symlink_to(runs[f"shard{i}"], target_is_directory=True)
    merged = merge_results([sweep])
    assert np.array_equal(merged.costs, Results.from_saved(runs["whole"]).costs)


def test_a_file_from_another_run_in_a_shard_folder_is_named(runs, tmp_path) -> None:
    """Every parquet file's metadata is checked, not only the ledger's."""
    mixed = tmp_path / "mixed"
    simulate(load_config([*SMALL, "shard=1/3", "seed=1"])).save(tmp_path / "seed1")
    shutil.copytree(runs["shard1"], mixed)
    shutil.copy2(tmp_path / "seed1" / "metrics.parquet", mixed / "metrics.parquet")
    with pytest.raises(MergeError, match=r"mixed/metrics\.parquet: seed = 1 but .*mixed/ledger\.parquet has 20261129"):
        merge_results([*_shards(runs, 0, 2), mixed])


def test_a_cli_shard_folder_must_prove_it_finished(runs, tmp_path) -> None:
    """A folder the CLI wrote is trusted only while its done marker's file digests match."""
    changed = tmp_path / "changed"
    shutil.copytree(runs["shard1"], changed)
    with (changed / "summary.csv").open("a") as f:
        f.write(" ")
    with pytest.raises(MergeError, match=r"changed: not a finished lora-tco run \(its files changed after it finished \(summary\.csv\)\)"):
        merge_results([*_shards(runs, 0, 2), changed])
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs["shard1"], unfinished)
    (unfinished / ".lora_tco_done.json").unlink()
    with pytest.raises(MergeError, match=r"unfinished: not a finished lora-tco run \(no completion record"):
        merge_results([*_shards(runs, 0, 2), unfinished])
