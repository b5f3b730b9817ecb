"""The fast engine's tables: where each number lives in the flat arrays the kernels share.

Every table is declared one entry a line: the call that appends an entry returns its
index, so a table's names and its index constants cannot drift apart. The constants are
plain module-level ints because numba compiles globals into the njit kernels as literal
constants: a named slot costs nothing over a raw one. (This file has no numba function,
but it mentions njit, so ``sim.core.jit``'s cache stamp covers it: an edit here
recompiles the kernels that have its numbers baked in.)

- ``P[...]`` and ``Q[...]``: the float and integer parameters of one (operating model,
  replication), packed from a :class:`~models.compile.CompiledRun` by :func:`pack_parameters`;
- ``C_*``: cost categories, positions in ``sim.core.ledger.CATEGORIES``;
- ``M_*``: metrics, positions in ``sim.core.metrics.METRICS``;
- ``ST_*`` and ``SF_*``: the loop's integer and float counters, kept in the ``st`` and
  ``sf`` arrays between calls of the event loop;
- ``R_*`` / ``F_*`` / ``W_*``: a process's integer and float slots, ``AD_*`` an adapter's,
  ``MON_*`` a pool monitor's;
- ``D_*``: the distributions whose lognormal shape is computed once per replication.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from models.compile import MC, MV, SC, SV, CompiledRun
from models.schema import GPU_CLASSES
from sim.core.ledger import CATEGORIES
from sim.core.metrics import METRICS
from sim.core.rng import Stream

SCENARIO = "scenario"  # a parameter read from the scenario's columns, the same for every operating model
MODEL = "model"  # a parameter read from each operating model's own columns


class _Slots:
    """An ordered table declared one entry at a time; a declaration returns the entry's index."""

    def __init__(self) -> None:
        self.entries: list = []

    def __call__(self, entry: object, width: int = 1) -> int:
        """Append ``entry`` over ``width`` consecutive slots; the index of the first."""
        first = len(self.entries)
        self.entries += [entry] * width
        return first

    def __len__(self) -> int:
        return len(self.entries)


class _Parameters(_Slots):
    """A parameter table: each entry is ``(name, SCENARIO or MODEL)``, a column of the compiled run."""

    def __call__(self, name: str, where: str) -> int:  # type: ignore[override]
        """Append parameter ``name``, read from ``where``; its index."""
        return super().__call__((name, where))

    def block(self, prefix: str, keys: Iterable[str], where: str) -> int:
        """Append the parameters ``prefix.key`` for each key, in order; the index of the first."""
        first = len(self.entries)
        for key in keys:
            self(f"{prefix}.{key}", where)
        return first


class _Positions:
    """The slots of a vocabulary the kernel writes by position (categories, metrics).

    A declaration returns the name's position in the vocabulary and records it, so that
    :func:`_check_layout` can tell whether every name has its slot.
    """

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.vocabulary = tuple(vocabulary)
        self.declared: list[str] = []

    def __call__(self, name: str) -> int:
        self.declared.append(name)
        return self.vocabulary.index(name)


