"""The applications layer: the console scripts and what only they need.

- the console scripts: ``lora-tco`` (:mod:`sim.apps.cli`), ``lora-tco-report``
  (:mod:`sim.apps.report`) and ``lora-tco-merge`` (:mod:`sim.apps.merge`); the command
  line read and checked before Hydra starts (:mod:`sim.apps.commandline`) and the one
  error line every command ends with when it fails (:mod:`sim.apps.errors`);
- experiment plumbing: the shared command line and CSV output of the scripted studies in
  ``experiments/``, and the studies ``lora-tco`` runs itself (:mod:`sim.apps.studies`);
- background work: chart rendering in a forked child (:mod:`sim.apps.background`);
- job markers: run-folder locks and the done and failed markers that prove how a job
  ended (:mod:`sim.apps.jobs`).

The top layer: it may import every layer below (sim.outputs, sim.analysis, sim.run,
sim.engines, models, sim.core), and nothing below imports it.
"""
