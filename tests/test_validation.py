"""Bad input is rejected by ``sim.load_config`` with a one-line ConfigError; every shipped config composes and validates.

Each bad-input case is a list of Hydra overrides, the field the error must name
(full dotted path; a sub-key of it such as ``<field>.sigma`` also counts), and
fragments saying what is allowed that the message must contain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from models.distributions import parse_uncertain
from models.errors import ConfigError
from sim import load_config
from sim.run.config import to_plain

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
OPERATING_MODELS = sorted(p.stem for p in (CONFIG_DIR / "operating_model").glob("*.yaml"))
SCENARIOS = sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))
SCENARIO_PRESETS = [s for s in SCENARIOS if s != "default"]
EXPERIMENTS = sorted((CONFIG_DIR / "experiment").glob("*.yaml"))
EXPECTED_MODELS = ("self_managed_lora", "managed_finetune", "managed_adapter_serving", "spot_training_managed_serving")

SM = "operating_model.self_managed_lora"
ON_DEMAND, RESERVED, SPOT = (f"scenario.gpu_{tier}_usd_per_hour" for tier in ("on_demand", "reserved", "spot"))


@dataclass(frozen=True)
class Bad:
    overrides: tuple[str, ...]
    field: str  # full dotted path the message must name
    allowed: tuple[str, ...]  # fragments saying what is allowed that the message must contain (case-insensitive)


BAD_INPUTS = {
    # negative rate / prices
    "negative-rate": Bad(("scenario.drift_rate_per_adapter_year=-1",), "scenario.drift_rate_per_adapter_year", (">= 0",)),
    "negative-gpu-price": Bad(("scenario.gpu_on_demand_usd_per_hour=-2",), "scenario.gpu_on_demand_usd_per_hour", (">= 0",)),
    "negative-vendor-training-fee": Bad(
        ("operating_model=[managed_finetune]", "operating_model.managed_finetune.training.vendor_usd_per_1m_tokens=-1"),
        "operating_model.managed_finetune.training.vendor_usd_per_1m_tokens",
        (">= 0",),
    ),
    "negative-vendor-platform-fee": Bad(
        ("operating_model.managed_adapter_serving.platform.vendor_platform_usd_per_year=-5",),
        "operating_model.managed_adapter_serving.platform.vendor_platform_usd_per_year",
        (">= 0",),
    ),
    # probabilities outside [0, 1]
    "regulated-share-above-1": Bad(("scenario.regulated_share=1.5",), "scenario.regulated_share", ("[0, 1]",)),
    "training-failure-prob-above-1": Bad((f"{SM}.training.failure_prob=1.2",), f"{SM}.training.failure_prob", ("[0,",)),
    "response-probability-negative": Bad(
        (f"{SM}.base_model.response_probability=-0.1",), f"{SM}.base_model.response_probability", ("[0, 1]",)
    ),
    # a pool that work needs is empty
    "zero-reviewers-with-regulated-adapters": Bad(
        ("scenario.reviewers=0", "scenario.regulated_share=0.2"), "scenario.reviewers", (">= 1", "regulated")
    ),
    "zero-engineers": Bad(("scenario.engineers=0",), "scenario.engineers", (">= 1",)),
    "self-managed-without-gpus": Bad(
        ("operating_model=[self_managed_lora]", f"{SM}.gpu_pool.reserved=0", f"{SM}.gpu_pool.burst_max=0"),
        f"{SM}.gpu_pool",
        ("burst_max", ">= 1"),
    ),
    # unknown keys
    "unknown-scenario-key": Bad(("+scenario.foo=1",), "scenario.foo", ("unknown key", "adapters")),
    "unknown-nested-model-key": Bad((f"+{SM}.training.bogus=2",), f"{SM}.training.bogus", ("unknown key", "failure_prob")),
    # malformed uncertain inputs (distributions)
    "pert-min-above-mode": Bad(
        ("scenario.drift_rate_per_adapter_year={dist:pert,min:3,mode:1,max:4}",),
        "scenario.drift_rate_per_adapter_year",
        ("min <= mode <= max",),
    ),
    "pert-min-above-mode-compact": Bad(
        ('scenario.drift_rate_per_adapter_year="pert(3,1,4)"',), "scenario.drift_rate_per_adapter_year", ("min <= mode <= max",)
    ),
    "lognormal-negative-sigma": Bad(
        ("scenario.storage_usd_per_gb_month={dist:lognormal,median:0.02,sigma:-1}",),
        "scenario.storage_usd_per_gb_month",
        ("sigma", ">= 0"),
    ),
    "lognormal-negative-sigma-compact": Bad(
        ('scenario.drift_rate_per_adapter_year="lognormal(2,-1)"',), "scenario.drift_rate_per_adapter_year", ("sigma", ">= 0")
    ),
    "unknown-dist-kind": Bad(
        ("scenario.storage_usd_per_gb_month={dist:weibull,shape:1}",), "scenario.storage_usd_per_gb_month", ("pert", "lognormal")
    ),
    "unknown-dist-kind-compact": Bad(
        ('scenario.drift_rate_per_adapter_year="weibull(1,2)"',), "scenario.drift_rate_per_adapter_year", ("pert", "lognormal")
    ),
    "dist-missing-key": Bad(
        ("scenario.storage_usd_per_gb_month={dist:pert,min:0.01,max:0.03}",), "scenario.storage_usd_per_gb_month", ("mode",)
    ),
    # Same mistake on a field whose configured value is already a PERT mapping: the
    # override must not borrow the missing 'mode' from the configured default.
    "dist-missing-key-over-configured-pert": Bad(
        ("scenario.drift_rate_per_adapter_year={dist:pert,min:1,max:4}",), "scenario.drift_rate_per_adapter_year", ("mode",)
    ),
    "dist-unknown-key": Bad(
        ("scenario.storage_usd_per_gb_month={dist:pert,min:0.01,mode:0.02,max:0.03,bogus:1}",),
        "scenario.storage_usd_per_gb_month",
        ("min", "mode", "max"),
    ),
    "probability-as-lognormal": Bad(
        ("scenario.regulated_share={dist:lognormal,median:0.2,sigma:0.5}",), "scenario.regulated_share", ("[0, 1]",)
    ),
    "probability-as-lognormal-compact": Bad(
        (f'{SM}.base_model.response_probability="lognormal(0.3,0.5)"',), f"{SM}.base_model.response_probability", ("[0, 1]",)
    ),
    # per-event distributions (family, mean, cv)
    "event-unknown-family": Bad(
        ("scenario.drift_quality_drop.family=gamma",),
        "scenario.drift_quality_drop.family",
        ("fixed", "exponential", "lognormal", "uniform"),
    ),
    "model-event-unknown-family": Bad(
        (f"{SM}.oncall.mttr_hours.family=weibull",), f"{SM}.oncall.mttr_hours.family", ("fixed", "exponential", "lognormal", "uniform")
    ),
    "event-negative-cv": Bad(("scenario.drift_quality_drop.cv=-1",), "scenario.drift_quality_drop.cv", ("[0,",)),
    "event-uniform-cv-too-large": Bad(
        ("scenario.drift_quality_drop={family:uniform,mean:1,cv:0.9}",), "scenario.drift_quality_drop.cv", ("[0, 0.577", "uniform")
    ),
    "event-negative-mean": Bad(("scenario.drift_quality_drop.mean=-1",), "scenario.drift_quality_drop.mean", (">= 0",)),
    # run sizes and integer fields
    "horizon-zero": Bad(("horizon_years=0",), "horizon_years", ("integer", "[1,")),
    "replications-zero": Bad(("replications=0",), "replications", ("integer", "[1,")),
    "replications-negative": Bad(("replications=-5",), "replications", ("integer", "[1,")),
    "adapters-not-a-number": Bad(("scenario.adapters=abc",), "scenario.adapters", ("integer",)),
    # unknown options of config groups: what is allowed = the options that exist
    "unknown-operating-model-option": Bad(("operating_model=[nope]",), "operating_model", tuple(OPERATING_MODELS)),
    "unknown-scenario-option": Bad(("scenario=nope",), "scenario", tuple(SCENARIOS)),
    # incident severities
    "severity-probabilities-not-summing-to-1": Bad(
        ("scenario.incident_severity.probabilities=[0.2,0.3,0.6]",), "scenario.incident_severity.probabilities", ("sum to 1",)
    ),
    # input sampling and rank correlations
    "unknown-sampling-method": Bad(("inputs.sampling=sobol",), "inputs.sampling", ("independent", "lhs")),
    "correlation-of-a-fixed-input": Bad(
        (f"inputs.rank_correlations=[{{between:[scenario.storage_usd_per_gb_month,{ON_DEMAND}],rho:0.5}}]",),
        "inputs.rank_correlations[0].between",
        ("not an uncertain input", ON_DEMAND, RESERVED),
    ),
    "correlation-of-an-unknown-key": Bad(
        (f"inputs.rank_correlations=[{{between:[{ON_DEMAND},scenario.gpu_price],rho:0.5}}]",),
        "inputs.rank_correlations[0].between",
        ("not an uncertain input", ON_DEMAND),
    ),
    "correlation-key-with-model-name": Bad(
        (f"inputs.rank_correlations=[{{between:[{SM}.platform.base_fte,{ON_DEMAND}],rho:0.5}}]",),
        "inputs.rank_correlations[0].between",
        ("without the model name", "operating_model.platform.base_fte"),
    ),
    "correlation-of-one-input": Bad(
        (f"inputs.rank_correlations=[{{between:[{ON_DEMAND}],rho:0.5}}]",), "inputs.rank_correlations[0].between", ("exactly two",)
    ),
    "correlation-of-an-input-with-itself": Bad(
        (f"inputs.rank_correlations=[{{between:[{ON_DEMAND},{ON_DEMAND}],rho:0.5}}]",),
        "inputs.rank_correlations[0].between",
        ("two different",),
    ),
    "correlation-rho-above-1": Bad(
        (f"inputs.rank_correlations=[{{between:[{ON_DEMAND},{RESERVED}],rho:1.5}}]",), "inputs.rank_correlations[0].rho", ("[-1, 1]",)
    ),
    "correlation-rho-below-minus-1": Bad(
        (f"inputs.rank_correlations=[{{between:[{ON_DEMAND},{RESERVED}],rho:-2}}]",), "inputs.rank_correlations[0].rho", ("[-1, 1]",)
    ),
    "correlation-pair-twice": Bad(
        (f"inputs.rank_correlations=[{{between:[{ON_DEMAND},{RESERVED}],rho:0.5}},{{between:[{RESERVED},{ON_DEMAND}],rho:0.4}}]",),
        "inputs.rank_correlations[1].between",
        ("already correlated by inputs.rank_correlations[0]",),
    ),
    "correlations-not-positive-definite": Bad(
        (
            f"inputs.rank_correlations=[{{between:[{ON_DEMAND},{RESERVED}],rho:0.9}},{{between:[{RESERVED},{SPOT}],rho:0.9}},"
            f"{{between:[{ON_DEMAND},{SPOT}],rho:-0.9}}]",
        ),
        "inputs.rank_correlations",
        ("positive definite", ON_DEMAND, RESERVED, SPOT),
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_raises_one_line_config_error(case: Bad) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(list(case.overrides))
    message = str(info.value)
    assert message.strip(), "empty error message"
    assert "\n" not in message and "\r" not in message, f"message is not one line: {message!r}"
    # `field = value: allowed` - the part before " = " is the field (or a sub-key of it)
    named = message.split(" = ", 1)[0]
    assert named == case.field or named.startswith(case.field + "."), f"message does not name {case.field}: {message!r}"
    missing = [a for a in case.allowed if a.lower() not in message.lower()]
    assert not missing, f"message does not say what is allowed (missing {missing}): {message!r}"


def test_default_config_loads_and_validates() -> None:
    cfg = load_config()
    assert len(cfg.operating_model) >= 1
    assert cfg.replications >= 1 and cfg.horizon_years >= 1


def test_expected_operating_model_files_exist() -> None:
    assert set(EXPECTED_MODELS) <= set(OPERATING_MODELS)


@pytest.mark.parametrize("name", OPERATING_MODELS)
def test_operating_model_composes_alone(name: str) -> None:
    cfg = load_config([f"operating_model=[{name}]"])
    assert list(cfg.operating_model) == [name]
    assert cfg.operating_model[name].label, f"{name} has no label"


def test_all_operating_models_compose_together() -> None:
    cfg = load_config([f"operating_model=[{','.join(OPERATING_MODELS)}]"])
    assert sorted(cfg.operating_model) == OPERATING_MODELS
    labels = [m.label for m in cfg.operating_model.values()]
    assert len(set(labels)) == len(labels), f"labels are not distinct: {labels}"


def test_every_experiment_config_composes() -> None:
    assert EXPERIMENTS, "configs/experiment/ has no presets"
    default = load_config([])
    for path in EXPERIMENTS:
        first_line = path.read_text().splitlines()[0]
        assert first_line == "# @package _global_", f"{path.name} must start with '# @package _global_'"
        cfg = load_config([f"experiment={path.stem}"])
        assert len(cfg.operating_model) >= 1, path.name
        assert cfg != default, f"{path.name} changes nothing"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("operating_model.self_managed_lora.platform.max_fte=0.1", "operating_model.self_managed_lora.platform.max_fte"),
        ("scenario.engineers=0", "scenario.engineers"),
    ],
)
def test_cross_field_checks(override, field):
    with pytest.raises(ConfigError) as info:
        load_config([override])
    assert str(info.value).startswith(f"{field} = ") and "\n" not in str(info.value)


# What each scenario preset is meant to change relative to `default`, and in which
# direction (compared on the mean of the field's distribution). Every field a preset
# changes must be listed, so a new preset or a new override has to declare its intent.
PRESET_DIRECTIONS: dict[str, dict[str, str]] = {
    "small_team_stable_data": {
        "adapters": "<",
        "engineers": "<",
        "regulated_share": "<",
        "drift_rate_per_adapter_year": "<",
        "tokens_per_adapter_month_m": "<",
        "downtime_usd_per_adapter_hour": "<",
    },
    "regulated_many_adapters": {"adapters": ">", "regulated_share": ">"},
    "monthly_refresh": {"refresh_interval_days": "<"},
    "many_adapters_multitenant": {"adapters": ">"},
    "high_traffic": {"tokens_per_adapter_month_m": ">", "downtime_usd_per_adapter_hour": ">"},
    "existing_gpu_platform": {
        "existing_platform_fte": ">",
        "existing_staff_cost_share": "<",
        "existing_reserved_gpus": ">",
        "existing_monitoring_share": ">",
    },
}


def _scenario(name: str) -> dict:
    return to_plain(load_config([f"scenario={name}"]))["scenario"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_composes_and_names_itself(name: str) -> None:
    cfg = load_config([f"scenario={name}"])
    assert cfg.scenario.name == name, f"{name}.yaml sets name = {cfg.scenario.name!r}"


@pytest.mark.parametrize("name", SCENARIO_PRESETS)
def test_scenario_preset_extends_default(name: str) -> None:
    path = CONFIG_DIR / "scenario" / f"{name}.yaml"
    assert path.read_text().startswith("#"), f"{path.name} needs a header comment saying what it encodes"
    # Extending `default` (instead of copying it) keeps the presets in step with it.
    assert list(OmegaConf.load(path).get("defaults", [])) == ["default", "_self_"], path.name


def test_every_scenario_preset_declares_its_direction() -> None:
    assert sorted(PRESET_DIRECTIONS) == SCENARIO_PRESETS


@pytest.mark.parametrize("name", sorted(PRESET_DIRECTIONS))
def test_scenario_preset_differs_from_default_in_the_intended_direction(name: str) -> None:
    default, preset = _scenario("default"), _scenario(name)
    changed = {k for k in default if k != "name" and default[k] != preset[k]}
    assert changed == set(PRESET_DIRECTIONS[name]), f"{name} changes {sorted(changed)}"
    for key, op in PRESET_DIRECTIONS[name].items():
        before = parse_uncertain(f"scenario.{key}", default[key]).mean
        after = parse_uncertain(f"scenario.{key}", preset[key]).mean
        assert (after < before) if op == "<" else (after > before), f"{name}: {key} mean {before:g} -> {after:g}, expected {op}"


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ("scenario.adapterz=12345", "did you mean scenario.adapters?"),
        ("+scenario.adapterz=12345", "did you mean scenario.adapters?"),
        ("operating_model.self_managed_lora.serving.gpu_clas=l4", "did you mean operating_model.self_managed_lora.serving.gpu_class?"),
    ],
)
def test_an_unknown_key_names_its_value_the_closest_key_and_every_allowed_key(override, suggestion):
    with pytest.raises(ConfigError) as info:
        load_config([override])
    message = str(info.value)
    key, value = override.lstrip("+").split("=")
    assert message.startswith(f"{key} = ") and value in message and "\n" not in message
    assert suggestion in message and "allowed keys of" in message


def test_an_unknown_key_far_from_every_key_lists_them_without_a_guess():
    with pytest.raises(ConfigError) as info:
        load_config(["+scenario.zzzzqqq=1"])
    assert "did you mean" not in str(info.value) and "allowed keys of scenario: name, adapters" in str(info.value)
