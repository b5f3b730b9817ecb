"""The outputs layer: what a run becomes for its readers.

It owns the charts (:mod:`sim.outputs.charts`: the deck style, every chart, saving them
as PNG / SVG / PDF), the planning workbook (:mod:`sim.outputs.workbook`), the planning
deck (:mod:`sim.outputs.deck`), the tables those two share (:mod:`sim.outputs.tables`:
every input with its source) and the terminal tables (:mod:`sim.outputs.terminal`).
Words and numbers come from :mod:`sim.core.labels`, statistics from :mod:`sim.core.stats`.

It may import the layers below it: ``sim.analysis``, ``sim.run``, ``sim.engines``,
``models`` and ``sim.core``; never ``sim.apps``, which calls it (the contract is in
``pyproject.toml``, checked by ``lint-imports``).
"""
