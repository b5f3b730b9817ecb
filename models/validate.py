"""Validation of a composed configuration.

Every problem raises :class:`~models.errors.ConfigError` whose message is one
line naming the field, the value and what is allowed. Validation runs on a plain
dict (``OmegaConf.to_container(cfg, resolve=True)``) so it does not depend on how
the config was composed.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.compile import input_keys
from models.distributions import InputDistribution, Lognormal, parse_uncertain
from models.errors import ConfigError
from models.inputs import SAMPLING, key_hint, rank_correlation_groups, score_correlation
from models.schema import CHEAPEST_GPU_CLASS, GPU_CLASSES, Config, EventDist, OperatingModelConfig, ScenarioConfig, SeverityMix
from sim.rng import FAMILY_CODES

INF = math.inf
MAX_PROB = 0.95  # failure-type probabilities: a refresh must be able to succeed

CHOICES = {
    "scenario.arrivals": ("poisson", "deterministic"),
    "training.owner": ("team", "vendor"),
    "serving.owner": ("team", "vendor"),
    "serving.mode": ("dedicated", "shared"),
    "gpu_pool.burst_tier": ("on_demand", "spot"),
    "serving.gpu_class": (*GPU_CLASSES, CHEAPEST_GPU_CLASS),
    "engine.name": ("numba", "simpy"),
}

# Allowed closed ranges [low, high] of every numeric field, by path. Operating
# model paths are relative to the model (``training.failure_prob``).
SCENARIO_RANGES = {
    "adapters": (1, 100_000),
    "regulated_share": (0, 1),
    "refresh_interval_days": (0, INF),
    "drift_rate_per_adapter_year": (0, INF),
    "staleness_usd_per_point_day": (0, INF),
    "downtime_usd_per_adapter_hour": (0, INF),
    "base_model_releases_per_year": (0, INF),
    "tokens_per_adapter_month_m": (0, INF),
    "token_growth_per_year": (-0.99, INF),
    "training_tokens_per_run_m": (0, INF),
    "incident_rate_per_deployment_year": (0, INF),
    "after_hours_share": (0, 1),
    "engineers": (0, 100_000),
    "reviewers": (0, 100_000),
    "engineer_hours_per_day": (0.5, 24),
    "reviewer_hours_per_day": (0.5, 24),
    "working_hours_per_year": (1, 8760),
    "engineer_loaded_annual_usd": (0, INF),
    "reviewer_loaded_annual_usd": (0, INF),
    "gpu_reserved_usd_per_hour": (0, INF),
    "gpu_on_demand_usd_per_hour": (0, INF),
    "gpu_spot_usd_per_hour": (0, INF),
    "storage_usd_per_gb_month": (0, INF),
    **{f"serving_gpu_usd_per_hour.{c}": (0, INF) for c in GPU_CLASSES},
    **{f"serving_gpu_relative_throughput.{c}": (0, INF) for c in GPU_CLASSES},
    "existing_platform_fte": (0, INF),
    "existing_staff_cost_share": (0, 1),
    "existing_reserved_gpus": (0, 100_000),
    "existing_monitoring_share": (0, 1),
    "discount_rate": (0, 0.99),
}
# Uncertain inputs that count whole things: a whole number, or a choice of whole numbers.
WHOLE_NUMBERS = {"existing_reserved_gpus"}
# Keys renamed when their unit was made explicit: a config using the old name gets a pointer.
RENAMED = {
    "downtime_usd_per_hour": "downtime_usd_per_adapter_hour (USD per adapter-hour of full outage)",
    "min_gpus_per_deployment": "min_replicas (always-on replicas per deployment, the redundancy choice)",
}
MODEL_RANGES = {
    "training.failure_prob": (0, MAX_PROB),
    "training.checkpoint_interval_hours": (1e-3, INF),
    "training.checkpoint_gb": (0, INF),
    "training.retention_runs": (1, 10_000),
    "training.vendor_usd_per_1m_tokens": (0, INF),
    "gpu_pool.reserved": (0, 100_000),
    "gpu_pool.burst_max": (0, 100_000),
    "gpu_pool.spot_preemptions_per_gpu_hour": (0, INF),
    "evaluation.failure_prob": (0, MAX_PROB),
    "evaluation.vendor_usd_per_run": (0, INF),
    "serving.tokens_per_gpu_hour_m": (0, INF),
    "serving.target_utilization": (0.01, 1),
    "serving.min_replicas": (1, 100),
    "serving.adapters_per_deployment": (1, 100_000),
    "serving.vendor_usd_per_1m_tokens": (0, INF),
    "serving.vendor_usd_per_deployment_hour": (0, INF),
    "serving.sla_uptime": (0, 1),
    "serving.sla_credit_fraction": (0, 1),
    "oncall.incident_rate_multiplier": (0, INF),
    "oncall.after_hours_multiplier": (0, INF),
    "oncall.escalation_hours": (0, INF),
    "platform.base_fte": (0, INF),
    "platform.fte_per_adapter": (0, INF),
    "platform.max_fte": (0, INF),
    "platform.monitoring_build_usd": (0, INF),
    "platform.monitoring_usd_per_year": (0, INF),
    "platform.vendor_platform_usd_per_year": (0, INF),
    "compliance.rejection_prob": (0, MAX_PROB),
    "compliance.annual_audit_hours": (0, INF),
    "base_model.response_probability": (0, 1),
    "base_model.migration_hours_per_adapter": (0, INF),
    "promotion.bad_rollout_prob": (0, MAX_PROB),
}
# Fields that must be > 0, not just >= 0 (a distribution open at 0, such as the
# lognormal, is allowed).
STRICTLY_POSITIVE = {"serving.tokens_per_gpu_hour_m", *(f"serving_gpu_relative_throughput.{c}" for c in GPU_CLASSES)}
TOP_RANGES = {"replications": (1, 100_000_000), "horizon_years": (1, 100_000), "seed": (0, 2**63 - 1)}
ENGINE_RANGES = {"max_events_per_replication": (1000, 10**12), "threads": (0, 4096)}


def _range_text(low: float, high: float, integer: bool) -> str:
    kind = "an integer" if integer else "a number"
    if high == INF:
        return f"must be {kind} >= {low:g}"
    return f"must be {kind} in [{low:g}, {high:g}]"


def unknown_key(section: str, key: str, allowed: Sequence[str]) -> str:
    """The allowed-values text for an unknown key: the closest key, then every key of its section."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
    hint = f"did you mean {section + '.' if section else ''}{close[0]}? " if close else ""
    return f"unknown key; {hint}allowed keys of {section or 'the config'}: {', '.join(allowed)}"