# -- floats P[...] per (operating model, replication) --------------------------------------
_p = _Parameters()
P_REGULATED = _p("regulated_share", SCENARIO)
P_INTERVAL = _p("refresh_interval_days", SCENARIO)
P_DRIFT_RATE = _p("drift_rate_per_adapter_year", SCENARIO)
P_DROP_MEAN = _p("drift_quality_drop.mean", SCENARIO)
P_DROP_CV = _p("drift_quality_drop.cv", SCENARIO)
P_STALE_USD = _p("staleness_usd_per_point_day", SCENARIO)
P_DOWN_USD = _p("downtime_usd_per_adapter_hour", SCENARIO)
P_RELEASE_RATE = _p("base_model_releases_per_year", SCENARIO)
P_TOKENS = _p("tokens_per_adapter_month_m", SCENARIO)
P_GROWTH = _p("token_growth_per_year", SCENARIO)
P_TRAIN_TOKENS = _p("training_tokens_per_run_m", SCENARIO)
P_INCIDENT_RATE = _p("incident_rate_per_deployment_year", SCENARIO)
# the kernel draws one of exactly three severities (sev1, sev2, sev3), each read by its own name
P_SEV_P0 = _p("incident_severity.probabilities.0", SCENARIO)
P_SEV_P1 = _p("incident_severity.probabilities.1", SCENARIO)
P_SEV_P2 = _p("incident_severity.probabilities.2", SCENARIO)
P_SEV_DOWN0 = _p("incident_severity.downtime_fraction.0", SCENARIO)  # P_SEV_DOWN0 + severity
P_SEV_DOWN1 = _p("incident_severity.downtime_fraction.1", SCENARIO)
P_SEV_DOWN2 = _p("incident_severity.downtime_fraction.2", SCENARIO)
P_SEV_MTTR0 = _p("incident_severity.mttr_multiplier.0", SCENARIO)  # P_SEV_MTTR0 + severity
P_SEV_MTTR1 = _p("incident_severity.mttr_multiplier.1", SCENARIO)
P_SEV_MTTR2 = _p("incident_severity.mttr_multiplier.2", SCENARIO)
P_AFTER_SHARE = _p("after_hours_share", SCENARIO)
P_ENG_HPD = _p("engineer_hours_per_day", SCENARIO)
P_REV_HPD = _p("reviewer_hours_per_day", SCENARIO)
P_WORK_HOURS = _p("working_hours_per_year", SCENARIO)
P_ENG_ANNUAL = _p("engineer_loaded_annual_usd", SCENARIO)
P_REV_ANNUAL = _p("reviewer_loaded_annual_usd", SCENARIO)
P_GPU_RESERVED = _p("gpu_reserved_usd_per_hour", SCENARIO)
P_GPU_ON_DEMAND = _p("gpu_on_demand_usd_per_hour", SCENARIO)
P_GPU_SPOT = _p("gpu_spot_usd_per_hour", SCENARIO)
P_STORAGE = _p("storage_usd_per_gb_month", SCENARIO)
# one column per serving GPU class, in models.schema.GPU_CLASSES order (what serving_year indexes)
N_GPU_CLASSES = len(GPU_CLASSES)
P_SERVE_PRICE = _p.block("serving_gpu_usd_per_hour", GPU_CLASSES, SCENARIO)
P_SERVE_REL = _p.block("serving_gpu_relative_throughput", GPU_CLASSES, SCENARIO)
P_EXISTING_FTE = _p("existing_platform_fte", SCENARIO)
P_EXISTING_SHARE = _p("existing_staff_cost_share", SCENARIO)
P_EXISTING_GPUS = _p("existing_reserved_gpus", SCENARIO)
P_EXISTING_MONITORING = _p("existing_monitoring_share", SCENARIO)
P_PREP_MEAN = _p("training.data_prep_hours.mean", MODEL)
P_PREP_CV = _p("training.data_prep_hours.cv", MODEL)
P_TRAIN_MEAN = _p("training.gpu_hours.mean", MODEL)
P_TRAIN_CV = _p("training.gpu_hours.cv", MODEL)
P_TRAIN_FAIL = _p("training.failure_prob", MODEL)
P_CKPT_HOURS = _p("training.checkpoint_interval_hours", MODEL)
P_CKPT_GB = _p("training.checkpoint_gb", MODEL)
P_VENDOR_TRAIN_USD = _p("training.vendor_usd_per_1m_tokens", MODEL)
P_TURN_MEAN = _p("training.vendor_turnaround_days.mean", MODEL)
P_TURN_CV = _p("training.vendor_turnaround_days.cv", MODEL)
P_SPOT_RATE = _p("gpu_pool.spot_preemptions_per_gpu_hour", MODEL)
P_EVAL_GPU_MEAN = _p("evaluation.gpu_hours.mean", MODEL)
P_EVAL_GPU_CV = _p("evaluation.gpu_hours.cv", MODEL)
P_EVAL_HOURS_MEAN = _p("evaluation.engineer_hours.mean", MODEL)
P_EVAL_HOURS_CV = _p("evaluation.engineer_hours.cv", MODEL)
P_EVAL_FAIL = _p("evaluation.failure_prob", MODEL)
P_EVAL_VENDOR_USD = _p("evaluation.vendor_usd_per_run", MODEL)
P_SERVE_TPH = _p("serving.tokens_per_gpu_hour_m", MODEL)
P_SERVE_UTIL = _p("serving.target_utilization", MODEL)
P_SERVE_TOKEN_USD = _p("serving.vendor_usd_per_1m_tokens", MODEL)
P_SERVE_DEPLOY_USD = _p("serving.vendor_usd_per_deployment_hour", MODEL)
P_SLA_UPTIME = _p("serving.sla_uptime", MODEL)
P_SLA_CREDIT = _p("serving.sla_credit_fraction", MODEL)
P_INC_MULT = _p("oncall.incident_rate_multiplier", MODEL)
P_MTTR_MEAN = _p("oncall.mttr_hours.mean", MODEL)
P_MTTR_CV = _p("oncall.mttr_hours.cv", MODEL)
P_AFTER_MULT = _p("oncall.after_hours_multiplier", MODEL)
P_ESCALATION = _p("oncall.escalation_hours", MODEL)
P_BASE_FTE = _p("platform.base_fte", MODEL)
P_FTE_PER_ADAPTER = _p("platform.fte_per_adapter", MODEL)
P_MAX_FTE = _p("platform.max_fte", MODEL)
P_MON_BUILD = _p("platform.monitoring_build_usd", MODEL)
P_MON_YEAR = _p("platform.monitoring_usd_per_year", MODEL)
P_DETECT_MEAN = _p("platform.detection_delay_days.mean", MODEL)
P_DETECT_CV = _p("platform.detection_delay_days.cv", MODEL)
P_VENDOR_PLATFORM = _p("platform.vendor_platform_usd_per_year", MODEL)
P_REVIEW_MEAN = _p("compliance.review_hours.mean", MODEL)
P_REVIEW_CV = _p("compliance.review_hours.cv", MODEL)
P_REJECT = _p("compliance.rejection_prob", MODEL)
P_REWORK_MEAN = _p("compliance.rework_hours.mean", MODEL)
P_REWORK_CV = _p("compliance.rework_hours.cv", MODEL)
P_AUDIT_HOURS = _p("compliance.annual_audit_hours", MODEL)
P_RESPONSE = _p("base_model.response_probability", MODEL)
P_MIGRATION = _p("base_model.migration_hours_per_adapter", MODEL)
P_BAD_ROLLOUT = _p("promotion.bad_rollout_prob", MODEL)
P_ROLLBACK_MEAN = _p("promotion.rollback_hours.mean", MODEL)
P_ROLLBACK_CV = _p("promotion.rollback_hours.cv", MODEL)
P_NAMES: tuple[tuple[str, str], ...] = tuple(_p.entries)  # (parameter, SCENARIO or MODEL) of each column of P
NP = len(P_NAMES)

