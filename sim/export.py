"""Where the workbook and the deck used to live: a thin re-export of :mod:`sim.outputs.export`, so that
``from sim import export`` and ``import sim.export`` in existing notebooks keep working."""

from sim.outputs.export import *  # noqa: F403
