"""The fast engine: the whole model as numba kernels over flat arrays.

It is the SimPy reference engine (``sim/engines/reference/``) rewritten as explicit
state machines, so that it reproduces it replication by replication:

- an event heap ordered by ``(time, priority, sequence)``, as SimPy's
  ``(time, priority, event id)``: process starts and interrupts are URGENT (0),
  timeouts and grants NORMAL (1); events are pushed in the order SimPy
  schedules them (SimPy's no-op events, such as process ends, are skipped:
  they do not change the relative order of the others); events due at the current
  time (process starts, hand-overs, interrupts: a third of all events) skip the heap
  and wait in a FIFO per priority, which already holds them in heap order;
- each process is a program counter plus local slots; a pre-empted process's
  pending event is made stale by bumping the process's version; a process whose
  own next event would be popped next anyway is resumed inline (exact);
- the same pools, grant rules and monitors as ``sim/engines/reference/resources.py``;
- the same keyed random numbers (``sim/core/rng.py``) and shared formulas
  (``sim/core/ledger.py``, ``sim/engines/capacity.py``), so equal events draw equal numbers.
  Draws finish a key prefix hashed once per replication (``sim.core.rng.key_prefixes``):
  the same numbers as ``keyed_uniform`` for a fifth of the hashing. State is bounded by
  the live processes, not by the horizon.

Its modules, each importing only the ones above it:

- :mod:`~sim.engines.fast.layout`: the tables, one declaration per entry: parameters
  ``P_*`` / ``Q_*`` and :func:`~sim.engines.fast.layout.pack_parameters`, cost categories
  ``C_*``, metrics ``M_*``, the loop's counters ``ST_*`` / ``SF_*``, process, adapter and
  monitor slots;
- :mod:`~sim.engines.fast.heap`: the event heap and the now-queues;
- :mod:`~sim.engines.fast.pools`: the GPU, engineer and reviewer pools and their monitors;
- :mod:`~sim.engines.fast.processes`: one step of each process kind (drift, detection,
  schedule, releases, faults, incident, SLA, the refresh pipeline, engineer work);
- :mod:`~sim.engines.fast.kernel`: the event loop, one replication, and
  :func:`~sim.engines.fast.kernel.run_kernel`, the entry point.

It may import ``sim.core``, ``models`` and ``sim.engines.capacity``, never
``sim.engines.reference``: the two engines agree because they share those, not each
other's code (an import-linter contract in ``pyproject.toml``).
"""
