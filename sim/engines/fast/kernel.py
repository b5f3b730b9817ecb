"""The fast engine: the whole model as numba kernels over flat arrays.

It is the SimPy reference engine (``sim/engines/reference/replication.py``, ``sim/engines/reference/adapter.py``,
``sim/engines/reference/incidents.py``, ``sim/engines/reference/resources.py``) rewritten as explicit state
machines, so that it reproduces it replication by replication:

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
  (``sim/core/ledger.py``), so equal events draw equal numbers.

The event loop (``_advance``) never creates or re-binds an array, so it is
compiled without numba's reference counting (``_nrt=False``); when a table needs
room it returns to ``_replication``, which grows it and calls again. Draws finish
a key prefix hashed once per replication (``sim.core.rng.key_prefixes``): the same
numbers as ``keyed_uniform`` for a fifth of the hashing. State is bounded by the live
processes, not by the horizon.

The Python wrapper :func:`run_kernel` packs a :class:`~models.compile.CompiledRun`
into two parameter arrays and runs replications in parallel with ``prange``.
Every replication writes only its own slice: results do not depend on thread
count or chunking.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from models.compile import MC, MV, SC, SV, CompiledRun
from models.schema import GPU_CLASSES
from sim.core.jit import cached_njit
from sim.core.ledger import CATEGORIES, accrue, month_of, tokens_per_adapter_year_m, year_of
from sim.core.metrics import METRICS
from sim.core.rng import FIXED, Stream, arrival_gap, event_ppf_shaped, exponential_time, key_prefixes, lognormal_shape, prefixed_uniform
from sim.engines.capacity import platform_fte_counted, reserved_gpus_paid, reserved_pool_size, serving_year

# -- parameter layout: floats P[...] and integers Q[...] per (model, replication) -----------
_P_NAMES = (
    ("regulated_share", "s"),
    ("refresh_interval_days", "s"),
    ("drift_rate_per_adapter_year", "s"),
    ("drift_quality_drop.mean", "s"),
    ("drift_quality_drop.cv", "s"),
    ("staleness_usd_per_point_day", "s"),
    ("downtime_usd_per_adapter_hour", "s"),
    ("base_model_releases_per_year", "s"),
    ("tokens_per_adapter_month_m", "s"),
    ("token_growth_per_year", "s"),
    ("training_tokens_per_run_m", "s"),
    ("incident_rate_per_deployment_year", "s"),
    ("incident_severity.probabilities.0", "s"),
    ("incident_severity.probabilities.1", "s"),
    ("incident_severity.probabilities.2", "s"),
    ("incident_severity.downtime_fraction.0", "s"),
    ("incident_severity.downtime_fraction.1", "s"),
    ("incident_severity.downtime_fraction.2", "s"),
    ("incident_severity.mttr_multiplier.0", "s"),
    ("incident_severity.mttr_multiplier.1", "s"),
    ("incident_severity.mttr_multiplier.2", "s"),
    ("after_hours_share", "s"),
    ("engineer_hours_per_day", "s"),
    ("reviewer_hours_per_day", "s"),
    ("working_hours_per_year", "s"),
    ("engineer_loaded_annual_usd", "s"),
    ("reviewer_loaded_annual_usd", "s"),
    ("gpu_reserved_usd_per_hour", "s"),
    ("gpu_on_demand_usd_per_hour", "s"),
    ("gpu_spot_usd_per_hour", "s"),
    ("storage_usd_per_gb_month", "s"),
    ("serving_gpu_usd_per_hour.h100", "s"),
    ("serving_gpu_usd_per_hour.a100", "s"),
    ("serving_gpu_usd_per_hour.a10g", "s"),
    ("serving_gpu_usd_per_hour.l4", "s"),
    ("serving_gpu_relative_throughput.h100", "s"),
    ("serving_gpu_relative_throughput.a100", "s"),
    ("serving_gpu_relative_throughput.a10g", "s"),
    ("serving_gpu_relative_throughput.l4", "s"),
    ("existing_platform_fte", "s"),
    ("existing_staff_cost_share", "s"),
    ("existing_reserved_gpus", "s"),
    ("existing_monitoring_share", "s"),
    ("training.data_prep_hours.mean", "m"),
    ("training.data_prep_hours.cv", "m"),
    ("training.gpu_hours.mean", "m"),
    ("training.gpu_hours.cv", "m"),
    ("training.failure_prob", "m"),
    ("training.checkpoint_interval_hours", "m"),
    ("training.checkpoint_gb", "m"),
    ("training.vendor_usd_per_1m_tokens", "m"),
    ("training.vendor_turnaround_days.mean", "m"),
    ("training.vendor_turnaround_days.cv", "m"),
    ("gpu_pool.spot_preemptions_per_gpu_hour", "m"),
    ("evaluation.gpu_hours.mean", "m"),
    ("evaluation.gpu_hours.cv", "m"),
    ("evaluation.engineer_hours.mean", "m"),
    ("evaluation.engineer_hours.cv", "m"),
    ("evaluation.failure_prob", "m"),
    ("evaluation.vendor_usd_per_run", "m"),
    ("serving.tokens_per_gpu_hour_m", "m"),
    ("serving.target_utilization", "m"),
    ("serving.vendor_usd_per_1m_tokens", "m"),
    ("serving.vendor_usd_per_deployment_hour", "m"),
    ("serving.sla_uptime", "m"),
    ("serving.sla_credit_fraction", "m"),
    ("oncall.incident_rate_multiplier", "m"),
    ("oncall.mttr_hours.mean", "m"),
    ("oncall.mttr_hours.cv", "m"),
    ("oncall.after_hours_multiplier", "m"),
    ("oncall.escalation_hours", "m"),
    ("platform.base_fte", "m"),
    ("platform.fte_per_adapter", "m"),
    ("platform.max_fte", "m"),
    ("platform.monitoring_build_usd", "m"),
    ("platform.monitoring_usd_per_year", "m"),
    ("platform.detection_delay_days.mean", "m"),
    ("platform.detection_delay_days.cv", "m"),
    ("platform.vendor_platform_usd_per_year", "m"),
    ("compliance.review_hours.mean", "m"),
    ("compliance.review_hours.cv", "m"),
    ("compliance.rejection_prob", "m"),
    ("compliance.rework_hours.mean", "m"),
    ("compliance.rework_hours.cv", "m"),
    ("compliance.annual_audit_hours", "m"),
    ("base_model.response_probability", "m"),
    ("base_model.migration_hours_per_adapter", "m"),
    ("promotion.bad_rollout_prob", "m"),
    ("promotion.rollback_hours.mean", "m"),
    ("promotion.rollback_hours.cv", "m"),
)
_Q_NAMES = (
    ("adapters", "s"),
    ("engineers", "s"),
    ("reviewers", "s"),
    ("arrivals", "s"),
    ("refresh_stagger", "s"),
    ("drift_quality_drop.family", "s"),
    ("training.owner", "m"),
    ("training.retention_runs", "m"),
    ("training.data_prep_hours.family", "m"),
    ("training.gpu_hours.family", "m"),
    ("training.vendor_turnaround_days.family", "m"),
    ("gpu_pool.reserved", "m"),
    ("gpu_pool.burst_max", "m"),
    ("gpu_pool.burst_tier", "m"),
    ("evaluation.gpu_hours.family", "m"),
    ("evaluation.engineer_hours.family", "m"),
    ("serving.owner", "m"),
    ("serving.mode", "m"),
    ("serving.min_replicas", "m"),
    ("serving.gpu_class", "m"),
    ("serving.scale_to_zero", "m"),
    ("serving.adapters_per_deployment", "m"),
    ("oncall.mttr_hours.family", "m"),
    ("platform.detection_delay_days.family", "m"),
    ("compliance.review_hours.family", "m"),
    ("compliance.rework_hours.family", "m"),
    ("promotion.rollback_hours.family", "m"),
)

(
    P_REGULATED,
    P_INTERVAL,
    P_DRIFT_RATE,
    P_DROP_MEAN,
    P_DROP_CV,
    P_STALE_USD,
    P_DOWN_USD,
    P_RELEASE_RATE,
    P_TOKENS,
    P_GROWTH,
    P_TRAIN_TOKENS,
    P_INCIDENT_RATE,
    P_SEV_P0,
    P_SEV_P1,
    P_SEV_P2,
    P_SEV_DOWN0,
    P_SEV_DOWN1,
    P_SEV_DOWN2,
    P_SEV_MTTR0,
    P_SEV_MTTR1,
    P_SEV_MTTR2,
    P_AFTER_SHARE,
    P_ENG_HPD,
    P_REV_HPD,
    P_WORK_HOURS,
    P_ENG_ANNUAL,
    P_REV_ANNUAL,
    P_GPU_RESERVED,
    P_GPU_ON_DEMAND,
    P_GPU_SPOT,
    P_STORAGE,
    P_SERVE_PRICE_H100,
    P_SERVE_PRICE_A100,
    P_SERVE_PRICE_A10G,
    P_SERVE_PRICE_L4,
    P_SERVE_REL_H100,
    P_SERVE_REL_A100,
    P_SERVE_REL_A10G,
    P_SERVE_REL_L4,
    P_EXISTING_FTE,
    P_EXISTING_SHARE,
    P_EXISTING_GPUS,
    P_EXISTING_MONITORING,
    P_PREP_MEAN,
    P_PREP_CV,
    P_TRAIN_MEAN,
    P_TRAIN_CV,
    P_TRAIN_FAIL,
    P_CKPT_HOURS,
    P_CKPT_GB,
    P_VENDOR_TRAIN_USD,
    P_TURN_MEAN,
    P_TURN_CV,
    P_SPOT_RATE,
    P_EVAL_GPU_MEAN,
    P_EVAL_GPU_CV,
    P_EVAL_HOURS_MEAN,
    P_EVAL_HOURS_CV,
    P_EVAL_FAIL,
    P_EVAL_VENDOR_USD,
    P_SERVE_TPH,
    P_SERVE_UTIL,
    P_SERVE_TOKEN_USD,
    P_SERVE_DEPLOY_USD,
    P_SLA_UPTIME,
    P_SLA_CREDIT,
    P_INC_MULT,
    P_MTTR_MEAN,
    P_MTTR_CV,
    P_AFTER_MULT,
    P_ESCALATION,
    P_BASE_FTE,
    P_FTE_PER_ADAPTER,
    P_MAX_FTE,
    P_MON_BUILD,
    P_MON_YEAR,
    P_DETECT_MEAN,
    P_DETECT_CV,
    P_VENDOR_PLATFORM,
    P_REVIEW_MEAN,
    P_REVIEW_CV,
    P_REJECT,
    P_REWORK_MEAN,
    P_REWORK_CV,
    P_AUDIT_HOURS,
    P_RESPONSE,
    P_MIGRATION,
    P_BAD_ROLLOUT,
    P_ROLLBACK_MEAN,
    P_ROLLBACK_CV,
) = range(len(_P_NAMES))
(
    Q_ADAPTERS,
    Q_ENGINEERS,
    Q_REVIEWERS,
    Q_DETERMINISTIC,
    Q_STAGGER,
    Q_DROP_FAM,
    Q_TRAIN_OWNER,
    Q_RETENTION,
    Q_PREP_FAM,
    Q_TRAIN_FAM,
    Q_TURN_FAM,
    Q_RESERVED,
    Q_BURST,
    Q_SPOT,
    Q_EVAL_GPU_FAM,
    Q_EVAL_HOURS_FAM,
    Q_SERVE_OWNER,
    Q_SERVE_MODE,
    Q_MIN_REPLICAS,
    Q_GPU_CLASS,
    Q_SCALE_TO_ZERO,
    Q_APD,
    Q_MTTR_FAM,
    Q_DETECT_FAM,
    Q_REVIEW_FAM,
    Q_REWORK_FAM,
    Q_ROLLBACK_FAM,
) = range(len(_Q_NAMES))

# ledger categories and metrics, by position in sim.core.ledger.CATEGORIES / sim.engines.reference.replication.METRICS
C_GPU_TRAINING, C_GPU_SERVING, C_STORAGE, C_MONITORING, C_LABOR_PLATFORM, C_LABOR_PIPELINE = range(6)
C_LABOR_ONCALL, C_LABOR_COMPLIANCE, C_VENDOR_TRAINING, C_VENDOR_INFERENCE, C_VENDOR_PLATFORM = range(6, 11)
C_SLA_CREDIT, C_DOWNTIME, C_STALENESS = range(11, 14)
(
    M_DRIFT_EVENTS,
    M_RELEASES,
    M_REQUESTED,
    M_MERGED,
    M_COMPLETED,
    M_TRAINING_RUNS,
    M_TRAINING_FAILURES,
    M_SPOT_PREEMPTIONS,
    M_EVAL_FAILURES,
    M_REJECTIONS,
    M_ROLLBACKS,
    M_FORCED,
    M_INCIDENTS,
    M_SLA_BREACHES,
    M_DOWNTIME_ADAPTER_HOURS,
    M_STALE_DAYS,
    M_DEFICIT_DAYS,
    M_GPU_HOURS,
    M_GPU_UTIL,
    M_GPU_BUSY,
    M_GPU_QUEUE,
    M_GPU_WAIT,
    M_RESERVED_PAID,
    M_RESERVED_UTIL,
    M_SERVING_GPU_HOURS,
    M_SERVING_UTIL,
    M_PLATFORM_FTE,
    M_ENG_HOURS_PIPELINE,
    M_ENG_HOURS_ONCALL,
    M_ENG_UTIL,
    M_ENG_WAIT,
    M_ENG_PREEMPTIONS,
    M_REVIEW_BACKLOG,
    M_REVIEW_WAIT,
    M_REVIEW_UTIL,
    M_UNSTABLE_GPU,
    M_UNSTABLE_ENG,
    M_UNSTABLE_REVIEW,
    M_IN_FLIGHT,
    M_TRUNCATED,
    M_EVENTS,
) = range(41)

# keyed-random streams as plain module constants (numba reads these as compile-time ints)
S_DATA_PREP = Stream.DATA_PREP
S_DETECTION_DELAY = Stream.DETECTION_DELAY
S_DRIFT_DROP = Stream.DRIFT_DROP
S_DRIFT_GAP = Stream.DRIFT_GAP
S_EVAL_FAIL = Stream.EVAL_FAIL
S_EVAL_GPU = Stream.EVAL_GPU
S_EVAL_HOURS = Stream.EVAL_HOURS
S_INCIDENT_AFTER_HOURS = Stream.INCIDENT_AFTER_HOURS
S_INCIDENT_GAP = Stream.INCIDENT_GAP
S_INCIDENT_MTTR = Stream.INCIDENT_MTTR
S_INCIDENT_SEVERITY = Stream.INCIDENT_SEVERITY
S_REGULATED = Stream.REGULATED
S_RELEASE_GAP = Stream.RELEASE_GAP
S_RELEASE_RESPONSE = Stream.RELEASE_RESPONSE
S_REVIEW_HOURS = Stream.REVIEW_HOURS
S_REVIEW_REJECT = Stream.REVIEW_REJECT
S_REWORK_HOURS = Stream.REWORK_HOURS
S_ROLLBACK_HOURS = Stream.ROLLBACK_HOURS
S_ROLLOUT_BAD = Stream.ROLLOUT_BAD
S_SPOT_PREEMPT = Stream.SPOT_PREEMPT
S_TRAIN_FAIL = Stream.TRAIN_FAIL
S_TRAIN_FAIL_POINT = Stream.TRAIN_FAIL_POINT
S_TRAIN_WORK = Stream.TRAIN_WORK
S_VENDOR_TURNAROUND = Stream.VENDOR_TURNAROUND
N_STREAMS = 1 + max(v for k, v in vars(Stream).items() if k.isupper())

# event kinds, priorities, process kinds
H_START, H_RESUME, H_INTERRUPT, H_CONTINUE = 0, 1, 2, 3
URGENT, NORMAL = 0, 1
K_DRIFT, K_DETECT, K_SCHEDULE, K_RELEASES, K_FAULTS, K_INCIDENT, K_SLA, K_REFRESH = range(8)
INCIDENT_PRIORITY, PIPELINE_PRIORITY = 0, 1
ACT_PIPELINE, ACT_ONCALL = 0, 1
TEAM = 0
SHARED = 1
# process float slots
F_A, F_B, F_C, F_D, F_E = range(5)
NF = 5
# a process's integer slots, in one flat table: process pid's slot R is pr[pid * NPR + R]
R_KIND, R_PC, R_ENT, R_VER, R_K, R_A, R_IN_WORK, R_WSTATE, R_WRET, R_WACT, R_WPRIO, R_WORDER = range(12)
NPR = 12
# engineer-work slots
W_REMAINING, W_START, W_HOURS, W_PREMIUM, W_ASKED = range(NF, NF + 5)
NW = 5
NPF = NF + NW  # a process's float slots (own, then engineer work): pf[pid * NPF + F]
# an adapter's slots: adapter i's integer slot A is ai[i * NAI + A], its float slot af[i * NAF + A]
AD_PROMOTIONS, AD_IN_FLIGHT, AD_CHECKPOINTS, AD_REFRESHES, AD_TRAIN, AD_SPOT, AD_EVALS, AD_REVIEWS, AD_PROMO_K, AD_REGULATED = range(10)
NAI = 10
AD_DEFICIT, AD_SINCE = range(2)
NAF = 2
# monitor slots: busy, queued, last, busy_area, queue_area, wait_total, served
MB, MQ, ML, MBA, MQA, MWT, MS = range(7)

_DPM = 365.0 / 12.0
N_GPU_CLASSES = len(GPU_CLASSES)  # the serving price and throughput columns of each class, in that order
ADVANCE_DONE, ADVANCE_TRUNCATED, ADVANCE_GROW = 0, 1, 2
# positions of the loop counters in the `st` array shared by _replication and _advance
ST_HN, ST_SEQ, ST_NPROCS, ST_NFREE = 0, 1, 2, 3
# heads and tails of the two now-queues (events due at the current time), indexed by priority
ST_NOWQ_HEAD, ST_NOWQ_TAIL = 13, 15


def _check_layout() -> None:
    """The kernel's fixed positions must match sim.core.ledger and sim.engines.reference.replication."""
    expected_c = ("gpu_training", "gpu_serving", "storage", "monitoring", "labor_platform", "labor_pipeline", "labor_oncall")
    assert CATEGORIES[:7] == expected_c and CATEGORIES[13] == "staleness" and len(CATEGORIES) == 14
    assert METRICS[M_EVENTS] == "events" and METRICS[M_GPU_WAIT] == "gpu_wait_mean_hours" and len(METRICS) == 41
    assert METRICS[M_RESERVED_PAID] == "reserved_gpus_paid" and METRICS[M_PLATFORM_FTE] == "platform_fte"
    assert METRICS[M_DOWNTIME_ADAPTER_HOURS] == "downtime_adapter_hours"
    classes = tuple(name.split(".")[1] for name, _ in _P_NAMES[P_SERVE_PRICE_H100 : P_SERVE_PRICE_H100 + N_GPU_CLASSES])
    assert classes == GPU_CLASSES and _P_NAMES[P_SERVE_REL_H100][0] == f"serving_gpu_relative_throughput.{GPU_CLASSES[0]}"
    assert METRICS[M_REVIEW_UTIL] == "reviewer_utilization" and METRICS[M_DRIFT_EVENTS] == "drift_events"


