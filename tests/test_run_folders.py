"""A run folder belongs to one run: the real ``lora-tco``, ``lora-tco-report`` and
``lora-tco-merge`` commands, run as subprocesses, on folders that two runs, a re-run
sweep, a copied-in file or an edit would otherwise mix up.

Every independent scenario is started at once at the first test that needs one (a
thread pool of subprocess chains), so the module stays within about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from sim.apps import jobs

SMALL = ("horizon_years=1", "output.charts=false", "output.print_summary=false")
REPS = "replications=40"
ENV = {**os.environ, "MPLBACKEND": "Agg"}
TIMEOUT = 300


def _command(module: str, *args: str | Path) -> list[str]:
    return [sys.executable, "-m", module, *map(str, args)]


def _run(module: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(_command(module, *args), capture_output=True, text=True, timeout=TIMEOUT, env=ENV, check=False)


def _start(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen(_command("sim", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate()
            raise AssertionError(f"never saw {what} (exit {proc.returncode})\n{out}\n{err}")
        time.sleep(0.02)


def _one_error_line(proc: subprocess.CompletedProcess, program: str, code: int = 2) -> str:
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{program}: error: "), lines[0]
    return lines[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _seeds(folder: Path) -> dict[str, Any]:
    """The seed each record of a run folder names."""
    return {
        ".hydra/config.yaml": OmegaConf.load(folder / ".hydra" / "config.yaml").seed,
        "ledger.parquet": int(pq.read_schema(folder / "ledger.parquet").metadata[b"lora_tco.seed"]),
        "metrics.parquet": int(pq.read_schema(folder / "metrics.parquet").metadata[b"lora_tco.seed"]),
        "done marker": json.loads((folder / jobs.DONE).read_text())["seed"],
    }


# -- the scenarios, each a chain of commands -----------------------------------------


def _two_runs_into_one_folder(root: Path) -> dict[str, Any]:
    """Run 1 holds the folder (stopped with SIGSTOP once its lock holds its pid, so it is
    surely still running), run 2 with another seed tries the same folder."""
    folder = root / "run"
    first = _start(REPS, *SMALL, "seed=1", f"hydra.run.dir={folder}")
    lock = folder / jobs.LOCK
    _wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(first.pid), first, "run 1's lock")
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = _run("sim", REPS, *SMALL, "seed=2", f"hydra.run.dir={folder}")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    return {"folder": folder, "pid": first.pid, "first": _finish(first), "second": second}


def _finished_run_then_other_config(root: Path) -> dict[str, Any]:
    folder = root / "run"
    args = (REPS, *SMALL, f"hydra.run.dir={folder}")
    first = _run("sim", *args)
    ledger = (folder / "ledger.parquet").read_bytes()
    again = _run("sim", *args)  # the same config may re-run
    before = _files(folder)
    other = _run("sim", *args, "seed=2")
    return {"folder": folder, "first": first, "ledger": ledger, "again": again, "before": before, "other": other, "after": _files(folder)}


def _sweep(folder: Path, seed: int, *extra: str) -> list[str]:
    return ["-m", *SMALL, "scenario.adapters=5,10", f"seed={seed}", f"hydra.sweep.dir={folder}", *extra]


def _rerun_sweep(root: Path, copies: Callable[[Path], None]) -> dict[str, Any]:
    """A two-job sweep run to the end with seed 1 (``copies`` gets a copy of it), re-run
    with seed 2 and interrupted during job 0, reported, then re-run with seed 2 to the end
    and reported again."""
    sweep = root / "sweep"
    done = _run("sim", *_sweep(sweep, 1, REPS))
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.copytree(sweep, root / "finished")
    copies(root / "finished")
    marker = sweep / "0" / jobs.DONE
    proc = _start(*_sweep(sweep, 2, "engine=simpy", "replications=20"))  # job 0 lasts a few seconds
    _wait_for(lambda: not marker.exists(), proc, "job 0's old done marker removed")
    proc.send_signal(signal.SIGINT)
    interrupted = _finish(proc)
    job0_seed = OmegaConf.load(sweep / "0" / ".hydra" / "config.yaml").seed
    middle = _run("sim.apps.report", sweep, "--no-charts")
    middle_jobs = pd.read_csv(sweep / "report" / "jobs.csv")
    final = _run("sim", *_sweep(sweep, 2, REPS))
    end = _run("sim.apps.report", sweep, "--no-charts")
    return {
        "sweep": sweep,
        "interrupted": interrupted,
        "job0_seed": job0_seed,
        "middle": middle,
        "middle_jobs": middle_jobs,
        "final": final,
        "end": end,
    }


def _report_on_copy(finished: Path, root: Path, change: str) -> dict[str, Any]:
    sweep = root / "sweep"
    shutil.copytree(finished, sweep)
    args: list[str | Path] = [sweep, "--no-charts"]
    if change == "corrupt-multirun-yaml":
        (sweep / "multirun.yaml").write_text("hydra:\n  sweep: [unclosed\n  dir: x\n")
    elif change == "output-is-a-file":
        target = root / "a-file"
        target.write_text("not a folder\n")
        args += ["--output", target]
    elif change == "files-changed":
        with (sweep / "0" / "summary.csv").open("ab") as f:
            f.write(b"\n")
        shutil.copy2(sweep / "0" / "ledger.parquet", sweep / "1" / "ledger.parquet")
    return {"sweep": sweep, "report": _run("sim.apps.report", *args)}


def _merge_checks(root: Path) -> dict[str, Any]:
    """Shard 0/2 of two runs that differ only in the seed (one sweep: job 0 seed 1, job 1 seed 2)."""
    shards = root / "shards"
    done = _run("sim", "-m", REPS, *SMALL, "shard=0/2", "seed=1,2", f"hydra.sweep.dir={shards}")
    assert done.returncode == 0, done.stderr[-3000:]
    mixed, changed = root / "mixed", root / "changed"
    shutil.copytree(shards / "0", mixed)
    shutil.copy2(shards / "1" / "metrics.parquet", mixed / "metrics.parquet")
    shutil.copytree(shards / "0", changed)
    with (changed / "summary.csv").open("ab") as f:
        f.write(b" ")
    a_file = root / "a-file"
    a_file.write_text("not a folder\n")
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = {
            "mixed": pool.submit(_run, "sim.apps.merge", mixed, "--output", root / "out-mixed"),
            "changed": pool.submit(_run, "sim.apps.merge", changed, "--output", root / "out-changed"),
            "output-file": pool.submit(_run, "sim.apps.merge", shards / "0", "--output", a_file),
        }
        results = {name: f.result() for name, f in runs.items()}
    return {"root": root, **results}


REPORT_CHANGES = ("corrupt-multirun-yaml", "output-is-a-file", "files-changed")


def _settle(target: Future, work: Callable[[], Any]) -> None:
    try:
        target.set_result(work())
    except BaseException as exc:
        target.set_exception(exc)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory):
    """name -> Future of the scenario's results; all started together, the longest chain
    first. Few workers: the machine's cores, not the pool, bound how many commands run well at once."""
    pool = ThreadPoolExecutor(max_workers=max(3, os.cpu_count() or 1))
    futures: dict[str, Future] = {change: Future() for change in REPORT_CHANGES}
    roots = {change: tmp_path_factory.mktemp(change) for change in REPORT_CHANGES}

    def copies(finished: Path) -> None:  # the report checks start once the first sweep has finished
        for change in REPORT_CHANGES:
            pool.submit(_settle, futures[change], lambda c=change: _report_on_copy(finished, roots[c], c))

    def rerun() -> dict[str, Any]:
        try:
            return _rerun_sweep(tmp_path_factory.mktemp("rerun"), copies)
        except BaseException as exc:
            for change in REPORT_CHANGES:
                if not futures[change].done():
                    futures[change].set_exception(exc)
            raise

    futures["rerun"] = pool.submit(rerun)
    futures["two-runs"] = pool.submit(_two_runs_into_one_folder, tmp_path_factory.mktemp("two-runs"))
    futures["other-config"] = pool.submit(_finished_run_then_other_config, tmp_path_factory.mktemp("other-config"))
    futures["merge"] = pool.submit(_merge_checks, tmp_path_factory.mktemp("merge"))
    yield futures
    pool.shutdown(wait=True)


