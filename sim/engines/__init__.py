"""The engines layer: two engines that simulate the same model and agree bit for bit.

- :mod:`.reference`: the SimPy reference engine (small generator processes, readable,
  traced: "a year in the life");
- :mod:`.fast`: the numba engine (flat arrays in, arrays out), used for real runs;
- :mod:`.capacity`: the capacity-sizing rules both engines call (platform FTE, the
  reserved pool, serving replicas), written once as ``cached_njit`` functions.

May import: :mod:`models` and :mod:`sim.core`. The two engines are independent of each
other (checked by ``lint-imports``): what they share lives in :mod:`sim.core` or in
:mod:`.capacity`, never in one engine imported by the other.
"""