# -- integers Q[...] per operating model (codes are the same for every replication) -------
_q = _Parameters()
Q_ADAPTERS = _q("adapters", SCENARIO)
Q_ENGINEERS = _q("engineers", SCENARIO)
Q_REVIEWERS = _q("reviewers", SCENARIO)
Q_ARRIVALS = _q("arrivals", SCENARIO)  # sim.core.choices.POISSON or DETERMINISTIC
Q_STAGGER = _q("refresh_stagger", SCENARIO)
Q_DROP_FAM = _q("drift_quality_drop.family", SCENARIO)
Q_TRAIN_OWNER = _q("training.owner", MODEL)  # TEAM or VENDOR
Q_RETENTION = _q("training.retention_runs", MODEL)
Q_PREP_FAM = _q("training.data_prep_hours.family", MODEL)
Q_TRAIN_FAM = _q("training.gpu_hours.family", MODEL)
Q_TURN_FAM = _q("training.vendor_turnaround_days.family", MODEL)
Q_RESERVED = _q("gpu_pool.reserved", MODEL)
Q_BURST = _q("gpu_pool.burst_max", MODEL)
Q_BURST_TIER = _q("gpu_pool.burst_tier", MODEL)  # ON_DEMAND or SPOT
Q_EVAL_GPU_FAM = _q("evaluation.gpu_hours.family", MODEL)
Q_EVAL_HOURS_FAM = _q("evaluation.engineer_hours.family", MODEL)
Q_SERVE_OWNER = _q("serving.owner", MODEL)  # TEAM or VENDOR
Q_SERVE_MODE = _q("serving.mode", MODEL)  # DEDICATED or SHARED
Q_MIN_REPLICAS = _q("serving.min_replicas", MODEL)
Q_GPU_CLASS = _q("serving.gpu_class", MODEL)
Q_SCALE_TO_ZERO = _q("serving.scale_to_zero", MODEL)
Q_APD = _q("serving.adapters_per_deployment", MODEL)
Q_MTTR_FAM = _q("oncall.mttr_hours.family", MODEL)
Q_DETECT_FAM = _q("platform.detection_delay_days.family", MODEL)
Q_REVIEW_FAM = _q("compliance.review_hours.family", MODEL)
Q_REWORK_FAM = _q("compliance.rework_hours.family", MODEL)
Q_ROLLBACK_FAM = _q("promotion.rollback_hours.family", MODEL)
Q_NAMES: tuple[tuple[str, str], ...] = tuple(_q.entries)  # (code, SCENARIO or MODEL) of each column of Q
NQ = len(Q_NAMES)