# -- the tests ------------------------------------------------------------------------


def test_a_second_run_into_a_held_run_folder_is_refused_and_the_first_is_intact(scenarios) -> None:
    found = scenarios["two-runs"].result()
    folder, first = found["folder"], found["first"]
    line = _one_error_line(found["second"], "lora-tco")
    assert line == (
        f"lora-tco: error: hydra.run.dir = {folder}: another lora-tco run (pid {found['pid']}) is using this folder; "
        "choose another folder or wait for it"
    )
    assert first.returncode == 0, first.stderr
    assert set(_seeds(folder).values()) == {1}, _seeds(folder)
    assert jobs.verify(folder) == ("done", "")


def test_a_single_run_into_a_finished_run_with_another_config_is_refused(scenarios) -> None:
    found = scenarios["other-config"].result()
    folder = found["folder"]
    assert found["first"].returncode == 0, found["first"].stderr
    assert found["again"].returncode == 0, found["again"].stderr  # the same config re-runs...
    assert (folder / "ledger.parquet").read_bytes() == found["ledger"]  # ...with the same numbers
    line = _one_error_line(found["other"], "lora-tco")
    seed = OmegaConf.load(folder / ".hydra" / "config.yaml").seed
    assert line == (
        f"lora-tco: error: hydra.run.dir = {folder}: holds a finished run with another config (seed {seed}); "
        "choose a new folder or delete it"
    )
    assert found["after"] == found["before"], "the refused run changed the folder"
    assert jobs.verify(folder) == ("done", "")