def pack_parameters(run: CompiledRun) -> tuple[np.ndarray, np.ndarray]:
    """Float parameters ``[models, replications, NP]`` and integer ones ``[models, NQ]``."""
    _check_layout()
    n_models, n_reps = run.n_models, run.replications.shape[0]
    floats = np.empty((n_models, n_reps, len(_P_NAMES)))
    for j, (name, where) in enumerate(_P_NAMES):
        floats[:, :, j] = run.scenario_values[None, :, SV[name]] if where == "s" else run.model_values[:, :, MV[name]]
    ints = np.empty((n_models, len(_Q_NAMES)), dtype=np.int64)
    for j, (name, where) in enumerate(_Q_NAMES):
        ints[:, j] = run.scenario_codes[SC[name]] if where == "s" else run.model_codes[:, MC[name]]
    return floats, ints


# -- small pure helpers -------------------------------------------------------------------
PID_BITS = 26  # up to 67 million live processes
PID_MASK = (1 << PID_BITS) - 1
VER_MASK = (1 << 36) - 1  # versions compare modulo 2**36: a stale event never lives that long


# Heap slots are unsigned: numba then indexes without the wrap-around of negative indices,
# which costs a shift, a mask and a reload of the array length on every access.
_U0, _U1, _U2 = np.uint64(0), np.uint64(1), np.uint64(2)