# -- the distributions whose lognormal shape is computed once per replication ---------------
# shape[D_..., SH_SIGMA] and shape[D_..., SH_HALF_S2]; the entry is the P column of its cv
_shaped = _Slots()
D_DROP = _shaped(P_DROP_CV)
D_PREP = _shaped(P_PREP_CV)
D_TRAIN = _shaped(P_TRAIN_CV)
D_TURN = _shaped(P_TURN_CV)
D_EVAL_GPU = _shaped(P_EVAL_GPU_CV)
D_EVAL_HOURS = _shaped(P_EVAL_HOURS_CV)
D_MTTR = _shaped(P_MTTR_CV)
D_DETECT = _shaped(P_DETECT_CV)
D_REVIEW = _shaped(P_REVIEW_CV)
D_REWORK = _shaped(P_REWORK_CV)
D_ROLLBACK = _shaped(P_ROLLBACK_CV)
SHAPED_CVS: tuple[int, ...] = tuple(_shaped.entries)
_shape_columns = _Slots()
SH_SIGMA = _shape_columns("sigma")
SH_HALF_S2 = _shape_columns("half_sigma_squared")
N_SHAPE = len(_shape_columns)

# -- ledger categories: usd[year, C_...] --------------------------------------------------
_c = _Positions(CATEGORIES)
C_GPU_TRAINING = _c("gpu_training")
C_GPU_SERVING = _c("gpu_serving")
C_STORAGE = _c("storage")
C_MONITORING = _c("monitoring")
C_LABOR_PLATFORM = _c("labor_platform")
C_LABOR_PIPELINE = _c("labor_pipeline")
C_LABOR_ONCALL = _c("labor_oncall")
C_LABOR_COMPLIANCE = _c("labor_compliance")
C_VENDOR_TRAINING = _c("vendor_training")
C_VENDOR_INFERENCE = _c("vendor_inference")
C_VENDOR_PLATFORM = _c("vendor_platform")
C_SLA_CREDIT = _c("sla_credit")
C_DOWNTIME = _c("downtime")
C_STALENESS = _c("staleness")