def test_a_rerun_sweep_interrupted_in_job_0_is_not_reported_as_the_new_sweep(scenarios) -> None:
    found = scenarios["rerun"].result()
    assert found["interrupted"].returncode != 0
    assert found["job0_seed"] == 2  # Hydra had rewritten job 0's .hydra/ before the interruption
    middle = found["middle"]
    assert middle.returncode == 1, middle.stderr
    assert "Traceback" not in middle.stderr
    assert "0 of 2 jobs finished" in middle.stdout, middle.stdout
    assert "job 0 (scenario.adapters=5) [incomplete]: no completion record" in middle.stderr, middle.stderr
    assert (
        "job 1 (scenario.adapters=10) [incomplete]: results are from another run (seed 1 in this job, seed 2 in multirun.yaml)"
    ) in middle.stderr, middle.stderr
    assert set(found["middle_jobs"]["state"]) == {"incomplete"}


def test_the_rerun_sweep_finished_is_reported_with_its_own_seed(scenarios) -> None:
    found = scenarios["rerun"].result()
    assert found["final"].returncode == 0, found["final"].stderr[-3000:]
    end = found["end"]
    assert end.returncode == 0, end.stderr
    assert "2 of 2 jobs finished" in end.stdout
    sweep = pd.read_parquet(found["sweep"] / "report" / "sweep.parquet")
    assert set(sweep["seed"]) == {2}
    assert set(sweep["scenario.adapters"]) == {5.0, 10.0}
    for job in ("0", "1"):
        assert set(_seeds(found["sweep"] / job).values()) == {2}