@cached_njit(inline="always")
def _sift_up(ht, hk, hl, i, t, key, payload):
    """Put an entry into the free slot ``i`` (unsigned) of a heap, moving later parents down."""
    while i > _U0:
        parent = (i - _U1) >> _U1
        pt = ht[parent]
        if t < pt or (t == pt and key < hk[parent]):
            ht[i] = pt
            hk[i] = hk[parent]
            hl[i] = hl[parent]
            i = parent
        else:
            break
    ht[i] = t
    hk[i] = key
    hl[i] = payload


@cached_njit(inline="always")
def _order_key(prio, seq):
    """An event's place among events at the same time: priority first, then sequence (SimPy's eid)."""
    return (prio << 56) | seq


@cached_njit(inline="always")
def _payload(pid, ver, how):
    """What an event carries: the process, its version when scheduled, and how it resumes."""
    return ((ver & VER_MASK) << (PID_BITS + 2)) | (pid << 2) | how


@cached_njit(inline="always")
def _heap_push(ht, hk, hl, n, t, prio, seq, pid, ver, how):
    """Push an event: ordered by (time, priority, sequence), as SimPy's (time, priority, eid)."""
    _sift_up(ht, hk, hl, np.uint64(n), t, _order_key(prio, seq), _payload(pid, ver, how))


@cached_njit(inline="always")
def _heap_pop(ht, hk, hl, n):
    """Remove the root of a heap of size n >= 1 (the caller reads it first).

    Floyd's variant: the hole left by the root sinks to a leaf along the smaller
    children (one comparison a level), then the former last entry rises from there.
    The pop order is the same as any heap's: (time, priority, sequence) is a total order.
    """
    last = np.uint64(n - 1)
    i = _U0
    while True:
        child = _U2 * i + _U1
        if child >= last:
            break
        right = child + _U1
        if right < last and (ht[right] < ht[child] or (ht[right] == ht[child] and hk[right] < hk[child])):
            child = right
        ht[i] = ht[child]
        hk[i] = hk[child]
        hl[i] = hl[child]
        i = child
    _sift_up(ht, hk, hl, i, ht[last], hk[last], hl[last])


# per-event distributions whose lognormal shape is computed once per replication
SHAPED_CVS = (
    P_DROP_CV,
    P_PREP_CV,
    P_TRAIN_CV,
    P_TURN_CV,
    P_EVAL_GPU_CV,
    P_EVAL_HOURS_CV,
    P_MTTR_CV,
    P_DETECT_CV,
    P_REVIEW_CV,
    P_REWORK_CV,
    P_ROLLBACK_CV,
)


@cached_njit(inline="always")
def _event(prefix, occurrence, family, mean, cv, shape, d):
    """``keyed_event`` from a key prefix, with the lognormal shape of distribution ``d`` precomputed."""
    if family == FIXED or mean <= 0.0:
        return mean
    u = prefixed_uniform(prefix, occurrence)
    return event_ppf_shaped(family, mean, cv, shape[d, 0], shape[d, 1], u)


@cached_njit(inline="always")
def _push(ht, hk, hl, st, t, prio, pid, ver, how):
    """Schedule an event and advance the heap size and sequence counters in ``st``."""
    _heap_push(ht, hk, hl, st[ST_HN], t, prio, st[ST_SEQ], pid, ver, how)
    st[ST_HN] += 1
    st[ST_SEQ] += 1


@cached_njit(inline="always")
def _push_now(nowq, st, prio, pid, ver, how):
    """Schedule an event at the current time: it joins the now-queue of its priority.

    Events due now come out in sequence order within a priority, so a FIFO per
    priority holds them in heap order without sifting; the main loop takes the
    earlier of a queue's head and the heap's root. A third of all events are
    these (process starts, hand-overs of a GPU, engineer or reviewer, interrupts).
    """
    seqs, payloads = nowq
    j = 2 * st[ST_NOWQ_TAIL + prio] + prio
    seqs[j] = st[ST_SEQ]
    payloads[j] = _payload(pid, ver, how)
    st[ST_NOWQ_TAIL + prio] += 1
    st[ST_SEQ] += 1


@cached_njit(inline="always")
def _nowq_short(st, n_adapters, nowq):
    """Whether a now-queue may lack room for one more event's pushes: up to one start per
    adapter (a forced release) into URGENT, a few hand-overs into NORMAL."""
    room = nowq[0].shape[0] >> 1
    return st[ST_NOWQ_TAIL + URGENT] + n_adapters + 8 >= room or st[ST_NOWQ_TAIL + NORMAL] + 8 >= room


@cached_njit(inline="always")
def _tables_short(st, n_adapters, nowq, cap, hcap, gq_tail, gq_room, rq_tail, rq_room):
    """Whether a table may lack room for what one more event can add (process slots, heap,
    now-queues, free ids, GPU and reviewer queues): then ``_advance`` returns to grow them."""
    return (
        st[ST_NPROCS] + n_adapters + 4 >= cap
        or st[ST_HN] + 2 * n_adapters + 8 >= hcap
        or _nowq_short(st, n_adapters, nowq)
        or st[ST_NFREE] + 1 >= cap
        or gq_tail + 1 >= gq_room
        or rq_tail + 1 >= rq_room
    )


@cached_njit(inline="always")
def _spawn(kind, entity, k, a, f_a, now, st, procs, nowq):
    """Start a process now (SimPy: ``env.process``, an URGENT Initialize event); reuse a free id."""
    pr, pf, free_ids = procs
    if st[ST_NFREE] > 0:
        st[ST_NFREE] -= 1
        pid = free_ids[st[ST_NFREE]]
    else:
        pid = st[ST_NPROCS]
        st[ST_NPROCS] += 1
    r = pid * NPR
    pr[r + R_KIND] = kind
    pr[r + R_ENT] = entity
    pr[r + R_PC] = 0
    pr[r + R_K] = k
    pr[r + R_A] = a
    pf[pid * NPF + F_A] = f_a
    pr[r + R_IN_WORK] = 0
    _push_now(nowq, st, URGENT, pid, pr[r + R_VER], H_START)


@cached_njit(inline="always")
def _request_refresh(i, extra_hours, now, out, ai, st, procs, nowq):
    """``Adapter.request_refresh``: merged into a refresh in flight, or a new refresh process."""
    out[M_REQUESTED] += 1.0
    if ai[i * NAI + AD_IN_FLIGHT]:
        out[M_MERGED] += 1.0
        return
    ai[i * NAI + AD_IN_FLIGHT] = True
    _spawn(K_REFRESH, i, 0, 0, extra_hours, now, st, procs, nowq)


@cached_njit(inline="always")
def _start_work(pid, hours, days, priority, activity, premium, return_pc, procs):
    """Enter the engineer-work subroutine (``EngineerPool.work`` + ``Replication.engineer_work``)."""
    pr, pf, _ = procs
    r = pid * NPR
    pr[r + R_IN_WORK] = 1
    pr[r + R_WSTATE] = 0
    pr[r + R_WPRIO] = priority
    pr[r + R_WACT] = activity
    f = pid * NPF
    pf[f + W_HOURS] = hours
    pf[f + W_REMAINING] = days
    pf[f + W_PREMIUM] = premium
    pr[r + R_WRET] = return_pc


@cached_njit(inline="always")
def _gpu_acquire(pid, now, n_gpus, gpu_busy, gpu_mon, pr, gq_pid, gq_asked, gq_tail):
    """``GpuPool.acquire``: the lowest-numbered free GPU now (into the process's ``R_K`` slot), else the FIFO queue.

    Returns whether it was granted and the queue's new tail.
    """
    for g in range(n_gpus):
        if not gpu_busy[g]:
            gpu_busy[g] = True
            _monitor(gpu_mon, now, 1.0, 0.0)
            gpu_mon[MWT] += 0.0
            gpu_mon[MS] += 1.0
            pr[pid * NPR + R_K] = g
            return True, gq_tail
    _monitor(gpu_mon, now, 0.0, 1.0)
    gq_pid[gq_tail] = pid
    gq_asked[gq_tail] = now
    return False, gq_tail + 1