# -- metrics: out[M_...] ------------------------------------------------------------------
_m = _Positions(METRICS)
M_DRIFT_EVENTS = _m("drift_events")
M_RELEASES = _m("base_model_releases")
M_REQUESTED = _m("refreshes_requested")
M_MERGED = _m("refreshes_merged")
M_COMPLETED = _m("refreshes_completed")
M_TRAINING_RUNS = _m("training_runs")
M_TRAINING_FAILURES = _m("training_failures")
M_SPOT_PREEMPTIONS = _m("spot_preemptions")
M_EVAL_FAILURES = _m("evaluation_failures")
M_REJECTIONS = _m("review_rejections")
M_ROLLBACKS = _m("rollbacks")
M_FORCED = _m("forced_upgrades")
M_INCIDENTS = _m("incidents")
M_SLA_BREACHES = _m("sla_breaches")
M_DOWNTIME_ADAPTER_HOURS = _m("downtime_adapter_hours")
M_STALE_DAYS = _m("stale_adapter_days")
M_DEFICIT_DAYS = _m("quality_deficit_days")
M_GPU_HOURS = _m("gpu_hours_used")
M_GPU_UTIL = _m("gpu_utilization")
M_GPU_BUSY = _m("gpu_busy_mean")
M_GPU_QUEUE = _m("gpu_queue_mean")
M_GPU_WAIT = _m("gpu_wait_mean_hours")
M_RESERVED_PAID = _m("reserved_gpus_paid")
M_RESERVED_UTIL = _m("reserved_gpu_utilization")
M_SERVING_GPU_HOURS = _m("serving_gpu_hours")
M_SERVING_UTIL = _m("serving_utilization")
M_PLATFORM_FTE = _m("platform_fte")
M_ENG_HOURS_PIPELINE = _m("engineer_hours_pipeline")
M_ENG_HOURS_ONCALL = _m("engineer_hours_oncall")
M_ENG_UTIL = _m("engineer_utilization")
M_ENG_WAIT = _m("engineer_wait_mean_hours")
M_ENG_PREEMPTIONS = _m("engineer_preemptions")
M_REVIEW_BACKLOG = _m("review_backlog_mean")
M_REVIEW_WAIT = _m("review_wait_mean_days")
M_REVIEW_UTIL = _m("reviewer_utilization")
M_UNSTABLE_GPU = _m("unstable_gpu")
M_UNSTABLE_ENG = _m("unstable_engineers")
M_UNSTABLE_REVIEW = _m("unstable_reviewers")
M_IN_FLIGHT = _m("in_flight_at_horizon")
M_TRUNCATED = _m("truncated")
M_EVENTS = _m("events")
M_NONE = -1  # "this monitor has no such metric", for _monitor_summary

# -- event priorities, SimPy's: process starts and interrupts are URGENT, timeouts and grants NORMAL
_priorities = _Slots()
URGENT = _priorities("urgent")
NORMAL = _priorities("normal")
N_PRIORITIES = len(_priorities)

# -- the loop's counters, kept between calls of the event loop ------------------------------
_st = _Slots()  # integers: st[ST_...]
ST_HN = _st("heap size")
ST_SEQ = _st("next sequence number")
ST_NPROCS = _st("process ids ever used")
ST_NFREE = _st("free process ids")
ST_GQ_HEAD = _st("GPU queue head")
ST_GQ_TAIL = _st("GPU queue tail")
ST_RQ_HEAD = _st("reviewer queue head")
ST_RQ_TAIL = _st("reviewer queue tail")
ST_REVIEWERS_IDLE = _st("idle reviewers")
ST_ENG_USERS = _st("engineers in use")
ST_ENG_WAITING = _st("requests waiting for an engineer")
ST_ENG_ARRIVALS = _st("engineer requests ever made")
ST_EVENTS = _st("events processed")
ST_NOWQ_HEAD = _st("now-queue heads", width=N_PRIORITIES)  # one per priority: ST_NOWQ_HEAD + URGENT / NORMAL
ST_NOWQ_TAIL = _st("now-queue tails", width=N_PRIORITIES)
N_ST = len(_st)
_sf = _Slots()  # floats: sf[SF_...]
SF_NOW = _sf("simulated time (days)")
SF_STORAGE_GB = _sf("checkpoint storage held")
SF_STORAGE_SINCE = _sf("time storage was last accrued")
N_SF = len(_sf)

# -- a process's slots: process pid's integer slot R is pr[pid * NPR + R], float slot F pf[pid * NPF + F]
_r = _Slots()
R_KIND = _r("process kind")
R_PC = _r("program counter")
R_ENT = _r("entity: adapter or deployment")
R_VER = _r("version: events scheduled under an older one are stale")
R_K = _r("occurrence counter, or the GPU held")
R_A = _r("a kind's own integer")
R_IN_WORK = _r("in the engineer-work subroutine")
R_WSTATE = _r("engineer-work state")
R_WRET = _r("program counter to return to after the work")
R_WACT = _r("activity the work is booked to")
R_WPRIO = _r("engineer priority")
R_WORDER = _r("arrival order of the engineer request")
NPR = len(_r)
_f = _Slots()
F_A = _f("a kind's own float a")
F_B = _f("a kind's own float b")
F_C = _f("a kind's own float c")
F_D = _f("a kind's own float d")
F_E = _f("a kind's own float e")
W_REMAINING = _f("engineer work remaining (days)")
W_START = _f("engineer work segment started")
W_HOURS = _f("engineer hours booked")
W_PREMIUM = _f("engineer rate multiplier")
W_ASKED = _f("engineer requested at")
NPF = len(_f)

