"""Compile a validated config into flat numpy arrays that both engines read.

Layout (``R`` replications, ``M`` operating models):

- ``scenario_values[R, NSV]``: every numeric scenario input, sampled per replication;
- ``scenario_codes[NSC]``: structural integers (adapters, pool sizes, choices as codes);
- ``model_values[M, R, NMV]`` and ``model_codes[M, NMC]``: the same per operating model.

Column names come from walking the schema (``SCENARIO_VALUES`` etc.), so adding a
field to a dataclass adds a column. Uncertain inputs are sampled with keyed
uniforms: scenario inputs keyed by ``scenario.<path>``, operating-model inputs by
``operating_model.<path>`` *without* the model's name, so two operating models
that share an uncertain figure share its draw (common random numbers).
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
from models.schema import EventDist, OperatingModelConfig, ScenarioConfig, SeverityMix
from sim.rng import FAMILY_CODES, Stream, keyed_uniforms, stable_id

CODE_MAPS = {
    "arrivals": {"poisson": 0, "deterministic": 1},
    "owner": {"team": 0, "vendor": 1},
    "mode": {"dedicated": 0, "shared": 1},
    "burst_tier": {"on_demand": 0, "spot": 1},
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


def _sample_columns(tree: Mapping, names: list[str], key_prefix: str, seed: int, reps: np.ndarray, inputs: dict, label: str) -> np.ndarray:
    out = np.empty((reps.shape[0], len(names)))
    for j, name in enumerate(names):
        spec = _lookup(tree, name)
        dist = parse_uncertain(f"{label}.{name}", spec)
        if dist.is_degenerate:
            out[:, j] = dist.mean
            continue
        inputs[f"{label}.{name}"] = dist
        key = f"{key_prefix}.{name}"  # the draw is keyed without the model's name
        u = keyed_uniforms(seed, reps, Stream.INPUT, stable_id(key), 0)
        out[:, j] = dist.ppf(u)
    return out


def compile_config(cfg: Mapping, replications: np.ndarray | None = None) -> CompiledRun:
    """Compile a validated config (plain dict) into a :class:`CompiledRun`.

    Parameters
    ----------
    cfg : Mapping
        The composed, resolved and validated configuration.
    replications : array of int, optional
        Replication indices to compile (default ``range(cfg['replications'])``);
        a shard passes its own subset and gets exactly the same numbers for them.
    """
    seed = int(cfg["seed"])
    reps = np.arange(cfg["replications"], dtype=np.int64) if replications is None else np.asarray(replications, np.int64)
    inputs: dict[str, InputDistribution] = {}
    scenario = cfg["scenario"]
    scenario_values = _sample_columns(scenario, SCENARIO_VALUES, "scenario", seed, reps, inputs, "scenario")
    scenario_codes = np.array([_code(n, _lookup(scenario, n)) for n in SCENARIO_CODES], dtype=np.int64)
    names = tuple(cfg["operating_model"])
    model_values = np.empty((len(names), reps.shape[0], len(MODEL_VALUES)))
    model_codes = np.empty((len(names), len(MODEL_CODES)), dtype=np.int64)
    labels = []
    for m, name in enumerate(names):
        model = cfg["operating_model"][name]
        labels.append(model.get("label") or name.replace("_", " "))
        model_values[m] = _sample_columns(model, MODEL_VALUES, "operating_model", seed, reps, inputs, f"operating_model.{name}")
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
    )
