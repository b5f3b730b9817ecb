"""The choice vocabulary: the words a config may use for each structural choice, and the
integer code each word compiles to.

Each vocabulary is written once, as the ordered tuple of its words; a word's code is its
position. Validation offers exactly these words (:data:`models.validate.CHOICES`),
compilation turns them into these codes (:data:`models.compile.CODE_MAPS`), and both
engines compare against the named codes below, which numba reads as compile-time
integers. The serving GPU classes are not here: they are the fields of the schema's
price table (``models.schema.GPU_CLASSES``), so that table is their one declaration.
"""

from __future__ import annotations

from collections.abc import Sequence

ARRIVALS = ("poisson", "deterministic")  # scenario.arrivals: random (Poisson) or every 1/rate exactly
OWNERS = ("team", "vendor")  # training.owner, serving.owner: who does the work and takes the incidents
SERVING_MODES = ("dedicated", "shared")  # serving.mode: one deployment per adapter, or a multi-adapter base
BURST_TIERS = ("on_demand", "spot")  # gpu_pool.burst_tier: how burst GPUs beyond the reservation are bought
ENGINES = ("numba", "simpy")  # engine.name: the fast engine and the reference engine

POISSON = ARRIVALS.index("poisson")
DETERMINISTIC = ARRIVALS.index("deterministic")
TEAM = OWNERS.index("team")
VENDOR = OWNERS.index("vendor")
DEDICATED = SERVING_MODES.index("dedicated")
SHARED = SERVING_MODES.index("shared")
ON_DEMAND = BURST_TIERS.index("on_demand")
SPOT = BURST_TIERS.index("spot")


def codes(words: Sequence[str]) -> dict[str, int]:
    """``{word: code}`` of a vocabulary: each word's position."""
    return {word: code for code, word in enumerate(words)}