@cached_njit(inline="always")
def _set_deficit(i, value, now, af, out, usd, usd_per_point_day):
    """``Adapter._set_deficit``: accrue staleness at the old deficit up to now, then change it."""
    if af[i * NAF + AD_DEFICIT] > 0.0 and now > af[i * NAF + AD_SINCE]:
        out[M_STALE_DAYS] += now - af[i * NAF + AD_SINCE]
        out[M_DEFICIT_DAYS] += af[i * NAF + AD_DEFICIT] * (now - af[i * NAF + AD_SINCE])
        accrue(usd, af[i * NAF + AD_SINCE], now, af[i * NAF + AD_DEFICIT] * usd_per_point_day, C_STALENESS)
    af[i * NAF + AD_DEFICIT] = value
    af[i * NAF + AD_SINCE] = now


@cached_njit()
def _grow_f(a, n):
    b = np.empty(n, a.dtype)
    b[: a.shape[0]] = a
    return b


@cached_njit(inline="always")
def _monitor(mon, now, busy, queued):
    mon[MBA] += mon[MB] * (now - mon[ML])
    mon[MQA] += mon[MQ] * (now - mon[ML])
    mon[ML] = now
    mon[MB] += busy
    mon[MQ] += queued


@cached_njit(inline="always")
def _book(usd, t, category, amount):
    if amount != 0.0:
        usd[year_of(t, usd.shape[0]), category] += amount


@cached_njit()
def _monitor_summary(mon, horizon, capacity, out, i_util, i_busy, i_queue, i_wait, i_unstable, wait_scale):
    mon[MBA] += mon[MB] * (horizon - mon[ML])
    mon[MQA] += mon[MQ] * (horizon - mon[ML])
    mon[ML] = horizon
    # A run stopped at the event cap at time 0 has no interval to average over: the
    # state at that instant is its own average (SimPy's Monitor.summary does the same).
    busy_mean = mon[MBA] / horizon if horizon > 0 else mon[MB]
    utilization = busy_mean / capacity if capacity else 0.0
    if i_util >= 0:
        out[i_util] = utilization
    if i_busy >= 0:
        out[i_busy] = busy_mean
    if i_queue >= 0:
        out[i_queue] = mon[MQA] / horizon if horizon > 0 else mon[MQ]
    if i_wait >= 0:
        out[i_wait] = (mon[MWT] / mon[MS] if mon[MS] else 0.0) * wait_scale
    out[i_unstable] = 1.0 if (mon[MQ] > 0 and (capacity == 0 or utilization >= 0.98)) else 0.0