def _check_keys(path: str, value: Any, schema: type) -> None:
    """Reject keys the schema does not know, recursively."""
    if not isinstance(value, Mapping):
        raise ConfigError(path, value, f"must be a mapping of {schema.__name__} fields")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    for key, sub in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in fields:
            if key in RENAMED:
                raise ConfigError(where, sub, f"renamed: use {path}.{RENAMED[key]}")
            raise ConfigError(where, sub, unknown_key(path, key, list(fields)))
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            _check_keys(where, sub, hint)
        elif typing.get_origin(hint) is dict:
            if not isinstance(sub, Mapping):
                raise ConfigError(where, sub, "must be a mapping of name -> operating model")
            for name, model in sub.items():
                _check_keys(f"{where}.{name}", model, OperatingModelConfig)


def _get(tree: Mapping, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def check_uncertain(field: str, spec: Any, low: float, high: float, strict_low: bool = False) -> InputDistribution:
    """Parse an uncertain input and check that its whole support lies in [low, high]
    (``(low, high]`` with ``strict_low``)."""
    dist = parse_uncertain(field, spec)
    lo, hi = (dist.mean, dist.mean) if dist.is_degenerate else (dist.quantile(0.0), dist.quantile(1.0))
    open_at_low = isinstance(dist, Lognormal) and lo == low  # the lognormal never reaches 0
    if lo < low or hi > high or (strict_low and lo == low and not open_at_low):
        allowed = _range_text(low, high, False).replace(">=", ">") if strict_low else _range_text(low, high, False)
        if not dist.is_degenerate:
            allowed += f" over the distribution's whole support (it spans [{lo:g}, {hi:g}])"
        raise ConfigError(field, spec, allowed)
    return dist


SHARD_FORM = "must be i/n with 0 <= i < n (shard i of n, 0-based, e.g. shard=3/16), or empty for the whole run"


def parse_shard(shard: Any, replications: int | None = None) -> tuple[int, int] | None:
    """Parse ``shard = "i/n"`` into ``(i, n)``; ``""`` (the whole run) gives None.

    With ``replications`` given, also checks that every shard holds at least one
    replication (``n <= replications``).

    Raises
    ------
    ConfigError
        Naming ``shard``, the value and the allowed form.
    """
    if shard is None or shard == "":
        return None
    parts = shard.split("/") if isinstance(shard, str) else []
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError("shard", shard, SHARD_FORM)
    i, n = int(parts[0]), int(parts[1])
    if not 0 <= i < n:
        raise ConfigError("shard", shard, SHARD_FORM)
    if replications is not None and n > replications:
        raise ConfigError("shard", shard, f"must be i/n with 0 <= i < n <= replications ({replications}): every shard needs a replication")
    return i, n


def _check_integer(field: str, value: Any, low: float, high: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(field, value, _range_text(low, high, True))
    return value


def _check_event(field: str, spec: Any) -> InputDistribution:
    if not isinstance(spec, Mapping):
        raise ConfigError(field, spec, "must be a mapping {family: fixed|exponential|lognormal|uniform, mean: ..., cv: ...}")
    family = spec.get("family")
    if family not in FAMILY_CODES:
        raise ConfigError(f"{field}.family", family, f"must be one of {', '.join(FAMILY_CODES)}")
    cv = spec.get("cv", 0.0)
    cv_max = 1 / math.sqrt(3) if family == "uniform" else 100.0
    if isinstance(cv, bool) or not isinstance(cv, (int, float)) or not 0 <= cv <= cv_max:
        raise ConfigError(f"{field}.cv", cv, f"must be a number in [0, {cv_max:.4g}] for family {family}")
    return check_uncertain(f"{field}.mean", spec.get("mean", 0.0), 0, INF)


def _check_section(prefix: str, tree: Mapping, schema: type, ranges: Mapping[str, tuple], rel: str = "") -> None:
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        path = f"{rel}{f.name}"
        field = f"{prefix}.{f.name}"
        value = tree[f.name]
        hint = hints[f.name]
        if hint is EventDist:
            _check_event(field, value)
        elif hint is SeverityMix:
            _check_severity(field, value)
        elif dataclasses.is_dataclass(hint):
            _check_section(field, value, hint, ranges, f"{path}.")
        elif hint is str and (path in CHOICES or f"scenario.{path}" in CHOICES):
            allowed = CHOICES.get(path) or CHOICES[f"scenario.{path}"]
            if value not in allowed:
                raise ConfigError(field, value, f"must be one of {', '.join(allowed)}")
        elif hint is bool:
            if not isinstance(value, bool):
                raise ConfigError(field, value, "must be true or false")
        elif path in ranges:
            low, high = ranges[path]
            if hint is int:
                _check_integer(field, value, low, high)
            else:
                dist = check_uncertain(field, value, low, high, strict_low=path in STRICTLY_POSITIVE)
                if path in WHOLE_NUMBERS:
                    _check_whole(field, value, dist)


def _check_whole(field: str, spec: Any, dist: InputDistribution) -> None:
    values = [dist.mean] if dist.is_degenerate else getattr(dist, "values", None)
    if values is None or any(float(v) != math.floor(v) for v in values):
        raise ConfigError(field, spec, "must be a whole number, or a choice of whole numbers such as choice(0:0.5,1:0.5)")


def _check_severity(field: str, mix: Mapping) -> None:
    for key in ("probabilities", "downtime_fraction", "mttr_multiplier"):
        values = mix[key]
        if len(values) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise ConfigError(f"{field}.{key}", list(values), "must be a list of 3 numbers (sev1, sev2, sev3)")
        high = INF if key == "mttr_multiplier" else 1.0
        if any(not 0 <= v <= high for v in values):
            raise ConfigError(f"{field}.{key}", list(values), f"each must be in [0, {high:g}]")
    if abs(sum(mix["probabilities"]) - 1.0) > 1e-9:
        raise ConfigError(f"{field}.probabilities", list(mix["probabilities"]), "must sum to 1")


def _support_max(tree: Mapping, dotted: str) -> float:
    dist = parse_uncertain(dotted, _get(tree, dotted))
    return dist.mean if dist.is_degenerate else dist.quantile(1.0)


def _needs_work(model: Mapping, section: str) -> bool:
    return _support_max(model, f"{section}.mean") > 0


def validate_config(cfg: Mapping) -> None:
    """Validate a composed config given as a plain dict.

    Raises
    ------
    ConfigError
        On the first problem found, with a one-line message.
    """
    _check_keys("", cfg, Config)
    for key, (low, high) in TOP_RANGES.items():
        _check_integer(key, cfg[key], low, high)
    parse_shard(cfg.get("shard", ""), cfg["replications"])
    engine = cfg["engine"]
    if engine["name"] not in CHOICES["engine.name"]:
        raise ConfigError("engine.name", engine["name"], f"must be one of {', '.join(CHOICES['engine.name'])}")
    for key, (low, high) in ENGINE_RANGES.items():
        _check_integer(f"engine.{key}", engine[key], low, high)
    scenario = cfg["scenario"]
    _check_section("scenario", scenario, ScenarioConfig, SCENARIO_RANGES)
    models = cfg["operating_model"]
    if not models:
        raise ConfigError("operating_model", "[]", "select at least one operating model, e.g. operating_model=[self_managed_lora]")
    regulated = _support_max(scenario, "regulated_share") > 0
    for name, model in models.items():
        prefix = f"operating_model.{name}"
        _check_section(prefix, model, OperatingModelConfig, MODEL_RANGES)
        _check_model_resources(prefix, model, scenario, regulated)
    _check_inputs(cfg)
    _check_study(cfg)
    _check_output(cfg)


CHART_FORMATS = ("png", "svg", "pdf")


def _check_output(cfg: Mapping) -> None:
    formats = list(cfg.get("output", {}).get("chart_formats", ["png"]))
    if not formats or any(f not in CHART_FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise ConfigError("output.chart_formats", formats, f"must list one or more of {', '.join(CHART_FORMATS)}, each once")


STUDY_KINDS = ("none", "break_even", "decision_map", "sensitivity", "article_table", "article_decision_table")


def _check_study(cfg: Mapping) -> None:
    """The ``study`` section: its kind, swept paths and grids, and the models it compares."""
    study = cfg.get("study")
    if not study or study.get("kind", "none") == "none":
        return
    kind = study["kind"]
    if kind not in STUDY_KINDS:
        raise ConfigError("study.kind", kind, f"must be one of {', '.join(STUDY_KINDS)}")
    models = list(cfg["operating_model"])
    if kind in ("break_even", "sensitivity"):
        for key in ("a", "b"):
            if study[key] not in models and not (kind == "sensitivity" and key == "b" and study[key] in ("", "none")):
                raise ConfigError(f"study.{key}", study[key], f"must be one of the selected operating models: {', '.join(models)}")
        if study["a"] == study["b"]:
            raise ConfigError("study.b", study["b"], "must differ from study.a")
    if kind == "break_even" and not 0 < float(study["confidence"]) < 1:
        raise ConfigError("study.confidence", study["confidence"], "must be in (0, 1), e.g. 0.9")
    if kind == "sensitivity":
        _check_integer("study.sobol_samples", study["sobol_samples"], 2, 1 << 20)
    if kind == "article_decision_table":  # study.a is the self-managed model; every other selected model is a managed platform
        if study["a"] not in models:
            raise ConfigError("study.a", study["a"], f"must be one of the selected operating models: {', '.join(models)}")
        if len(models) < 2:
            raise ConfigError("operating_model", models, "article_decision_table needs study.a and at least one managed model")
    grids = {"break_even": ("parameter", "values"), "decision_map": ("parameter", "values", "y_parameter", "y_values")}
    for path_key, values_key in zip(grids.get(kind, ())[::2], grids.get(kind, ())[1::2], strict=True):
        _check_swept_path(cfg, f"study.{path_key}", study[path_key])
        values = list(study[values_key])
        if len(values) < 2 or any(b <= a for a, b in itertools.pairwise(values)):
            raise ConfigError(f"study.{values_key}", values, "must list at least two increasing values")


def _check_swept_path(cfg: Mapping, field: str, path: Any) -> None:
    parts = str(path).split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        if part == "*" and i == 1 and parts[0] == "operating_model":
            node = next(iter(cfg["operating_model"].values()))
            continue
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(field, path, "must be a config path such as scenario.adapters or operating_model.*.platform.base_fte")
        node = node[part]
    is_distribution = (isinstance(node, Mapping) and "dist" in node) or (isinstance(node, str) and "(" in node)
    if not is_distribution and isinstance(node, (Mapping, list, bool, str)):
        raise ConfigError(field, path, "must name a numeric input, not a section or a choice")


_PAIR_FORM = "{between: [key, key], rho: number}"


def _check_inputs(cfg: Mapping) -> None:
    """The ``inputs`` section: sampling method and rank correlations between uncertain inputs."""
    settings = cfg.get("inputs") or {}  # a config built by hand may leave the section out
    sampling = settings.get("sampling", "independent")
    if sampling not in SAMPLING:
        raise ConfigError("inputs.sampling", sampling, f"must be one of {', '.join(SAMPLING)}")
    correlations = settings.get("rank_correlations") or []
    if not isinstance(correlations, (list, tuple)):
        raise ConfigError("inputs.rank_correlations", correlations, f"must be a list of {_PAIR_FORM}")
    if not correlations:
        return
    keys = list(input_keys(cfg))
    seen: dict[frozenset, int] = {}
    for i, item in enumerate(correlations):
        where = f"inputs.rank_correlations[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(where, item, f"must be a mapping {_PAIR_FORM}")
        extra = sorted(set(item) - {"between", "rho"})
        if extra:
            raise ConfigError(f"{where}.{extra[0]}", item[extra[0]], "unknown key; allowed keys: between, rho")
        between = item.get("between")
        if not isinstance(between, (list, tuple)) or len(between) != 2 or not all(isinstance(k, str) for k in between):
            raise ConfigError(
                f"{where}.between",
                between,
                "must be a list of exactly two uncertain-input keys, "
                "e.g. [scenario.gpu_on_demand_usd_per_hour, scenario.gpu_reserved_usd_per_hour]",
            )
        for key in between:
            if key not in keys:
                raise ConfigError(
                    f"{where}.between",
                    key,
                    f"not an uncertain input of this config{key_hint(key, keys)}; uncertain inputs: {', '.join(keys) or 'none'}",
                )
        if between[0] == between[1]:
            raise ConfigError(f"{where}.between", list(between), "must name two different inputs")
        rho = item.get("rho")
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not -1 <= rho <= 1:
            raise ConfigError(f"{where}.rho", rho, "must be a number in [-1, 1] (a Spearman rank correlation)")
        pair = frozenset(between)
        if pair in seen:
            earlier = f"inputs.rank_correlations[{seen[pair]}]"
            raise ConfigError(f"{where}.between", list(between), f"this pair is already correlated by {earlier}; give each pair once")
        seen[pair] = i
    for members, target in rank_correlation_groups(correlations, keys):
        scores = score_correlation(target)
        try:
            np.linalg.cholesky(scores)  # the factorisation Iman-Conover needs
        except np.linalg.LinAlgError:
            smallest = np.linalg.eigvalsh(scores).min()
            advice = "weaken some rho"
            if np.any(np.abs(target[~np.eye(len(members), dtype=bool)]) == 1):
                advice += " (a rho of exactly +-1 makes it singular: use e.g. 0.999)"
            shown = "; ".join(f"{a} ~ {b}: {target[i, j]:g}" for i, a in enumerate(members) for j, b in enumerate(members) if j > i)
            raise ConfigError(
                "inputs.rank_correlations",
                shown,
                f"the rank correlations among {', '.join(members)} cannot hold together: their correlation matrix "
                f"(unlisted pairs 0) is not positive definite (smallest eigenvalue {smallest:.3g}); {advice}",
            ) from None


def _check_model_resources(prefix: str, model: Mapping, scenario: Mapping, regulated: bool) -> None:
    """Cross-field checks: a pool that work needs must not be empty."""
    platform = model["platform"]
    base_fte = parse_uncertain(f"{prefix}.platform.base_fte", platform["base_fte"])
    max_fte = parse_uncertain(f"{prefix}.platform.max_fte", platform["max_fte"])
    low_max = max_fte.mean if max_fte.is_degenerate else max_fte.quantile(0.0)
    high_base = base_fte.mean if base_fte.is_degenerate else base_fte.quantile(1.0)
    if low_max < high_base:
        raise ConfigError(
            f"{prefix}.platform.max_fte",
            platform["max_fte"],
            f"must be >= platform.base_fte (up to {high_base:g}); FTE = min(max_fte, base_fte + fte_per_adapter x (adapters - 1))",
        )
    pool = model["gpu_pool"]
    gpus = pool["reserved"] + pool["burst_max"]
    if gpus == 0 and model["training"]["owner"] == "team" and _needs_work(model, "training.gpu_hours"):
        raise ConfigError(
            f"{prefix}.gpu_pool.reserved",
            pool["reserved"],
            "training.owner = team with training.gpu_hours > 0 needs reserved + burst_max >= 1 GPU",
        )
    if gpus == 0 and _needs_work(model, "evaluation.gpu_hours"):
        raise ConfigError(f"{prefix}.gpu_pool.reserved", pool["reserved"], "evaluation.gpu_hours > 0 needs reserved + burst_max >= 1 GPU")
    if regulated and scenario["reviewers"] == 0 and _needs_work(model, "compliance.review_hours"):
        raise ConfigError(
            "scenario.reviewers",
            0,
            f"must be >= 1: adapters are regulated (scenario.regulated_share > 0) and {prefix}.compliance.review_hours > 0",
        )
    if scenario["engineers"] == 0:
        needs = [
            s
            for s in ("training.data_prep_hours", "evaluation.engineer_hours", "compliance.rework_hours", "promotion.rollback_hours")
            if _needs_work(model, s)
        ]
        if _support_max(model, "base_model.migration_hours_per_adapter") > 0 and _support_max(model, "base_model.response_probability") > 0:
            needs.append("base_model.migration_hours_per_adapter")
        if model["serving"]["owner"] == "team" and _support_max(scenario, "incident_rate_per_deployment_year") > 0:
            needs.append("team-owned incidents")
        if needs:
            raise ConfigError("scenario.engineers", 0, f"must be >= 1: {prefix} needs engineers for {needs[0]}")
