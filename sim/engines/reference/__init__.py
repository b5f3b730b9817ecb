"""The reference engine: SimPy processes for one replication of one operating model.

Owns: the resources (:mod:`.resources`: GPU pool, engineers, reviewers), the adapter's
refresh pipeline (:mod:`.adapter`), serving incidents and SLA credits (:mod:`.incidents`),
and the replication that starts them in a stated order and books the ledger, with its
optional event trace (:mod:`.replication`).

May import: :mod:`sim.engines.capacity`, :mod:`models` and :mod:`sim.core`; never the
fast engine.
"""
