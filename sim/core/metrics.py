"""The operational metrics every replication reports, in the order of the metrics array.

Both engines fill one row of ``len(METRICS)`` numbers per replication and operating model
in this order; :class:`sim.run.results.Results` names its ``metrics`` columns from it, and
the fast engine derives its metric slots from it (``M_<NAME> = METRICS.index(...)``).
Counts are over the whole horizon; ``*_mean``, ``*_utilization`` and ``*_hours`` are
time averages or totals as their names say; ``unstable_*`` and ``truncated`` are 0/1 flags.
"""

from __future__ import annotations

METRICS = (
    "drift_events",
    "base_model_releases",
    "refreshes_requested",
    "refreshes_merged",
    "refreshes_completed",
    "training_runs",
    "training_failures",
    "spot_preemptions",
    "evaluation_failures",
    "review_rejections",
    "rollbacks",
    "forced_upgrades",
    "incidents",
    "sla_breaches",
    "downtime_adapter_hours",
    "stale_adapter_days",
    "quality_deficit_days",
    "gpu_hours_used",
    "gpu_utilization",
    "gpu_busy_mean",
    "gpu_queue_mean",
    "gpu_wait_mean_hours",
    "reserved_gpus_paid",
    "reserved_gpu_utilization",
    "serving_gpu_hours",
    "serving_utilization",
    "platform_fte",
    "engineer_hours_pipeline",
    "engineer_hours_oncall",
    "engineer_utilization",
    "engineer_wait_mean_hours",
    "engineer_preemptions",
    "review_backlog_mean",
    "review_wait_mean_days",
    "reviewer_utilization",
    "unstable_gpu",
    "unstable_engineers",
    "unstable_reviewers",
    "in_flight_at_horizon",
    "truncated",
    "events",
)
