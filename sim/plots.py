"""Where the charts used to live: a thin re-export of :mod:`sim.outputs.charts`, so that
``from sim import plots`` and ``import sim.plots`` in existing notebooks keep working."""

from sim.outputs.charts import *  # noqa: F403
