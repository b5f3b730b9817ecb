"""The core layer: what every other layer stands on.

Owns: keyed random numbers (:mod:`.rng`), numba's dependency-aware cache (:mod:`.jit`),
the ledger's units, categories and category masks (:mod:`.ledger`), the metric names
(:mod:`.metrics`), the choice vocabulary (:mod:`.choices`), the statistics and their tie
rule (:mod:`.stats`), plain-word labels and number formatting (:mod:`.labels`), atomic
file writes and interruption checkpoints (:mod:`.interrupt`), and where the packaged
configs live (:mod:`.packaged`).

May import: the standard library and third-party packages only; nothing else of
lora-tco (checked by ``lint-imports``). Labels and formatting live here, not in the
outputs layer, because the analysis layer's tables and sentences speak the same words.
"""
