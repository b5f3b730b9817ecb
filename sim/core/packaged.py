"""Where the packaged Hydra configs live (``configs/`` beside the ``sim`` package).

Config composition (:mod:`sim.run.config`) reads them, and so does the label registry
(:mod:`sim.core.labels`, for each operating model's ``label``); the path is named once here.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
