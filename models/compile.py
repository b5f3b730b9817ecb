"""Compile a validated config into flat numpy arrays that both engines read.

Layout (``R`` replications, ``M`` operating models):

- ``scenario_values[R, NSV]``: every numeric scenario input, sampled per replication;
- ``scenario_codes[NSC]``: structural integers (adapters, pool sizes, choices as codes);
- ``model_values[M, R, NMV]`` and ``model_codes[M, NMC]``: the same per operating model.

Column names come from walking the schema (``SCENARIO_VALUES`` etc.), so adding a
field to a dataclass adds a column. Uncertain inputs are pushed through their
inverse CDFs at uniforms from :mod:`models.inputs` (keyed uniforms by default,
optionally a Latin hypercube and rank correlations): scenario inputs are keyed by
``scenario.<path>``, operating-model inputs by ``operating_model.<path>``
*without* the model's name, so two operating models that share an uncertain
figure share its draw (common random numbers).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from models.distributions import InputDistribution, parse_uncertain
from models.inputs import key_hint, sample_uniforms
from models.schema import CHEAPEST_GPU_CLASS, GPU_CLASSES, EventDist, OperatingModelConfig, ScenarioConfig, SeverityMix
from sim.core.choices import ARRIVALS, BURST_TIERS, OWNERS, SERVING_MODES, codes
from sim.core.rng import FAMILY_CODES

# The serving GPU class's last word (``cheapest``) picks the cheapest class per replication.
SERVING_GPU_CLASSES = (*GPU_CLASSES, CHEAPEST_GPU_CLASS)
# Code of each word of a choice field, by the field's last path component: the engines read these integers.
CODE_MAPS = {
    "arrivals": codes(ARRIVALS),
    "owner": codes(OWNERS),
    "mode": codes(SERVING_MODES),
    "burst_tier": codes(BURST_TIERS),
    "gpu_class": codes(SERVING_GPU_CLASSES),
    "family": FAMILY_CODES,
}
SKIPPED = {"name", "label"}


def _walk(schema: type, prefix: str = "") -> tuple[list[str], list[str]]:
    """Names of the value columns and code columns of a schema."""
    values: list[str] = []
    codes: list[str] = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        path = prefix + f.name
        hint = hints[f.name]
        if f.name in SKIPPED:
            continue
        if hint is EventDist:
            codes.append(f"{path}.family")
            values += [f"{path}.mean", f"{path}.cv"]
        elif hint is SeverityMix:
            values += [f"{path}.{k}.{i}" for k in ("probabilities", "downtime_fraction", "mttr_multiplier") for i in range(3)]
        elif dataclasses.is_dataclass(hint):
            sub_values, sub_codes = _walk(hint, path + ".")
            values += sub_values
            codes += sub_codes
        elif hint in (int, bool, str):
            codes.append(path)
        else:
            values.append(path)
    return values, codes


SCENARIO_VALUES, SCENARIO_CODES = _walk(ScenarioConfig)
MODEL_VALUES, MODEL_CODES = _walk(OperatingModelConfig)
SV = {name: i for i, name in enumerate(SCENARIO_VALUES)}
SC = {name: i for i, name in enumerate(SCENARIO_CODES)}
MV = {name: i for i, name in enumerate(MODEL_VALUES)}
MC = {name: i for i, name in enumerate(MODEL_CODES)}


# What the organisation already has (scenario fields). A run that declares any of it is
# costed on an incremental basis; otherwise every cost an operating model uses is counted.
EXISTING_CAPACITY = ("existing_platform_fte", "existing_reserved_gpus", "existing_monitoring_share")
ACCOUNTING_BASES = {
    "fully_loaded": "fully loaded: every cost an operating model uses is counted",
    "incremental": "incremental: only what an operating model adds beyond the existing staff, GPUs and monitoring",
}


def accounting_basis(scenario: Mapping) -> str:
    """``incremental`` if the scenario may declare existing capacity that lowers a cost, else ``fully_loaded``.

    Existing staff counted at a cost share of 1 change nothing, so they alone leave the
    basis fully loaded.
    """

    def support(name: str) -> tuple[float, float]:
        dist = parse_uncertain(f"scenario.{name}", scenario[name])
        return (dist.mean, dist.mean) if dist.is_degenerate else (dist.quantile(0.0), dist.quantile(1.0))

    staff = support("existing_platform_fte")[1] > 0 and support("existing_staff_cost_share")[0] < 1
    other = any(support(name)[1] > 0 for name in EXISTING_CAPACITY[1:])
    return "incremental" if staff or other else "fully_loaded"


def _lookup(tree: Mapping, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[int(part)] if isinstance(tree, (list, tuple)) else tree[part]
    return tree


def _code(path: str, value: Any) -> int:
    leaf = path.rsplit(".", 1)[-1]
    if leaf in CODE_MAPS:
        return CODE_MAPS[leaf][value]
    return int(value)


def _nest(flat: Mapping[str, Any]) -> SimpleNamespace:
    root: dict = {}
    for dotted, value in flat.items():
        node = root
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    def build(node):
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [build(node[k]) for k in sorted(node, key=int)]
            return SimpleNamespace(**{k: build(v) for k, v in node.items()})
        return node

    return build(root)


@dataclass
class CompiledRun:
    """Everything an engine needs, as flat arrays. Built by :func:`compile_config`."""

    seed: int
    horizon_years: int
    replications: np.ndarray  # int64 replication indices (a shard is a subset)
    model_names: tuple[str, ...]
    model_labels: tuple[str, ...]
    scenario_values: np.ndarray
    scenario_codes: np.ndarray
    model_values: np.ndarray
    model_codes: np.ndarray
    max_events: int
    inputs: dict[str, InputDistribution] = field(default_factory=dict)  # uncertain inputs by config path
    # Uncertain inputs by draw key, in sampling order. A key several operating models
    # share maps to the first model's distribution; ``input_paths`` lists every path
    # that uses the key, for looking up each model's own law in ``inputs``.
    input_keys: dict[str, InputDistribution] = field(default_factory=dict)
    input_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    uniforms: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # [R, len(input_keys)], the u behind each input

    @property
    def n_models(self) -> int:
        return len(self.model_names)

    def scenario_at(self, row: int) -> SimpleNamespace:
        """Scenario parameters of replication row ``row`` as a nested namespace."""
        flat = {n: float(self.scenario_values[row, i]) for n, i in SV.items()}
        flat.update({n: int(self.scenario_codes[i]) for n, i in SC.items()})
        return _nest(flat)

    def model_at(self, m: int, row: int) -> SimpleNamespace:
        """Operating-model parameters of model ``m`` in replication row ``row``."""
        flat = {n: float(self.model_values[m, row, i]) for n, i in MV.items()}
        flat.update({n: int(self.model_codes[m, i]) for n, i in MC.items()})
        return _nest(flat)


def _uncertain_inputs(cfg: Mapping) -> dict[str, list[tuple[str, InputDistribution]]]:
    """Draw key -> [(config path, distribution)] of every non-degenerate input.

    Keys come in schema order (scenario fields, then operating-model fields), not in
    the order of the selected models, so selecting another model does not reorder
    the keys of a rank-correlation group (which would change its draws).
    """
    found: dict[str, list[tuple[str, InputDistribution]]] = {}
    for name in SCENARIO_VALUES:
        path = f"scenario.{name}"
        dist = parse_uncertain(path, _lookup(cfg["scenario"], name))
        if not dist.is_degenerate:
            found[path] = [(path, dist)]
    for name in MODEL_VALUES:
        for model_name, model in cfg["operating_model"].items():
            path = f"operating_model.{model_name}.{name}"
            dist = parse_uncertain(path, _lookup(model, name))
            if not dist.is_degenerate:
                found.setdefault(f"operating_model.{name}", []).append((path, dist))
    return found


def input_keys(cfg: Mapping) -> dict[str, InputDistribution]:
    """The uncertain inputs of a validated config: draw key -> distribution, in sampling order.

    A key shared by several operating models maps to the distribution of the first
    selected model that gives it one.
    """
    return {key: users[0][1] for key, users in _uncertain_inputs(cfg).items()}


def _explicit_uniforms(given: Mapping[str, np.ndarray], keys: Mapping[str, Any], rows: int) -> dict[str, np.ndarray]:
    checked = {}
    for key, values in given.items():
        if key not in keys:
            raise ValueError(
                f"input_uniforms: {key!r} is not an uncertain input of this config{key_hint(key, keys)}; "
                f"uncertain inputs: {', '.join(keys) or 'none'}"
            )
        u = np.asarray(values, dtype=float)
        if u.shape != (rows,):
            raise ValueError(f"input_uniforms[{key!r}]: shape {u.shape}, expected ({rows},), one value per compiled replication")
        if not np.all((u > 0.0) & (u < 1.0)):
            raise ValueError(f"input_uniforms[{key!r}]: values must lie in the open interval (0, 1)")
        checked[key] = u
    return checked


def _sample_columns(
    tree: Mapping, names: list[str], key_prefix: str, uniforms: Mapping[str, np.ndarray], rows: int, inputs: dict, label: str
) -> np.ndarray:
    out = np.empty((rows, len(names)))
    for j, name in enumerate(names):
        spec = _lookup(tree, name)
        dist = parse_uncertain(f"{label}.{name}", spec)
        if dist.is_degenerate:
            out[:, j] = dist.mean
            continue
        inputs[f"{label}.{name}"] = dist
        out[:, j] = dist.ppf(uniforms[f"{key_prefix}.{name}"])  # keyed without the model's name
    return out


def compile_config(
    cfg: Mapping, replications: np.ndarray | None = None, input_uniforms: Mapping[str, np.ndarray] | None = None
) -> CompiledRun:
    """Compile a validated config (plain dict) into a :class:`CompiledRun`.

    Parameters
    ----------
    cfg : Mapping
        The composed, resolved and validated configuration.
    replications : array of int, optional
        Replication indices to compile (default ``range(cfg['replications'])``);
        a shard passes its own subset and gets exactly the same numbers for them.
    input_uniforms : mapping of str to array, optional
        Explicit uniforms in (0, 1) for some uncertain inputs, by draw key (see
        :func:`input_keys`), one value per compiled replication row. They replace
        the configured sampling for those keys and are used as given: a rank
        correlation involving such a key is not imposed on it. Sensitivity designs
        use this (a constant array fixes an input at a quantile).

    Raises
    ------
    ValueError
        If ``input_uniforms`` names a key that is not an uncertain input, or an
        array has the wrong length or values outside (0, 1).
    """
    seed = int(cfg["seed"])
    reps = np.arange(cfg["replications"], dtype=np.int64) if replications is None else np.asarray(replications, np.int64)
    found = _uncertain_inputs(cfg)
    explicit = _explicit_uniforms(input_uniforms or {}, found, reps.shape[0])
    keys = list(found)
    uniforms = sample_uniforms(cfg, keys, reps)
    for key, u in explicit.items():
        uniforms[:, keys.index(key)] = u
    by_key = {key: uniforms[:, j] for j, key in enumerate(keys)}
    inputs: dict[str, InputDistribution] = {}
    scenario = cfg["scenario"]
    scenario_values = _sample_columns(scenario, SCENARIO_VALUES, "scenario", by_key, reps.shape[0], inputs, "scenario")
    scenario_codes = np.array([_code(n, _lookup(scenario, n)) for n in SCENARIO_CODES], dtype=np.int64)
    names = tuple(cfg["operating_model"])
    model_values = np.empty((len(names), reps.shape[0], len(MODEL_VALUES)))
    model_codes = np.empty((len(names), len(MODEL_CODES)), dtype=np.int64)
    labels = []
    for m, name in enumerate(names):
        model = cfg["operating_model"][name]
        labels.append(model.get("label") or name.replace("_", " "))
        model_values[m] = _sample_columns(model, MODEL_VALUES, "operating_model", by_key, reps.shape[0], inputs, f"operating_model.{name}")
        model_codes[m] = [_code(n, _lookup(model, n)) for n in MODEL_CODES]
    return CompiledRun(
        seed=seed,
        horizon_years=int(cfg["horizon_years"]),
        replications=reps,
        model_names=names,
        model_labels=tuple(labels),
        scenario_values=scenario_values,
        scenario_codes=scenario_codes,
        model_values=model_values,
        model_codes=model_codes,
        max_events=int(cfg["engine"]["max_events_per_replication"]),
        inputs=inputs,
        input_keys={key: users[0][1] for key, users in found.items()},
        input_paths={key: tuple(path for path, _ in users) for key, users in found.items()},
        uniforms=uniforms,
    )