# -- one replication of one operating model -------------------------------------------------
@cached_njit(_nrt=False)
def _advance(
    P, Q, kp, max_events, horizon, months, usd, out, adapters, d_size, vendor_fee, sla_down, shape, procs, heap, nowq, pools, st, sf
):
    """Process events until the horizon, the event cap, or a pool or table needs to grow.

    No array is created or re-bound in here, so it runs without reference counting
    (``_nrt=False``): with it, every inlined helper taking an array cost two atomic operations.
    """
    ai, af = adapters
    pr, pf, free_ids = procs
    ht, hk, hl = heap
    now_seqs, now_payloads = nowq  # entry j of priority p at 2 * j + p
    (
        gpu_busy,
        gq_pid,
        gq_asked,
        rq_pid,
        rq_asked,
        eu_pid,
        eu_prio,
        eu_asked,
        ew_pid,
        ew_prio,
        ew_asked,
        ew_order,
        gpu_mon,
        eng_mon,
        rev_mon,
    ) = pools
    gq_head = st[4]
    gq_tail = st[5]
    rq_head = st[6]
    rq_tail = st[7]
    reviewers_idle = st[8]
    n_users = st[9]
    n_ewait = st[10]
    eng_arrivals = st[11]
    events = st[12]
    now = sf[0]
    storage_gb = sf[1]
    storage_since = sf[2]
    n_adapters = Q[Q_ADAPTERS]
    deterministic = Q[Q_DETERMINISTIC] == 1
    engineer_rate = P[P_ENG_ANNUAL] / P[P_WORK_HOURS]
    reviewer_rate = P[P_REV_ANNUAL] / P[P_WORK_HOURS]
    sev_cum0 = P[P_SEV_P0]
    sev_cum1 = P[P_SEV_P0] + P[P_SEV_P1]
    team_serving = Q[Q_SERVE_OWNER] == TEAM
    spot = Q[Q_SPOT] == 1
    n_reserved = reserved_pool_size(Q[Q_RESERVED], Q[Q_BURST], int(P[P_EXISTING_GPUS]))
    n_gpus = n_reserved + Q[Q_BURST]
    n_engineers = Q[Q_ENGINEERS]
    sla_applies = (not team_serving) and P[P_SLA_CREDIT] > 0.0
    cap = free_ids.shape[0]
    hcap = ht.shape[0]
    status = ADVANCE_DONE
    while True:
        # the next event: the heap's root, or the head of the first non-empty now-queue (due now,
        # in sequence order) unless the root is due now and comes before it
        source = -1  # the heap
        q = URGENT if st[ST_NOWQ_TAIL + URGENT] > st[ST_NOWQ_HEAD + URGENT] else NORMAL
        if st[ST_NOWQ_TAIL + q] > st[ST_NOWQ_HEAD + q]:
            source = q
            if st[ST_HN] > 0 and ht[0] == now and hk[0] < _order_key(q, now_seqs[2 * st[ST_NOWQ_HEAD + q] + q]):
                source = -1
        if source < 0 and (st[ST_HN] == 0 or ht[0] >= horizon):
            break
        if _tables_short(st, n_adapters, nowq, cap, hcap, gq_tail, gq_pid.shape[0], rq_tail, rq_pid.shape[0]):
            status = ADVANCE_GROW
            break
        if source < 0:
            now = ht[0]
            payload = hl[0]
            _heap_pop(ht, hk, hl, st[ST_HN])
            st[ST_HN] -= 1
        else:
            head = st[ST_NOWQ_HEAD + source]
            payload = now_payloads[2 * head + source]
            if head + 1 == st[ST_NOWQ_TAIL + source]:  # emptied: start again at the front
                st[ST_NOWQ_HEAD + source] = 0
                st[ST_NOWQ_TAIL + source] = 0
            else:
                st[ST_NOWQ_HEAD + source] = head + 1
        pid = (payload >> 2) & PID_MASK
        ri = pid * NPR  # this process's slots in the integer and float tables
        fi = pid * NPF
        ver = payload >> (PID_BITS + 2)
        how = payload & 3
        events += 1
        if (pr[ri + R_VER] & VER_MASK) == ver:
            kind = pr[ri + R_KIND]
            i = pr[ri + R_ENT]
            own_t = -1.0  # time of this process's own next event, if it pushed one
            while True:
                ended = False
                waiting = False
                while not (ended or waiting):
                    # ---- engineer work, a subroutine of the pipeline and incidents ----
                    if pr[ri + R_IN_WORK]:
                        state = pr[ri + R_WSTATE]
                        if state == 0:  # ask for an engineer
                            prio = pr[ri + R_WPRIO]
                            order = eng_arrivals
                            eng_arrivals += 1
                            pf[fi + W_ASKED] = now
                            pr[ri + R_WORDER] = order
                            pf[fi + W_START] = math.nan
                            granted = False
                            if n_users < n_engineers:
                                granted = True
                            elif prio == INCIDENT_PRIORITY:
                                # victim: the pipeline user whose request is the latest, first in grant order
                                victim = -1
                                latest = -math.inf
                                for u in range(n_users):
                                    if eu_prio[u] > INCIDENT_PRIORITY and eu_asked[u] > latest:
                                        latest = eu_asked[u]
                                        victim = u
                                if victim >= 0:
                                    vpid = eu_pid[victim]
                                    for u in range(victim, n_users - 1):
                                        eu_pid[u] = eu_pid[u + 1]
                                        eu_prio[u] = eu_prio[u + 1]
                                        eu_asked[u] = eu_asked[u + 1]
                                    n_users -= 1
                                    _monitor(eng_mon, now, -1.0, 0.0)
                                    out[M_ENG_PREEMPTIONS] += 1.0
                                    pr[vpid * NPR + R_VER] += 1
                                    _push_now(nowq, st, URGENT, vpid, pr[vpid * NPR + R_VER], H_INTERRUPT)
                                    granted = True
                            if granted:
                                eu_pid[n_users] = pid
                                eu_prio[n_users] = prio
                                eu_asked[n_users] = now
                                n_users += 1
                                _monitor(eng_mon, now, 1.0, 0.0)
                                eng_mon[MWT] += 0.0
                                eng_mon[MS] += 1.0
                                own_t = now
                            else:
                                _monitor(eng_mon, now, 0.0, 1.0)
                                pos = n_ewait
                                while pos > 0:
                                    q = pos - 1
                                    later = ew_prio[q] > prio or (
                                        ew_prio[q] == prio and (ew_asked[q] > now or (ew_asked[q] == now and ew_order[q] > order))
                                    )
                                    if not later:
                                        break
                                    pos = q
                                for q in range(n_ewait, pos, -1):
                                    ew_pid[q] = ew_pid[q - 1]
                                    ew_prio[q] = ew_prio[q - 1]
                                    ew_asked[q] = ew_asked[q - 1]
                                    ew_order[q] = ew_order[q - 1]
                                ew_pid[pos] = pid
                                ew_prio[pos] = prio
                                ew_asked[pos] = now
                                ew_order[pos] = order
                                n_ewait += 1
                            pr[ri + R_WSTATE] = 1
                            waiting = True
                        elif state == 1:  # waiting for the grant
                            if how == H_INTERRUPT:
                                pr[ri + R_WSTATE] = 0  # granted and pre-empted in the same instant: ask again
                                how = H_CONTINUE
                            else:
                                pf[fi + W_START] = now
                                own_t = now + pf[fi + W_REMAINING]
                                pr[ri + R_WSTATE] = 2
                                waiting = True
                        else:  # working
                            finished = False
                            if how == H_INTERRUPT:
                                pf[fi + W_REMAINING] -= now - pf[fi + W_START]
                                if pf[fi + W_REMAINING] > 0.0:
                                    pr[ri + R_WSTATE] = 0
                                    how = H_CONTINUE
                                else:
                                    finished = True
                            else:
                                pf[fi + W_REMAINING] = 0.0
                                # release the engineer; the first waiting request takes it
                                for u in range(n_users):
                                    if eu_pid[u] == pid:
                                        for v in range(u, n_users - 1):
                                            eu_pid[v] = eu_pid[v + 1]
                                            eu_prio[v] = eu_prio[v + 1]
                                            eu_asked[v] = eu_asked[v + 1]
                                        n_users -= 1
                                        break
                                _monitor(eng_mon, now, -1.0, 0.0)
                                if n_ewait > 0:
                                    head = ew_pid[0]
                                    head_prio = ew_prio[0]
                                    head_asked = ew_asked[0]
                                    for q in range(n_ewait - 1):
                                        ew_pid[q] = ew_pid[q + 1]
                                        ew_prio[q] = ew_prio[q + 1]
                                        ew_asked[q] = ew_asked[q + 1]
                                        ew_order[q] = ew_order[q + 1]
                                    n_ewait -= 1
                                    _monitor(eng_mon, now, 0.0, -1.0)
                                    eu_pid[n_users] = head
                                    eu_prio[n_users] = head_prio
                                    eu_asked[n_users] = head_asked
                                    n_users += 1
                                    _monitor(eng_mon, now, 1.0, 0.0)
                                    eng_mon[MWT] += now - head_asked
                                    eng_mon[MS] += 1.0
                                    _push_now(nowq, st, NORMAL, head, pr[head * NPR + R_VER], H_RESUME)
                                finished = True
                            if finished:
                                hours = pf[fi + W_HOURS]
                                if pr[ri + R_WACT] == ACT_ONCALL:
                                    _book(usd, now, C_LABOR_ONCALL, hours * engineer_rate * pf[fi + W_PREMIUM])
                                    out[M_ENG_HOURS_ONCALL] += hours
                                else:
                                    _book(usd, now, C_LABOR_PIPELINE, hours * engineer_rate * pf[fi + W_PREMIUM])
                                    out[M_ENG_HOURS_PIPELINE] += hours
                                pr[ri + R_IN_WORK] = False
                                pr[ri + R_PC] = pr[ri + R_WRET]
                                how = H_CONTINUE
                        continue

                    pc = pr[ri + R_PC]
                    # each branch either sets `waiting` (an event is pending), `ended`, or moves pc on
                    if kind == K_DRIFT:
                        rate = P[P_DRIFT_RATE]
                        if pc == 0:
                            if rate <= 0.0:
                                ended = True
                                continue
                            pr[ri + R_K] = 0
                        else:
                            k = pr[ri + R_K]
                            drop = _event(kp[S_DRIFT_DROP, i], k, Q[Q_DROP_FAM], P[P_DROP_MEAN], P[P_DROP_CV], shape, 0)
                            out[M_DRIFT_EVENTS] += 1.0
                            # set deficit (accrue staleness first)
                            _set_deficit(i, af[i * NAF + AD_DEFICIT] + drop, now, af, out, usd, P[P_STALE_USD])
                            # start detection
                            _spawn(K_DETECT, i, k, ai[i * NAI + AD_PROMOTIONS], 0.0, now, st, procs, nowq)
                            pr[ri + R_K] = k + 1
                        u = 0.5 if deterministic else prefixed_uniform(kp[S_DRIFT_GAP, i], pr[ri + R_K])
                        gap = arrival_gap(u, rate, deterministic)
                        own_t = now + gap
                        pr[ri + R_PC] = 1
                        waiting = True

                    elif kind == K_DETECT:
                        if pc == 0:
                            k = pr[ri + R_K]
                            delay = _event(kp[S_DETECTION_DELAY, i], k, Q[Q_DETECT_FAM], P[P_DETECT_MEAN], P[P_DETECT_CV], shape, 7)
                            pr[ri + R_PC] = 1
                            if delay > 0.0:
                                own_t = now + delay
                                waiting = True
                            continue
                        ended = True
                        if ai[i * NAI + AD_PROMOTIONS] != pr[ri + R_A]:
                            continue
                        # request a refresh (reason: drift)
                        _request_refresh(i, 0.0, now, out, ai, st, procs, nowq)

                    elif kind == K_SCHEDULE:
                        interval = P[P_INTERVAL]
                        if pc == 0:
                            if interval <= 0.0:
                                ended = True
                                continue
                            pr[ri + R_K] = 1
                        else:
                            _request_refresh(i, 0.0, now, out, ai, st, procs, nowq)
                            pr[ri + R_K] += 1
                        offset = interval * i / n_adapters if Q[Q_STAGGER] == 1 else 0.0
                        due = interval * pr[ri + R_K] + offset
                        own_t = now + (due - now)
                        pr[ri + R_PC] = 1
                        waiting = True

                    elif kind == K_RELEASES:
                        rate = P[P_RELEASE_RATE]
                        if pc == 0:
                            if rate <= 0.0:
                                ended = True
                                continue
                            pr[ri + R_K] = 0
                        else:
                            k = pr[ri + R_K]
                            out[M_RELEASES] += 1.0
                            if prefixed_uniform(kp[S_RELEASE_RESPONSE, 0], k) < P[P_RESPONSE]:
                                out[M_FORCED] += 1.0
                                for a in range(n_adapters):
                                    _request_refresh(a, P[P_MIGRATION], now, out, ai, st, procs, nowq)
                            pr[ri + R_K] = k + 1
                        u = 0.5 if deterministic else prefixed_uniform(kp[S_RELEASE_GAP, 0], pr[ri + R_K])
                        gap = arrival_gap(u, rate, deterministic)
                        own_t = now + gap
                        pr[ri + R_PC] = 1
                        waiting = True

                    elif kind == K_FAULTS:
                        rate = P[P_INCIDENT_RATE] * P[P_INC_MULT]
                        if pc == 0:
                            if rate <= 0.0:
                                ended = True
                                continue
                            pr[ri + R_K] = 0
                        else:
                            k = pr[ri + R_K]
                            _spawn(K_INCIDENT, i, k, 0, 0.0, now, st, procs, nowq)
                            pr[ri + R_K] = k + 1
                        u = 0.5 if deterministic else prefixed_uniform(kp[S_INCIDENT_GAP, i], pr[ri + R_K])
                        gap = arrival_gap(u, rate, deterministic)
                        own_t = now + gap
                        pr[ri + R_PC] = 1
                        waiting = True

                    elif kind == K_INCIDENT:
                        k = pr[ri + R_K]
                        if pc == 0:
                            u = prefixed_uniform(kp[S_INCIDENT_SEVERITY, i], k)
                            severity = 0 if u < sev_cum0 else (1 if u < sev_cum1 else 2)
                            multiplier = P[P_SEV_MTTR0 + severity]
                            mttr = _event(kp[S_INCIDENT_MTTR, i], k, Q[Q_MTTR_FAM], P[P_MTTR_MEAN], P[P_MTTR_CV], shape, 6) * multiplier
                            after = prefixed_uniform(kp[S_INCIDENT_AFTER_HOURS, i], k) < P[P_AFTER_SHARE]
                            premium = P[P_AFTER_MULT] if after else 1.0
                            out[M_INCIDENTS] += 1.0
                            pr[ri + R_A] = severity
                            pf[fi + F_A] = now  # started
                            pf[fi + F_B] = mttr
                            pf[fi + F_C] = premium
                            if team_serving:
                                pr[ri + R_PC] = 1
                                if mttr > 0.0:
                                    _start_work(pid, mttr, mttr / 24.0, INCIDENT_PRIORITY, ACT_ONCALL, premium, 1, procs)
                                continue
                            pr[ri + R_PC] = 2
                            if mttr > 0.0:
                                own_t = now + mttr / 24.0
                                waiting = True
                            continue
                        severity = pr[ri + R_A]
                        fraction = P[P_SEV_DOWN0 + severity]
                        if pc == 1:
                            outage = (now - pf[fi + F_A]) * 24.0
                        else:
                            outage = pf[fi + F_B]
                            _book(usd, now, C_LABOR_ONCALL, P[P_ESCALATION] * engineer_rate * pf[fi + F_C])
                            out[M_ENG_HOURS_ONCALL] += P[P_ESCALATION]
                            sla_down[month_of(now, months)] += outage * fraction
                        out[M_DOWNTIME_ADAPTER_HOURS] += outage * fraction * d_size[i]
                        _book(usd, now, C_DOWNTIME, outage * fraction * P[P_DOWN_USD] * d_size[i])
                        ended = True

                    elif kind == K_SLA:
                        if not sla_applies:
                            ended = True
                            continue
                        month = pr[ri + R_K]
                        if pc == 1:
                            allowed = (1.0 - P[P_SLA_UPTIME]) * _DPM * 24.0
                            if sla_down[month] > allowed:
                                year = month // 12
                                fee = vendor_fee[year] / 12.0
                                credit = -P[P_SLA_CREDIT] * fee
                                if credit != 0.0:
                                    usd[year, C_SLA_CREDIT] += credit
                                out[M_SLA_BREACHES] += 1.0
                            month += 1
                            pr[ri + R_K] = month
                        if month >= months - 1:
                            ended = True
                            continue
                        own_t = now + ((month + 1) * _DPM - now)
                        pr[ri + R_PC] = 1
                        waiting = True

                    else:  # K_REFRESH: the pipeline of adapter i
                        if pc == 0:  # data preparation (+ migration hours)
                            n = ai[i * NAI + AD_REFRESHES]
                            ai[i * NAI + AD_REFRESHES] += 1
                            hours = _event(kp[S_DATA_PREP, i], n, Q[Q_PREP_FAM], P[P_PREP_MEAN], P[P_PREP_CV], shape, 1) + pf[fi + F_A]
                            pr[ri + R_PC] = 1
                            if hours > 0.0:
                                _start_work(pid, hours, hours / P[P_ENG_HPD], PIPELINE_PRIORITY, ACT_PIPELINE, 1.0, 1, procs)
                        elif pc == 1:  # one training attempt
                            k = ai[i * NAI + AD_TRAIN]
                            ai[i * NAI + AD_TRAIN] += 1
                            out[M_TRAINING_RUNS] += 1.0
                            fails = prefixed_uniform(kp[S_TRAIN_FAIL, i], k) < P[P_TRAIN_FAIL]
                            pr[ri + R_A] = 1 if fails else 0
                            if Q[Q_TRAIN_OWNER] == TEAM:
                                work = _event(kp[S_TRAIN_WORK, i], k, Q[Q_TRAIN_FAM], P[P_TRAIN_MEAN], P[P_TRAIN_CV], shape, 2)
                                pf[fi + F_B] = work * prefixed_uniform(kp[S_TRAIN_FAIL_POINT, i], k) if fails else work  # target
                                pf[fi + F_C] = 0.0  # done
                                pr[ri + R_PC] = 2
                            else:
                                turnaround = _event(kp[S_VENDOR_TURNAROUND, i], k, Q[Q_TURN_FAM], P[P_TURN_MEAN], P[P_TURN_CV], shape, 3)
                                pr[ri + R_PC] = 6
                                if turnaround > 0.0:
                                    own_t = now + turnaround
                                    waiting = True
                        elif pc == 2:  # ask for a GPU, or end the attempt
                            if pf[fi + F_C] < pf[fi + F_B]:
                                granted, gq_tail = _gpu_acquire(pid, now, n_gpus, gpu_busy, gpu_mon, pr, gq_pid, gq_asked, gq_tail)
                                if granted:
                                    own_t = now
                                pr[ri + R_PC] = 3
                                waiting = True
                            elif pr[ri + R_A] == 1:
                                out[M_TRAINING_FAILURES] += 1.0
                                pr[ri + R_PC] = 1
                            else:
                                pr[ri + R_PC] = 7
                        elif pc == 3:  # got the GPU in slot R_K: run a segment
                            gpu = pr[ri + R_K]
                            remaining = pf[fi + F_B] - pf[fi + F_C]
                            preempt_after = math.inf
                            if gpu >= n_reserved and spot:
                                rate = P[P_SPOT_RATE]
                                u = prefixed_uniform(kp[S_SPOT_PREEMPT, i], ai[i * NAI + AD_SPOT])
                                ai[i * NAI + AD_SPOT] += 1
                                if rate > 0.0:
                                    preempt_after = exponential_time(u, rate)
                            if preempt_after < remaining:
                                pf[fi + F_D] = preempt_after
                                pr[ri + R_PC] = 4
                                own_t = now + preempt_after / 24.0
                            else:
                                pf[fi + F_D] = remaining
                                pr[ri + R_PC] = 5
                                own_t = now + remaining / 24.0
                            waiting = True
                        elif pc == 4 or pc == 5 or pc == 11:  # release a GPU after F_D hours (training or evaluation)
                            gpu = pr[ri + R_K]
                            used = pf[fi + F_D]
                            if gpu >= n_reserved:
                                price = P[P_GPU_SPOT] if spot else P[P_GPU_ON_DEMAND]
                                _book(usd, now, C_GPU_TRAINING, used * price)
                            else:  # reserved GPU-hours worked; divided by the pool's hours at close
                                out[M_RESERVED_UTIL] += used
                            out[M_GPU_HOURS] += used
                            if gq_tail > gq_head:
                                nxt = gq_pid[gq_head]
                                asked = gq_asked[gq_head]
                                gq_head += 1
                                _monitor(gpu_mon, now, 0.0, -1.0)
                                gpu_mon[MWT] += now - asked
                                gpu_mon[MS] += 1.0
                                pr[nxt * NPR + R_K] = gpu
                                _push_now(nowq, st, NORMAL, nxt, pr[nxt * NPR + R_VER], H_RESUME)
                            else:
                                _monitor(gpu_mon, now, -1.0, 0.0)
                                gpu_busy[gpu] = False
                            if pc == 4:
                                ckpt = P[P_CKPT_HOURS]
                                pf[fi + F_C] = math.floor((pf[fi + F_C] + used) / ckpt) * ckpt
                                out[M_SPOT_PREEMPTIONS] += 1.0
                                pr[ri + R_PC] = 2
                            elif pc == 5:
                                pf[fi + F_C] = pf[fi + F_B]
                                pr[ri + R_PC] = 2
                            else:
                                pr[ri + R_PC] = 12
                        elif pc == 6:  # vendor job done
                            if prefixed_uniform(kp[S_TRAIN_FAIL, i], ai[i * NAI + AD_TRAIN] - 1) < P[P_TRAIN_FAIL]:
                                out[M_TRAINING_FAILURES] += 1.0
                                pr[ri + R_PC] = 1
                            else:
                                _book(usd, now, C_VENDOR_TRAINING, P[P_TRAIN_TOKENS] * P[P_VENDOR_TRAIN_USD])
                                pr[ri + R_PC] = 7
                        elif pc == 7:  # trained: checkpoint, then evaluate
                            if ai[i * NAI + AD_CHECKPOINTS] < Q[Q_RETENTION] and P[P_CKPT_GB] > 0.0:
                                ai[i * NAI + AD_CHECKPOINTS] += 1
                                accrue(usd, storage_since, now, storage_gb * P[P_STORAGE] / _DPM, C_STORAGE)
                                storage_since = now
                                storage_gb += P[P_CKPT_GB]
                            k = ai[i * NAI + AD_EVALS]
                            ai[i * NAI + AD_EVALS] += 1
                            pr[ri + R_A] = k
                            gpu_hours = _event(kp[S_EVAL_GPU, i], k, Q[Q_EVAL_GPU_FAM], P[P_EVAL_GPU_MEAN], P[P_EVAL_GPU_CV], shape, 4)
                            pf[fi + F_D] = gpu_hours
                            if gpu_hours > 0.0:
                                granted, gq_tail = _gpu_acquire(pid, now, n_gpus, gpu_busy, gpu_mon, pr, gq_pid, gq_asked, gq_tail)
                                if granted:
                                    own_t = now
                                pr[ri + R_PC] = 10
                                waiting = True
                            else:
                                pr[ri + R_PC] = 12
                        elif pc == 10:  # evaluation GPU granted
                            own_t = now + pf[fi + F_D] / 24.0
                            pr[ri + R_PC] = 11
                            waiting = True
                        elif pc == 12:  # evaluation engineer hours
                            k = pr[ri + R_A]
                            hours = _event(kp[S_EVAL_HOURS, i], k, Q[Q_EVAL_HOURS_FAM], P[P_EVAL_HOURS_MEAN], P[P_EVAL_HOURS_CV], shape, 5)
                            pr[ri + R_PC] = 13
                            if hours > 0.0:
                                _start_work(pid, hours, hours / P[P_ENG_HPD], PIPELINE_PRIORITY, ACT_PIPELINE, 1.0, 13, procs)
                        elif pc == 13:  # evaluation verdict
                            _book(usd, now, C_VENDOR_INFERENCE, P[P_EVAL_VENDOR_USD])
                            if prefixed_uniform(kp[S_EVAL_FAIL, i], pr[ri + R_A]) < P[P_EVAL_FAIL]:
                                out[M_EVAL_FAILURES] += 1.0
                                pr[ri + R_PC] = 1
                            else:
                                pr[ri + R_PC] = 20 if ai[i * NAI + AD_REGULATED] else 30
                        elif pc == 20:  # compliance review
                            k = ai[i * NAI + AD_REVIEWS]
                            ai[i * NAI + AD_REVIEWS] += 1
                            hours = _event(kp[S_REVIEW_HOURS, i], k, Q[Q_REVIEW_FAM], P[P_REVIEW_MEAN], P[P_REVIEW_CV], shape, 8)
                            if hours <= 0.0:
                                pr[ri + R_PC] = 30
                            else:
                                pr[ri + R_A] = k
                                pf[fi + F_D] = hours
                                if reviewers_idle > 0:
                                    reviewers_idle -= 1
                                    _monitor(rev_mon, now, 1.0, 0.0)
                                    rev_mon[MWT] += 0.0
                                    rev_mon[MS] += 1.0
                                    own_t = now
                                else:
                                    _monitor(rev_mon, now, 0.0, 1.0)
                                    rq_pid[rq_tail] = pid
                                    rq_asked[rq_tail] = now
                                    rq_tail += 1
                                pr[ri + R_PC] = 21
                                waiting = True
                        elif pc == 21:  # reviewer granted
                            own_t = now + pf[fi + F_D] / P[P_REV_HPD]
                            pr[ri + R_PC] = 22
                            waiting = True
                        elif pc == 22:  # review done
                            if rq_tail > rq_head:
                                nxt = rq_pid[rq_head]
                                asked = rq_asked[rq_head]
                                rq_head += 1
                                _monitor(rev_mon, now, 0.0, -1.0)
                                rev_mon[MWT] += now - asked
                                rev_mon[MS] += 1.0
                                _push_now(nowq, st, NORMAL, nxt, pr[nxt * NPR + R_VER], H_RESUME)
                            else:
                                _monitor(rev_mon, now, -1.0, 0.0)
                                reviewers_idle += 1
                            _book(usd, now, C_LABOR_COMPLIANCE, pf[fi + F_D] * reviewer_rate)
                            k = pr[ri + R_A]
                            if prefixed_uniform(kp[S_REVIEW_REJECT, i], k) >= P[P_REJECT]:
                                pr[ri + R_PC] = 30
                            else:
                                out[M_REJECTIONS] += 1.0
                                rework = _event(kp[S_REWORK_HOURS, i], k, Q[Q_REWORK_FAM], P[P_REWORK_MEAN], P[P_REWORK_CV], shape, 9)
                                pr[ri + R_PC] = 20
                                if rework > 0.0:
                                    _start_work(pid, rework, rework / P[P_ENG_HPD], PIPELINE_PRIORITY, ACT_PIPELINE, 1.0, 20, procs)
                        elif pc == 30:  # promotion
                            k = ai[i * NAI + AD_PROMO_K]
                            ai[i * NAI + AD_PROMO_K] += 1
                            if prefixed_uniform(kp[S_ROLLOUT_BAD, i], k) < P[P_BAD_ROLLOUT]:
                                out[M_ROLLBACKS] += 1.0
                                hours = _event(
                                    kp[S_ROLLBACK_HOURS, i], k, Q[Q_ROLLBACK_FAM], P[P_ROLLBACK_MEAN], P[P_ROLLBACK_CV], shape, 10
                                )
                                pf[fi + F_E] = now  # started
                                pr[ri + R_PC] = 31
                                if hours > 0.0:
                                    _start_work(pid, hours, hours / 24.0, INCIDENT_PRIORITY, ACT_ONCALL, 1.0, 31, procs)
                            else:
                                ai[i * NAI + AD_PROMOTIONS] += 1
                                ai[i * NAI + AD_IN_FLIGHT] = False
                                _set_deficit(i, 0.0, now, af, out, usd, P[P_STALE_USD])
                                out[M_COMPLETED] += 1.0
                                ended = True
                        else:  # pc == 31: rollback done
                            outage = (now - pf[fi + F_E]) * 24.0
                            fraction = P[P_SEV_DOWN1]
                            out[M_DOWNTIME_ADAPTER_HOURS] += outage * fraction * 1
                            _book(usd, now, C_DOWNTIME, outage * fraction * P[P_DOWN_USD] * 1)
                            ai[i * NAI + AD_IN_FLIGHT] = False
                            _request_refresh(i, 0.0, now, out, ai, st, procs, nowq)  # reason: rollback
                            ended = True
                    how = H_CONTINUE
                if ended:
                    pr[ri + R_VER] += 1  # any event still pending for this id is stale from now on
                    free_ids[st[ST_NFREE]] = pid
                    st[ST_NFREE] += 1
                if ended or own_t < 0.0:
                    break  # ended, or waiting in a pool's queue
                # Exact shortcut: when this process's own event would be the very next one popped
                # (nothing else is due by then), resume it here instead of via the heap.
                if (
                    (st[ST_HN] == 0 or ht[0] > own_t)
                    and st[ST_NOWQ_TAIL + URGENT] == 0  # both empty, so room is as at the loop's top
                    and st[ST_NOWQ_TAIL + NORMAL] == 0
                    and own_t < horizon
                    and events + 1 < max_events
                    and not _tables_short(st, n_adapters, nowq, cap, hcap, gq_tail, gq_pid.shape[0], rq_tail, rq_pid.shape[0])
                ):
                    now = own_t
                    own_t = -1.0
                    how = H_RESUME
                    events += 1
                    continue
                if own_t == now:
                    _push_now(nowq, st, NORMAL, pid, pr[ri + R_VER], H_RESUME)
                else:
                    _push(ht, hk, hl, st, own_t, NORMAL, pid, pr[ri + R_VER], H_RESUME)
                break
        if events >= max_events:
            status = ADVANCE_TRUNCATED
            break
    st[4] = gq_head
    st[5] = gq_tail
    st[6] = rq_head
    st[7] = rq_tail
    st[8] = reviewers_idle
    st[9] = n_users
    st[10] = n_ewait
    st[11] = eng_arrivals
    st[12] = events
    sf[0] = now
    sf[1] = storage_gb
    sf[2] = storage_since
    return status


