"""lora-tco: discrete-event Monte Carlo TCO of self-managed LoRA vs managed custom-model platforms.

>>> from sim import load_config, simulate
>>> results = simulate(load_config(["replications=200"]))
>>> results.summary()

The package is in layers, each importing only those below it (``docs/architecture.md``;
checked by ``lint-imports``)::

    sim.apps -> sim.outputs -> sim.analysis -> sim.run -> sim.engines -> models -> sim.core

The names above are re-exported from the top of that stack on first use (PEP 562). Python
runs this file before any module of the package, so a root that imported the run layer
eagerly would make ``import sim.core.rng`` (which ``models`` needs) load the engines, Hydra
and pandas: the bottom layer would depend at run time on everything above it. The test
suite checks that importing ``sim.core`` loads no other layer.
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
