"""Small hand-made configs for tests, built from the schema's neutral defaults.

The neutral defaults cost nothing and draw nothing, so a test states exactly the
mechanisms it exercises.
"""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import OmegaConf

from models.schema import Config, OperatingModelConfig


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree[part]
    if leaf not in tree:
        raise KeyError(f"no field {dotted}")
    tree[leaf] = value


def fixed(mean: float) -> dict:
    return {"family": "fixed", "mean": mean, "cv": 0.0}


def exponential(mean: float) -> dict:
    return {"family": "exponential", "mean": mean, "cv": 1.0}


def operating_model(**fields: Any) -> dict:
    """An operating model from neutral defaults; keys use ``__`` for dots (``training__owner``)."""
    model = OmegaConf.to_container(OmegaConf.structured(OperatingModelConfig))
    for key, value in fields.items():
        _set(model, key.replace("__", "."), copy.deepcopy(value))
    return model


ENGINES = ("numba", "simpy")


def config(
    models: dict[str, dict], replications: int = 10, horizon_years: int = 1, seed: int = 7, engine: str = "numba", **scenario: Any
) -> dict:
    """A full plain config with the given operating models and scenario fields."""
    cfg = OmegaConf.to_container(OmegaConf.structured(Config))
    cfg["engine"]["name"] = engine
    cfg["operating_model"] = copy.deepcopy(models)
    cfg["replications"] = replications
    cfg["horizon_years"] = horizon_years
    cfg["seed"] = seed
    for key, value in scenario.items():
        _set(cfg["scenario"], key.replace("__", "."), copy.deepcopy(value))
    return cfg


def gpu_queue_model(gpus: int, mean_gpu_hours: float) -> dict:
    """Training only, on ``gpus`` reserved GPUs, exponential training work: the
    machine-repair (M/M/c//N) setting of the design brief."""
    return operating_model(
        training__gpu_hours=exponential(mean_gpu_hours),
        gpu_pool__reserved=gpus,
    )
