"""Running a simulation: from a config to :class:`~sim.run.results.Results`.

- config composition and validation (:mod:`sim.run.config`): the same Hydra composition
  as the command line, failures as one-line errors;
- simulate (:mod:`sim.run.runner`): every operating model × every replication, in shards
  and chunks, on the engine the config names;
- :class:`~sim.run.results.Results`: the ledger and metrics of a run, saved and loaded;
- progress (:mod:`sim.run.progress`): replications done, rate and ETA on stderr.

May import sim.engines, models and sim.core; never sim.analysis, sim.outputs or sim.apps.
"""
