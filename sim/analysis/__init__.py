"""The analysis layer: the answers a planner takes into a budget meeting, as tidy DataFrames.

Owns: summaries of one run (:mod:`.summaries`: statistics, cost by category and by
year, one-time vs recurring, the paired comparison), sweeps over inputs with their
break-evens, decision maps and decision tables (:mod:`.sweeps`), sensitivity
(:mod:`.sensitivity`: tornado, Sobol indices), precision control (:mod:`.precision`)
and the article's tables (:mod:`.article_table`, :mod:`.article_decision_table`).

May import: :mod:`sim.run` (to simulate and to read :class:`~sim.run.results.Results`),
:mod:`sim.engines`, :mod:`models` and :mod:`sim.core`; never :mod:`sim.outputs` or
:mod:`sim.apps`. Every run inside uses the config's master seed, so all grid points of
a study see the same world replication by replication (common random numbers):
differences between grid points and between models are paired.

The functions are re-exported here, so ``from sim import analysis`` and
``analysis.break_even(...)`` keep working.
"""

from sim.analysis.precision import PrecisionRun, run_to_precision
from sim.analysis.sensitivity import sobol_indices, tornado, uncertain_inputs
from sim.analysis.summaries import (
    ECONOMIC_ONLY,
    MEASURES,
    absorbed_by,
    cost_by_category,
    cost_by_year,
    one_time_vs_recurring,
    paired_comparison,
    summary_statistics,
)
from sim.analysis.sweeps import BreakEven, Sweep, break_even, crossing_interval, decision_map, decision_table, set_parameter, sweep

__all__ = [
    "ECONOMIC_ONLY",
    "MEASURES",
    "BreakEven",
    "PrecisionRun",
    "Sweep",
    "absorbed_by",
    "break_even",
    "cost_by_category",
    "cost_by_year",
    "crossing_interval",
    "decision_map",
    "decision_table",
    "one_time_vs_recurring",
    "paired_comparison",
    "run_to_precision",
    "set_parameter",
    "sobol_indices",
    "summary_statistics",
    "sweep",
    "tornado",
    "uncertain_inputs",
]
