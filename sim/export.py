"""Where the workbook and the deck used to live: a thin re-export of :mod:`sim.outputs.workbook`,
:mod:`sim.outputs.deck` and the assumptions table and comment reader they share, so that
``from sim import export`` and ``import sim.export`` in existing notebooks keep working."""

from sim.outputs.deck import KEY_INPUTS, headline, key_numbers, write_deck
from sim.outputs.tables import assumptions_table, describe_value
from sim.outputs.workbook import write_excel
from sim.run.provenance import yaml_comments

__all__ = ["KEY_INPUTS", "assumptions_table", "describe_value", "headline", "key_numbers", "write_deck", "write_excel", "yaml_comments"]
