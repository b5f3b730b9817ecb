"""Bad configuration input: one line on stderr, exit code 2, no traceback, nothing written.

The command-line cases run the real ``lora-tco`` (``python -m sim``) in subprocesses, all
started together at the first test that needs one (a thread pool, one per CPU): they fail
before anything is simulated, so each takes a few seconds. The unit tests below them check
the pieces in process.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import pkgutil
import subprocess
import sys
import typing
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import hydra_plugins
import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins

from models.errors import ConfigError, ConfigFileError
from models.schema import EventDist, OperatingModelConfig, ScenarioConfig, SeverityMix
from models.validate import MODEL_RANGES, SCENARIO_RANGES, Cap, validate_config
from sim.apps import commandline
from sim.apps.commandline import check_command_line, check_sweep
from sim.run.config import CONFIG_DIR, group_options, load_config, to_plain

SM = "operating_model.self_managed_lora"

# A --config-dir: a scenario with a YAML syntax error, files that set _target_, an experiment
# whose sweeper params hold a bad value.
USER_FILES = {
    "scenario/broken.yaml": "defaults:\n  - default\nadapters: [1,\n",
    "scenario/target.yaml": "defaults:\n  - default\n_target_: os.system\n",
    "scenario/target_in_input.yaml": "defaults:\n  - default\ndrift_rate_per_adapter_year: {_target_: os.system}\n",
    "hydra/launcher/target.yaml": "_target_: os.system\n",
    "experiment/bad_sweep.yaml": "# @package _global_\nhydra:\n  sweeper:\n    params:\n      scenario.adapters: 1,0\n",
}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # {dir} stands for the --config-dir folder
    names: tuple[str, ...]  # what the error line must contain: the field or file, the value, the rule


# Run as the real command (one or two per kind of bad input); MORE_CASES go through
# check_command_line in process, the same checks without a fresh interpreter each.
CASES = {
    # 1. multirun sweeps are checked job by job before Hydra starts
    "sweep-value-of-the-wrong-type": Case(("-m", "scenario.adapters=1,abc"), ("scenario.adapters", "'abc'", "sweep job 1 of 2")),
    "sweep-value-out-of-range": Case(
        ("-m", "scenario.adapters=1,-1,3"), ("scenario.adapters = -1", "[1, 100000]", "sweep job 1 of 3: scenario.adapters=-1")
    ),
    # 2. YAML syntax errors name the file, line and column
    "yaml-syntax-error": Case(("--config-dir", "{dir}", "scenario=broken"), ("scenario/broken.yaml:4:1: YAML syntax error",)),
    # 3. _target_ is refused by name, with the file it comes from
    "target-in-a-config-file": Case(
        ("--config-dir", "{dir}", "scenario=target"), ("scenario._target_ = 'os.system'", "never instantiates", "scenario/target.yaml")
    ),
    # 4. an unknown option lists every option of every config source (checked in full below)
    "unknown-launcher": Case(("hydra/launcher=nope",), ("hydra/launcher = 'nope'", "no such option; available:", "basic", "slurm")),
    # 5. a --config-dir that is not a folder
    "missing-config-dir": Case(("--config-dir", "MISSING"), ("--config-dir = 'MISSING': not a folder",)),
    # 6. a study's grid follows the rule of the field it sweeps
    "study-values-not-whole": Case(
        ("experiment=breakeven_adapters", "study.values=[1.5,2.5]"), ("study.values = 1.5", "integer", "scenario.adapters")
    ),
    # 7. a distribution whose draws can overflow
    "distribution-drawing-inf": Case(
        ('scenario.drift_rate_per_adapter_year="lognormal(1,1000)"',), ("scenario.drift_rate_per_adapter_year", "inf", "at most 1e6")
    ),
    # 8. a value past its unit's cap
    "price-past-its-cap": Case(
        ("scenario.gpu_reserved_usd_per_hour=1e308",), ("scenario.gpu_reserved_usd_per_hour = 1e+308", "at most 1e6 USD per hour")
    ),
}
MORE_CASES = {
    "sweep-value-from-sweeper-params": Case(
        ("-m", "--config-dir", "{dir}", "experiment=bad_sweep"), ("scenario.adapters = 0", "sweep job 1 of 2: scenario.adapters=0")
    ),
    "yaml-syntax-error-in-a-sweep": Case(
        ("-m", "--config-dir", "{dir}", "scenario=broken", "scenario.adapters=1,2"), ("scenario/broken.yaml:4:1: YAML syntax error",)
    ),
    "target-in-an-uncertain-input": Case(
        ("--config-dir", "{dir}", "scenario=target_in_input"),
        ("scenario.drift_rate_per_adapter_year._target_", "never instantiates", "scenario/target_in_input.yaml"),
    ),
    "target-in-a-launcher-file": Case(
        ("-m", "--config-dir", "{dir}", "hydra/launcher=target", "scenario.adapters=1,2"),
        ("hydra.launcher._target_", "never instantiates", "hydra/launcher/target.yaml"),
    ),
    "target-as-an-override": Case(
        ("+scenario._target_=os.system",), ("scenario._target_ = 'os.system'", "never instantiates", "+scenario._target_=os.system")
    ),
    "target-as-a-hydra-override": Case(
        ("-m", "hydra.launcher._target_=os.system"), ("hydra.launcher._target_ = 'os.system'", "never instantiates")
    ),
    "sweep-of-an-interval": Case(("-m", "scenario.adapters=interval(1,3)"), ("scenario.adapters = 'interval(1,3)'", "range(")),
    "sweep-over-a-group": Case(
        ("-m", "scenario=default,monthly_refresh", "scenario.adapters=1,200000"),
        ("scenario.adapters = 200000", "sweep job 1 of 4: scenario=default scenario.adapters=200000"),
    ),
}


@dataclass
class Run:
    cwd: Path
    returncode: int
    stdout: str
    stderr: str


def _run(cwd: Path, args: tuple[str, ...]) -> Run:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "sim", *args, f"hydra.run.dir={cwd / 'run'}", f"hydra.sweep.dir={cwd / 'sweep'}"]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    return Run(cwd, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("user-configs")
    for name, text in USER_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, user_dir: Path):
    """name -> Future[Run], every case started at once."""
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    futures: dict[str, Future] = {}
    for name, case in CASES.items():
        cwd = tmp_path_factory.mktemp(name)
        futures[name] = pool.submit(_run, cwd, tuple(a.replace("{dir}", str(user_dir)) for a in case.args))
    futures["cfg-flag"] = pool.submit(_run, tmp_path_factory.mktemp("cfg-flag"), ("--cfg", "job", "scenario.adapters=7"))
    yield futures
    pool.shutdown(wait=True)


def _one_error_line(run: Run) -> str:
    assert run.returncode == 2, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "Traceback" not in run.stdout and "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"stderr is not one line:\n{run.stderr}"
    assert lines[0].startswith("lora-tco: error: "), lines[0]
    assert not (run.cwd / "run").exists() and not (run.cwd / "sweep").exists(), "the run or sweep folder was created"
    return lines[0]


def _check_case(runs, name: str) -> str:
    line = _one_error_line(runs[name].result())
    missing = [text for text in CASES[name].names if text not in line]
    assert not missing, f"the error line does not name {missing}: {line}"
    return line


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("sweep-")])
def test_a_bad_sweep_job_refuses_the_whole_sweep_before_hydra_starts(runs, name: str) -> None:
    _check_case(runs, name)


def test_a_yaml_syntax_error_names_the_file_line_and_column(runs) -> None:
    _check_case(runs, "yaml-syntax-error")


def test_target_is_refused_by_name_with_its_file(runs) -> None:
    _check_case(runs, "target-in-a-config-file")


def test_an_unknown_launcher_lists_every_launcher_of_every_source(runs) -> None:
    line = _check_case(runs, "unknown-launcher")
    listed = line.split("available: ", 1)[1].split(", ")
    # discovered independently of the code under test: the project's files, and what Hydra
    # and the installed plugins register in the ConfigStore
    own = {p.stem for p in (CONFIG_DIR / "hydra" / "launcher").glob("*.yaml")}
    Plugins.instance()  # imports every hydra_plugins module, which registers its configs
    registered = {name.removesuffix(".yaml") for name in ConfigStore.instance().list("hydra/launcher")}
    plugins = {m.name for m in pkgutil.iter_modules(hydra_plugins.__path__)}
    assert own <= set(listed) and registered <= set(listed), (listed, own, registered)
    assert len(registered) > 1 or not plugins, "plugins are installed but register no launcher"


def test_a_config_dir_that_is_not_a_folder_is_one_line(runs) -> None:
    _check_case(runs, "missing-config-dir")


def test_study_values_follow_the_swept_fields_rule(runs) -> None:
    _check_case(runs, "study-values-not-whole")


def test_a_distribution_whose_draws_can_overflow_is_refused(runs) -> None:
    _check_case(runs, "distribution-drawing-inf")


def test_a_value_past_its_cap_is_refused(runs) -> None:
    _check_case(runs, "price-past-its-cap")


def test_flags_still_hand_the_command_to_hydra(runs) -> None:
    run = runs["cfg-flag"].result()
    assert run.returncode == 0, run.stderr
    assert "adapters: 7" in run.stdout


# --- in process ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MORE_CASES))
def test_more_bad_command_lines_are_one_line_config_errors(user_dir: Path, name: str) -> None:
    case = MORE_CASES[name]
    with pytest.raises(ConfigError) as caught:
        check_command_line([a.replace("{dir}", str(user_dir)) for a in case.args])
    message = str(caught.value)
    assert "\n" not in message
    missing = [text for text in case.names if text not in message]
    assert not missing, f"the error does not name {missing}: {message}"


def test_sweep_jobs_follow_the_basic_sweepers_order() -> None:
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parser = OverridesParser.create()
    items = ["scenario.adapters=1,2,3", "seed=4", "scenario.engineers=range(1,3)", "scenario.adapters=5,6"]
    parsed = parser.parse_overrides(items)
    axes, swept = commandline._sweep_axes(parsed)
    expected = BasicSweeper.split_arguments(parsed, None)[0]
    assert [commandline._job(axes, n) for n in range(math.prod(map(len, axes)))] == expected
    assert swept == [True, False, True]


def test_past_the_limit_each_swept_value_is_checked_once(monkeypatch) -> None:
    sizes = [3, 1, 4]
    monkeypatch.setattr(commandline, "SWEEP_CHECK_LIMIT", 5)
    numbers = commandline._jobs_to_check(sizes)
    combos = list(itertools.product(*(range(s) for s in sizes)))
    picked = [combos[n] for n in numbers]
    for axis, size in enumerate(sizes):
        seen = {c[axis] for c in picked if all(c[o] == 0 for o in range(len(sizes)) if o != axis)}
        assert seen == set(range(size)), (axis, picked)
    assert len(numbers) == sum(sizes) - len(sizes) + 1


def test_a_large_sweep_names_the_job_the_bad_value_would_have_been(monkeypatch) -> None:
    monkeypatch.setattr(commandline, "SWEEP_CHECK_LIMIT", 4)
    with pytest.raises(ConfigError) as caught:
        check_sweep(["scenario.adapters=1,2,100001", "scenario.engineers=1,2,3"])
    assert str(caught.value).startswith("scenario.adapters = 100001: ")
    assert str(caught.value).endswith("(sweep job 6 of 9: scenario.adapters=100001 scenario.engineers=1)")


def test_a_good_sweep_passes_and_counts_its_jobs() -> None:
    assert check_sweep(["experiment=breakeven_adapters"]) == 8
    line = check_command_line(["-m", "scenario.adapters=1,2"])
    assert line.multirun and line.overrides is None and line.args == ["-m", "scenario.adapters=1,2"]


def test_a_yaml_syntax_error_is_a_config_file_error(user_dir: Path) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_config([f"hydra.searchpath=[file://{user_dir}]", "scenario=broken"])
    assert (caught.value.line, caught.value.column) == (4, 1)
    assert str(caught.value).startswith(f"{user_dir / 'scenario' / 'broken.yaml'}:4:1: YAML syntax error: ")


def test_group_options_search_every_source(user_dir: Path) -> None:
    searchpath = [f"hydra.searchpath=[file://{user_dir}]"]
    scenarios = group_options("scenario", CONFIG_DIR, searchpath)
    assert {p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml")} < set(scenarios)
    assert {"broken", "target"} <= set(scenarios)
    assert group_options("no_such_group") == []


def test_a_target_in_a_plain_config_is_refused() -> None:
    plain = to_plain(load_config(["replications=10"]))
    plain["operating_model"]["managed_finetune"]["serving"]["_target_"] = "os.system"
    with pytest.raises(ConfigError, match=r"^operating_model\.managed_finetune\.serving\._target_ = 'os.system': lora-tco never"):
        validate_config(plain)


def _numeric_paths(schema: type, prefix: str = "") -> list[str]:
    """Every numeric field of a schema section (event distributions by their mean), by path."""
    out = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        hint, path = hints[f.name], f"{prefix}{f.name}"
        if hint is EventDist:
            out.append(f"{path}.mean")
        elif dataclasses.is_dataclass(hint) and hint is not SeverityMix:
            out += _numeric_paths(hint, f"{path}.")
        elif hint in (int, float, typing.Any):
            out.append(path)
    return out


@pytest.mark.parametrize(("schema", "ranges"), [(ScenarioConfig, SCENARIO_RANGES), (OperatingModelConfig, MODEL_RANGES)])
def test_every_numeric_field_has_a_finite_upper_bound(schema: type, ranges: dict) -> None:
    paths = _numeric_paths(schema)
    missing = [p for p in paths if p not in ranges]
    assert not missing, f"no range for {missing}"
    unbounded = [p for p in paths if not math.isfinite(ranges[p][1])]
    assert not unbounded, f"no finite upper bound for {unbounded}"
    assert all(isinstance(ranges[p][1], Cap) or ranges[p][1] <= 100_000 for p in paths)


@pytest.mark.parametrize("scenario", sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml")))
def test_every_scenario_preset_validates_with_every_operating_model(scenario: str) -> None:
    models = ",".join(sorted(p.stem for p in (CONFIG_DIR / "operating_model").glob("*.yaml")))
    load_config([f"scenario={scenario}", f"operating_model=[{models}]", "inputs.sampling=lhs", "replications=100000000"])


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        # a lognormal whose smallest draws underflow to 0 on a field that must be > 0
        ((f'{SM}.serving.tokens_per_gpu_hour_m="lognormal(1,100)"',), f"{SM}.serving.tokens_per_gpu_hour_m", "> 0"),
        # a natural bound is checked over the whole support
        (('scenario.regulated_share="uniform(0.5,1.5)"',), "scenario.regulated_share", "[0, 1]"),
        # an event's mean past its cap
        ((f"{SM}.oncall.mttr_hours.mean=1e9",), f"{SM}.oncall.mttr_hours.mean", "at most 1e6 hours"),
        # traffic compounding over a long horizon
        (("horizon_years=1000",), "scenario.token_growth_per_year", "horizon_years = 1000"),
        # more serving replicas than an integer can count
        ((f"{SM}.serving.tokens_per_gpu_hour_m=1e-15",), f"{SM}.serving.tokens_per_gpu_hour_m", "serving replicas"),
        # a study's grid on a whole-number operating-model field, and past a natural bound
        (
            ("study.kind=break_even", "study.parameter=operating_model.*.gpu_pool.reserved", "study.values=[0,0.5]"),
            "study.values",
            "operating_model.*.gpu_pool.reserved",
        ),
        (("study.kind=break_even", "study.parameter=scenario.regulated_share", "study.values=[0.5,1.5]"), "study.values", "[0, 1]"),
    ],
)
def test_values_that_could_overflow_or_leave_their_range_are_refused(overrides, field: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(list(overrides))
    message = str(caught.value)
    assert message.startswith(f"{field} = ") and says in message and "\n" not in message, message


def test_long_horizons_with_default_growth_still_validate() -> None:
    load_config(["horizon_years=30"])


def test_context_keeps_the_error_type_field_and_value() -> None:
    error = ConfigFileError("f.yaml", 3, 5, "YAML syntax error: bad")
    other = error.in_context("sweep job 1 of 2")
    assert type(other) is ConfigFileError and str(other) == "f.yaml:3:5: YAML syntax error: bad (sweep job 1 of 2)"
    plain = ConfigError("scenario.adapters", -1, "must be >= 1").in_context("sweep job 0 of 1")
    assert (plain.field, plain.value, str(plain)) == ("scenario.adapters", -1, "scenario.adapters = -1: must be >= 1 (sweep job 0 of 1)")
