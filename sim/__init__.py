"""lora-tco: discrete-event Monte Carlo TCO of self-managed LoRA vs managed custom-model platforms.

>>> from sim import load_config, simulate
>>> results = simulate(load_config(["replications=200"]))
>>> results.summary()

The public names are imported on first use, so ``import sim.core.rng`` (which the
``models`` package needs) does not pull in the whole engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {"load_config": "sim.run.config", "simulate": "sim.run.runner", "trace": "sim.run.runner", "Results": "sim.run.results"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