# -- an adapter's slots: adapter i's integer slot A is ai[i * NAI + A], its float slot af[i * NAF + A]
_ai = _Slots()
AD_PROMOTIONS = _ai("promotions")
AD_IN_FLIGHT = _ai("a refresh in flight")
AD_CHECKPOINTS = _ai("checkpoints stored")
AD_REFRESHES = _ai("refreshes started")
AD_TRAIN = _ai("training attempts")
AD_SPOT = _ai("spot segments")
AD_EVALS = _ai("evaluations")
AD_REVIEWS = _ai("reviews")
AD_PROMO_K = _ai("promotion attempts")
AD_REGULATED = _ai("regulated")
NAI = len(_ai)
_af = _Slots()
AD_DEFICIT = _af("quality deficit (points)")
AD_SINCE = _af("deficit set at")
NAF = len(_af)

# -- a pool monitor's slots: mon[MON_...] --------------------------------------------------
_mon = _Slots()
MON_BUSY = _mon("busy")
MON_QUEUED = _mon("queued")
MON_LAST = _mon("last change")
MON_BUSY_AREA = _mon("busy area")
MON_QUEUE_AREA = _mon("queue area")
MON_WAIT_TOTAL = _mon("wait total")
MON_SERVED = _mon("served")
N_MON = len(_mon)

# -- keyed-random streams as plain module constants (numba reads these as compile-time ints)
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
E_SCENARIO = 0  # the entity of the scenario-wide streams (base-model releases)


class Adapters(NamedTuple):
    """The adapters' slots (``AD_*``), ``NAI`` integers and ``NAF`` floats per adapter."""

    ints: np.ndarray
    floats: np.ndarray


class Processes(NamedTuple):
    """The processes' slots (``R_*``, ``F_*``, ``W_*``) and the stack of free process ids."""

    ints: np.ndarray
    floats: np.ndarray
    free_ids: np.ndarray


def _check_layout() -> None:
    """Every category and metric has exactly one slot; every parameter is a column of the compiled run."""
    for table, kind in ((_c, "ledger category"), (_m, "metric")):
        if sorted(table.declared) != sorted(table.vocabulary) or len(set(table.declared)) != len(table.declared):
            missing = sorted(set(table.vocabulary) - set(table.declared))
            raise RuntimeError(f"the fast engine's {kind} slots do not match its vocabulary; missing: {missing}")
    for names, scenario_columns, model_columns in ((P_NAMES, SV, MV), (Q_NAMES, SC, MC)):
        unknown = [name for name, where in names if name not in (scenario_columns if where == SCENARIO else model_columns)]
        if unknown:
            raise RuntimeError(f"the fast engine reads parameters the compiled run does not have: {unknown}")


_check_layout()


def pack_parameters(run: CompiledRun) -> tuple[np.ndarray, np.ndarray]:
    """Pack a compiled run's columns into the kernel's parameter arrays.

    Parameters
    ----------
    run : CompiledRun
        The compiled run.

    Returns
    -------
    floats : ndarray [models, replications, NP]
        ``P`` of each (operating model, replication), columns in ``P_NAMES`` order.
    ints : ndarray [models, NQ]
        ``Q`` of each operating model, columns in ``Q_NAMES`` order.
    """
    n_models, n_reps = run.n_models, run.replications.shape[0]
    floats = np.empty((n_models, n_reps, NP))
    for j, (name, where) in enumerate(P_NAMES):
        floats[:, :, j] = run.scenario_values[None, :, SV[name]] if where == SCENARIO else run.model_values[:, :, MV[name]]
    ints = np.empty((n_models, NQ), dtype=np.int64)
    for j, (name, where) in enumerate(Q_NAMES):
        ints[:, j] = run.scenario_codes[SC[name]] if where == SCENARIO else run.model_codes[:, MC[name]]
    return floats, ints