def test_the_report_does_not_trust_a_job_whose_files_changed(scenarios) -> None:
    """Job 0's summary.csv got a byte more; job 1's ledger.parquet was replaced by job 0's."""
    found = scenarios["files-changed"].result()
    result = found["report"]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "job 0 (scenario.adapters=5) [incomplete]: its files changed after it finished (summary.csv)" in result.stderr
    assert "job 1 (scenario.adapters=10) [incomplete]: its files changed after it finished (ledger.parquet)" in result.stderr
    assert "0 of 2 jobs finished" in result.stdout
    assert not (found["sweep"] / "report" / "sweep.parquet").exists()  # nothing trusted, no dataset


def test_the_report_of_a_corrupt_multirun_yaml_is_one_line(scenarios) -> None:
    found = scenarios["corrupt-multirun-yaml"].result()
    line = _one_error_line(found["report"], "lora-tco-report")
    assert f"{found['sweep'] / 'multirun.yaml'}: not valid YAML" in line, line


def test_the_report_into_an_output_that_is_a_file_is_one_line(scenarios) -> None:
    found = scenarios["output-is-a-file"].result()
    line = _one_error_line(found["report"], "lora-tco-report")
    assert "a-file: exists and is not a folder" in line, line


def test_merge_refuses_a_shard_whose_metrics_come_from_another_seed(scenarios) -> None:
    found = scenarios["merge"].result()
    line = _one_error_line(found["mixed"], "lora-tco-merge")
    folder = found["root"] / "mixed"
    assert line == (
        f"lora-tco-merge: error: {folder / 'metrics.parquet'}: seed = 2 but {folder / 'ledger.parquet'} has 1: "
        "the files of one run folder must come from one run"
    ), line
    assert not (found["root"] / "out-mixed").exists()


def test_merge_does_not_trust_a_shard_whose_files_changed(scenarios) -> None:
    found = scenarios["merge"].result()
    line = _one_error_line(found["changed"], "lora-tco-merge")
    folder = found["root"] / "changed"
    assert line == f"lora-tco-merge: error: {folder}: not a finished lora-tco run (its files changed after it finished (summary.csv))"


def test_merge_into_an_output_that_is_a_file_is_one_line(scenarios) -> None:
    found = scenarios["merge"].result()
    line = _one_error_line(found["output-file"], "lora-tco-merge")
    assert "a-file: exists and is not a folder" in line, line


# --- in process: the folder is read from the one parse of the command line ------------


@pytest.mark.parametrize("flag", [("--config-dir", "{dir}"), ("-cd", "{dir}"), ("--config-dir={dir}",), ("-cd={dir}",)])
def test_every_spelling_of_config_dir_names_the_same_run_folder(tmp_path: Path, flag: tuple[str, ...]) -> None:
    from sim.apps.commandline import check_command_line

    user = tmp_path / "configs"
    user.mkdir()
    given = [a.replace("{dir}", str(user)) for a in flag]
    command = check_command_line([*given, f"hydra.run.dir={tmp_path / 'out'}", REPS])
    assert command.arguments.overrides is not None
    assert command.arguments.overrides[0] == f"hydra.searchpath=[file://{user.resolve()}]"
    assert command.overrides == [command.arguments.overrides[0], REPS]  # Hydra's own nodes are not validated
    target = jobs.run_folder(command)
    assert target is not None and (target.key, target.path) == ("hydra.run.dir", tmp_path / "out")


def test_a_flag_lora_tco_does_not_read_leaves_the_folder_to_hydra(tmp_path: Path) -> None:
    from sim.apps.commandline import check_command_line

    command = check_command_line(["--cfg", "job", f"hydra.run.dir={tmp_path / 'out'}"])
    assert command.arguments.overrides is None and command.plain is None
    assert jobs.run_folder(command) is None
    sweep = check_command_line(["-m", "scenario.adapters=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    target = jobs.run_folder(sweep)
    assert sweep.multirun and target is not None and (target.key, target.path) == ("hydra.sweep.dir", tmp_path / "sweep")
