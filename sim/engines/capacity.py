"""What an operating model pays for: capacity sized to its load, beyond what already exists.

The rules that turn structure into paid capacity, shared by both engines as
``@cached_njit`` functions (the same floating-point operations in the same
order, so the two engines agree bit for bit):

- **platform labour** is the model's FTE need less the platform engineers the
  organisation already employs, who are counted at ``existing_staff_cost_share``
  (0: sunk, 1: fully counted; an opportunity-cost share in between);
- **the reserved training pool** holds ``max(gpu_pool.reserved, existing)`` GPUs
  when the model has a pool at all; only reserved GPUs beyond the existing ones are
  billed;
- **serving replicas** are sized per deployment and year to the traffic on the
  chosen GPU class (or on whichever class costs least for that load), with
  ``min_replicas`` always on (the redundancy choice); with ``scale_to_zero`` a
  deployment whose load needs less than one replica runs only while busy and is
  billed for those GPU-hours.

See ``docs/model.md`` §9.
"""

from __future__ import annotations

import math

from sim.core.jit import cached_njit
from sim.core.ledger import HOURS_PER_YEAR


@cached_njit()
def platform_fte_counted(base_fte, fte_per_adapter, max_fte, adapters, existing_fte, existing_share):
    """FTE booked to ``labor_platform``: the need beyond existing staff, plus their counted share."""
    need = min(max_fte, base_fte + fte_per_adapter * (adapters - 1))
    covered = min(need, existing_fte)
    return (need - covered) + existing_share * covered


@cached_njit()
def reserved_pool_size(reserved, burst_max, existing):
    """Reserved GPUs in the training pool: existing reserved GPUs join a pool that exists."""
    if reserved + burst_max <= 0:
        return reserved
    return max(reserved, existing)


@cached_njit()
def reserved_gpus_paid(reserved, existing):
    """Reserved GPUs this model adds (and pays for) beyond those already reserved."""
    return max(0, reserved - existing)


@cached_njit()
def serving_gpu_hours(adapters, tokens_per_adapter_year_m, tokens_per_gpu_hour_m, target_utilization, min_replicas, scale_to_zero):
    """Billed and busy serving GPU-hours of one deployment in one year.

    ``busy`` is the GPU time the traffic needs at full throughput; the replicas are
    sized so that they run at ``target_utilization`` at the year's mean load.

    Returns
    -------
    billed, busy : float
        GPU-hours paid for, and GPU-hours of work done.
    """
    busy = adapters * tokens_per_adapter_year_m / tokens_per_gpu_hour_m
    need = busy / (HOURS_PER_YEAR * target_utilization)  # replicas at the target utilization
    if scale_to_zero and need < 1.0:
        return need * HOURS_PER_YEAR, busy
    return max(min_replicas, math.ceil(need)) * HOURS_PER_YEAR, busy


@cached_njit()
def serving_year(
    adapters, tokens_per_adapter_year_m, tokens_per_gpu_hour_m, target_utilization, min_replicas, scale_to_zero, prices, relative, gpu_class
):
    """Cost, billed and busy GPU-hours of one deployment-year.

    ``prices`` and ``relative`` hold one figure per GPU class (``models.schema.GPU_CLASSES``
    order); ``gpu_class`` is a position in them, or ``len(prices)`` for the class that
    costs least at this load (the first of equals).
    """
    first, last = gpu_class, gpu_class + 1
    if gpu_class >= prices.shape[0]:
        first, last = 0, prices.shape[0]
    best_cost, best_billed, best_busy = math.inf, 0.0, 0.0
    for c in range(first, last):
        billed, busy = serving_gpu_hours(
            adapters, tokens_per_adapter_year_m, tokens_per_gpu_hour_m * relative[c], target_utilization, min_replicas, scale_to_zero
        )
        cost = billed * prices[c]
        if cost < best_cost:
            best_cost, best_billed, best_busy = cost, billed, busy
    return best_cost, best_billed, best_busy
