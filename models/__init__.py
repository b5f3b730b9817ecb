"""The models layer: the scenario and operating-model schema, validation, distributions,
the input layer (sampled uncertain inputs) and compilation to flat arrays.

May import: :mod:`sim.core` only (checked by ``lint-imports``). It sits below the engines
so that both engines read the same compiled arrays, and beside the ``sim`` package so that
the config schema can be read without the simulator.
"""