@cached_njit()
def _replication(P, Q, seed, rep, years, max_events, usd, out):
    """Simulate one replication; fills ``usd[years, categories]`` and ``out[metrics]``."""
    horizon = years * 365.0
    months = 12 * years
    n_adapters = Q[Q_ADAPTERS]
    reviewer_rate = P[P_REV_ANNUAL] / P[P_WORK_HOURS]
    team_serving = Q[Q_SERVE_OWNER] == TEAM
    n_reserved = reserved_pool_size(Q[Q_RESERVED], Q[Q_BURST], int(P[P_EXISTING_GPUS]))
    n_gpus = n_reserved + Q[Q_BURST]
    n_engineers = Q[Q_ENGINEERS]
    n_reviewers = Q[Q_REVIEWERS]

    # one hash step per draw instead of five; adapters and deployments share the entity range
    kp = key_prefixes(seed, rep, N_STREAMS, max(n_adapters, 1))

    # adapters
    ai = np.zeros(n_adapters * NAI, np.int64)
    af = np.zeros(n_adapters * NAF)
    for i in range(n_adapters):
        ai[i * NAI + AD_REGULATED] = prefixed_uniform(kp[S_REGULATED, i], 0) < P[P_REGULATED]
    regulated_any = False
    for i in range(n_adapters):
        regulated_any = regulated_any or ai[i * NAI + AD_REGULATED] != 0

    # deployments
    if Q[Q_SERVE_MODE] == SHARED:
        per = Q[Q_APD]
        n_deploy = (n_adapters + per - 1) // per
        d_size = np.empty(n_deploy, np.int64)
        for d in range(n_deploy):
            d_size[d] = min(per, n_adapters - d * per)
    else:
        n_deploy = n_adapters
        d_size = np.ones(n_deploy, np.int64)

    # vendor serving fee per year (also the base of SLA credits)
    vendor_fee = np.zeros(years)
    if not team_serving:
        for y in range(years):
            tokens = tokens_per_adapter_year_m(P[P_TOKENS], P[P_GROWTH], y) * n_adapters
            hosting = n_deploy * 8760.0 * P[P_SERVE_DEPLOY_USD]
            vendor_fee[y] = tokens * P[P_SERVE_TOKEN_USD] + hosting
    sla_applies = (not team_serving) and P[P_SLA_CREDIT] > 0.0
    sla_down = np.zeros(months)
    shape = np.empty((len(SHAPED_CVS), 2))
    for d in range(len(SHAPED_CVS)):
        sigma, half_s2 = lognormal_shape(P[SHAPED_CVS[d]])
        shape[d, 0] = sigma
        shape[d, 1] = half_s2

    # processes
    cap = 16 + 4 * n_adapters + 2 * n_deploy
    pr = np.zeros(cap * NPR, np.int64)  # integer slots, NPR per process
    pf = np.zeros(cap * NPF)  # float slots, NPF per process
    free_ids = np.empty(cap, np.int64)
    n_free = 0
    n_procs = 0

    # event heap
    hcap = 2 * cap
    ht = np.empty(hcap)
    hk = np.empty(hcap, np.int64)
    hl = np.empty(hcap, np.int64)
    hn = 0
    seq = 0
    # the now-queues: sequence numbers and payloads, the two priorities interleaved
    now_room = n_adapters + 16  # grows on a burst of simultaneous events
    now_seqs = np.empty(2 * now_room, np.int64)
    now_payloads = np.empty(2 * now_room, np.int64)

    # pools
    gpu_busy = np.zeros(max(n_gpus, 1), np.bool_)
    gq_pid = np.empty(cap, np.int64)
    gq_asked = np.empty(cap)
    gq_head = 0
    gq_tail = 0
    rq_pid = np.empty(cap, np.int64)
    rq_asked = np.empty(cap)
    rq_head = 0
    rq_tail = 0
    reviewers_idle = n_reviewers
    eu_pid = np.empty(max(n_engineers, 1), np.int64)  # users in grant order
    eu_prio = np.empty(max(n_engineers, 1), np.int64)
    eu_asked = np.empty(max(n_engineers, 1))
    n_users = 0
    ew_pid = np.empty(cap, np.int64)  # waiting, sorted by (priority, asked, order)
    ew_prio = np.empty(cap, np.int64)
    ew_asked = np.empty(cap)
    ew_order = np.empty(cap, np.int64)
    n_ewait = 0
    eng_arrivals = 0
    gpu_mon = np.zeros(7)
    eng_mon = np.zeros(7)
    rev_mon = np.zeros(7)

    storage_gb = 0.0
    storage_since = 0.0
    now = 0.0

    # start order: each adapter's drift and schedule, releases, each deployment's faults, SLA
    n_start = 2 * n_adapters + 1 + n_deploy + 1
    for j in range(n_start):
        if j < 2 * n_adapters:
            kind = K_DRIFT if j % 2 == 0 else K_SCHEDULE
            ent = j // 2
        elif j == 2 * n_adapters:
            kind = K_RELEASES
            ent = 0
        elif j < 2 * n_adapters + 1 + n_deploy:
            kind = K_FAULTS
            ent = j - 2 * n_adapters - 1
        else:
            kind = K_SLA
            ent = 0
        pid = n_procs
        n_procs += 1
        pr[pid * NPR + R_KIND] = kind
        pr[pid * NPR + R_ENT] = ent
        pr[pid * NPR + R_PC] = 0
        pr[pid * NPR + R_K] = 0
        _heap_push(ht, hk, hl, hn, 0.0, URGENT, seq, pid, pr[pid * NPR + R_VER], H_START)
        hn += 1
        seq += 1

    # the loop counters; the last four are the heads and tails of the (empty) now-queues
    st = np.array(
        [hn, seq, n_procs, n_free, gq_head, gq_tail, rq_head, rq_tail, reviewers_idle, n_users, n_ewait, eng_arrivals, 0, 0, 0, 0, 0],
        np.int64,
    )
    sf = np.array([now, storage_gb, storage_since])
    adapters = (ai, af)
    while True:
        # (re)bundled each time: growth below re-binds some of the arrays
        procs = (pr, pf, free_ids)
        heap = (ht, hk, hl)
        nowq = (now_seqs, now_payloads)
        pools = (
            gpu_busy,
            gq_pid,
            gq_asked,
            rq_pid,
            rq_asked,
            eu_pid,
            eu_prio,
            eu_asked,
            ew_pid,
            ew_prio,
            ew_asked,
            ew_order,
            gpu_mon,
            eng_mon,
            rev_mon,
        )
        status = _advance(
            P,
            Q,
            kp,
            max_events,
            horizon,
            months,
            usd,
            out,
            adapters,
            d_size,
            vendor_fee,
            sla_down,
            shape,
            procs,
            heap,
            nowq,
            pools,
            st,
            sf,
        )
        if status != ADVANCE_GROW:
            break
        # grow the tables (rare): compact the FIFO queues, double what is short of room
        hn, n_procs, n_free = st[0], st[2], st[3]
        gq_head, gq_tail, rq_head, rq_tail = st[4], st[5], st[6], st[7]
        live = gq_tail - gq_head
        gq_pid[:live] = gq_pid[gq_head:gq_tail].copy()
        gq_asked[:live] = gq_asked[gq_head:gq_tail].copy()
        st[4], st[5] = 0, live
        live = rq_tail - rq_head
        rq_pid[:live] = rq_pid[rq_head:rq_tail].copy()
        rq_asked[:live] = rq_asked[rq_head:rq_tail].copy()
        st[6], st[7] = 0, live
        cap = free_ids.shape[0]
        if n_procs + n_adapters + 4 >= cap or n_free + 1 >= free_ids.shape[0] or hn + 2 * n_adapters + 8 >= ht.shape[0]:
            new_cap = 2 * (cap + n_adapters)
            old = pr
            pr = np.zeros(new_cap * NPR, np.int64)  # new processes start at version 0
            pr[: old.shape[0]] = old
            pf = _grow_f(pf, new_cap * NPF)
            free_ids = _grow_f(free_ids, new_cap)
            ew_pid = _grow_f(ew_pid, new_cap)
            ew_prio = _grow_f(ew_prio, new_cap)
            ew_asked = _grow_f(ew_asked, new_cap)
            ew_order = _grow_f(ew_order, new_cap)
            new_hcap = 2 * new_cap + hn
            ht = _grow_f(ht, new_hcap)
            hk = _grow_f(hk, new_hcap)
            hl = _grow_f(hl, new_hcap)
        if _nowq_short(st, n_adapters, nowq):
            now_seqs = _grow_f(now_seqs, 2 * now_seqs.shape[0])
            now_payloads = _grow_f(now_payloads, 2 * now_payloads.shape[0])
        if st[5] + 1 >= gq_pid.shape[0]:
            gq_pid = _grow_f(gq_pid, 2 * gq_pid.shape[0])
            gq_asked = _grow_f(gq_asked, 2 * gq_asked.shape[0])
        if st[7] + 1 >= rq_pid.shape[0]:
            rq_pid = _grow_f(rq_pid, 2 * rq_pid.shape[0])
            rq_asked = _grow_f(rq_asked, 2 * rq_asked.shape[0])
    truncated = status == ADVANCE_TRUNCATED
    events = st[12]
    now, storage_gb, storage_since = sf[0], sf[1], sf[2]

    end = min(now, horizon) if truncated else horizon
    # close: staleness, storage, last SLA month, fixed costs, monitors
    for a in range(n_adapters):
        _set_deficit(a, af[a * NAF + AD_DEFICIT], end, af, out, usd, P[P_STALE_USD])
    accrue(usd, storage_since, end, storage_gb * P[P_STORAGE] / _DPM, C_STORAGE)
    if sla_applies:
        month = months - 1
        allowed = (1.0 - P[P_SLA_UPTIME]) * _DPM * 24.0
        if sla_down[month] > allowed:
            year = month // 12
            credit = -P[P_SLA_CREDIT] * (vendor_fee[year] / 12.0)
            if credit != 0.0:
                usd[year, C_SLA_CREDIT] += credit
            out[M_SLA_BREACHES] += 1.0
    fte = platform_fte_counted(P[P_BASE_FTE], P[P_FTE_PER_ADAPTER], P[P_MAX_FTE], n_adapters, P[P_EXISTING_FTE], P[P_EXISTING_SHARE])
    paid_gpus = reserved_gpus_paid(Q[Q_RESERVED], int(P[P_EXISTING_GPUS]))
    out[M_PLATFORM_FTE] = fte
    out[M_RESERVED_PAID] = paid_gpus
    serving_prices = P[P_SERVE_PRICE_H100 : P_SERVE_PRICE_H100 + N_GPU_CLASSES]
    serving_relative = P[P_SERVE_REL_H100 : P_SERVE_REL_H100 + N_GPU_CLASSES]
    billed_total = 0.0
    busy_total = 0.0
    for y in range(years):
        amount = fte * P[P_ENG_ANNUAL]
        if amount != 0.0:
            usd[y, C_LABOR_PLATFORM] += amount
        amount = paid_gpus * 8760.0 * P[P_GPU_RESERVED]
        if amount != 0.0:
            usd[y, C_GPU_TRAINING] += amount
        if team_serving:
            tokens = tokens_per_adapter_year_m(P[P_TOKENS], P[P_GROWTH], y)
            amount = 0.0
            billed = 0.0
            busy = 0.0
            for d in range(n_deploy):
                c, b, w = serving_year(
                    d_size[d],
                    tokens,
                    P[P_SERVE_TPH],
                    P[P_SERVE_UTIL],
                    Q[Q_MIN_REPLICAS],
                    Q[Q_SCALE_TO_ZERO],
                    serving_prices,
                    serving_relative,
                    Q[Q_GPU_CLASS],
                )
                amount += c
                billed += b
                busy += w
            billed_total += billed
            busy_total += busy
            if amount != 0.0:
                usd[y, C_GPU_SERVING] += amount
        if vendor_fee[y] != 0.0:
            usd[y, C_VENDOR_INFERENCE] += vendor_fee[y]
        if P[P_VENDOR_PLATFORM] != 0.0:
            usd[y, C_VENDOR_PLATFORM] += P[P_VENDOR_PLATFORM]
        amount = ((P[P_MON_BUILD] if y == 0 else 0.0) + P[P_MON_YEAR]) * (1.0 - P[P_EXISTING_MONITORING])
        if amount != 0.0:
            usd[y, C_MONITORING] += amount
        if regulated_any:
            amount = P[P_AUDIT_HOURS] * reviewer_rate
            if amount != 0.0:
                usd[y, C_LABOR_COMPLIANCE] += amount
    out[M_SERVING_GPU_HOURS] = billed_total
    out[M_SERVING_UTIL] = busy_total / billed_total if billed_total > 0.0 else 0.0
    reserved_hours = n_reserved * end * 24.0
    out[M_RESERVED_UTIL] = out[M_RESERVED_UTIL] / reserved_hours if reserved_hours > 0.0 else 0.0
    _monitor_summary(gpu_mon, end, n_gpus, out, M_GPU_UTIL, M_GPU_BUSY, M_GPU_QUEUE, M_GPU_WAIT, M_UNSTABLE_GPU, 24.0)
    _monitor_summary(eng_mon, end, n_engineers, out, M_ENG_UTIL, -1, -1, M_ENG_WAIT, M_UNSTABLE_ENG, 24.0)
    _monitor_summary(rev_mon, end, n_reviewers, out, M_REVIEW_UTIL, -1, M_REVIEW_BACKLOG, M_REVIEW_WAIT, M_UNSTABLE_REVIEW, 1.0)
    in_flight = 0
    for a in range(n_adapters):
        if ai[a * NAI + AD_IN_FLIGHT]:
            in_flight += 1
    out[M_IN_FLIGHT] = in_flight
    out[M_TRUNCATED] = 1.0 if truncated else 0.0
    out[M_EVENTS] = events


@cached_njit(parallel=True)
def _run_all(P, Q, seed, reps, years, max_events, usd, out):
    n_models = P.shape[0]
    n_reps = P.shape[1]
    # Models interleaved, so each thread's static share of jobs holds the same mix of models.
    for job in prange(n_models * n_reps):
        r = job // n_models
        m = job - r * n_models
        _replication(P[m, r], Q[m], seed, reps[r], years, max_events, usd[m, r], out[m, r])


def run_kernel(run: CompiledRun) -> tuple[np.ndarray, np.ndarray]:
    """Run every replication of every operating model of a compiled run.

    Returns
    -------
    costs : ndarray [models, replications, years, categories]
    metrics : ndarray [models, replications, metrics]
    """
    floats, ints = pack_parameters(run)
    n_models, n_reps = run.n_models, run.replications.shape[0]
    usd = np.zeros((n_models, n_reps, run.horizon_years, len(CATEGORIES)))
    out = np.zeros((n_models, n_reps, len(METRICS)))
    _run_all(floats, ints, np.uint64(run.seed), run.replications.astype(np.int64), run.horizon_years, run.max_events, usd, out)
    return usd, out
