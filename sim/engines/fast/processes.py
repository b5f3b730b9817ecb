"""The processes of ``sim/engines/reference/`` as state machines: one step of each kind.

A process is a program counter (``R_PC``) and slots (``R_*``, ``F_*``). The event loop
calls its kind's step with the counter as it stands; the step returns what the process
does next:

- ``ended``: the process is over;
- ``waiting``: an event is pending, at ``own_t`` if the process scheduled its own (a
  timeout or an immediate grant), else ``-1.0`` (it waits in a pool's queue, or for an
  interrupt);
- neither: the counter moved on, and the loop calls the step again at the same instant.

Engineer work (``EngineerPool.work`` with ``Replication.engineer_work``) is a subroutine:
:func:`_start_work` enters it with the counter to return to, and while ``R_IN_WORK`` is
set the loop steps :func:`_engineer_work` instead of the process's own kind.

Every step is inlined into the event loop, so the counters a step changes (queue heads and
tails, idle reviewers, storage) are passed in and returned rather than kept in arrays.
"""

from __future__ import annotations

import math

from sim.core.choices import TEAM
from sim.core.jit import cached_njit
from sim.core.ledger import accrue, month_of, year_of
from sim.core.rng import FIXED, arrival_gap, event_ppf_shaped, exponential_time, prefixed_uniform
from sim.engines.fast.heap import H_CONTINUE, H_INTERRUPT, H_START, _push_now
from sim.engines.fast.layout import (
    AD_CHECKPOINTS,
    AD_DEFICIT,
    AD_EVALS,
    AD_IN_FLIGHT,
    AD_PROMO_K,
    AD_PROMOTIONS,
    AD_REFRESHES,
    AD_REGULATED,
    AD_REVIEWS,
    AD_SINCE,
    AD_SPOT,
    AD_TRAIN,
    C_DOWNTIME,
    C_GPU_TRAINING,
    C_LABOR_COMPLIANCE,
    C_LABOR_ONCALL,
    C_LABOR_PIPELINE,
    C_SLA_CREDIT,
    C_STALENESS,
    C_STORAGE,
    C_VENDOR_INFERENCE,
    C_VENDOR_TRAINING,
    D_DETECT,
    D_DROP,
    D_EVAL_GPU,
    D_EVAL_HOURS,
    D_MTTR,
    D_PREP,
    D_REVIEW,
    D_REWORK,
    D_ROLLBACK,
    D_TRAIN,
    D_TURN,
    E_SCENARIO,
    F_A,
    F_B,
    F_C,
    F_D,
    F_E,
    M_COMPLETED,
    M_DEFICIT_DAYS,
    M_DOWNTIME_ADAPTER_HOURS,
    M_DRIFT_EVENTS,
    M_ENG_HOURS_ONCALL,
    M_ENG_HOURS_PIPELINE,
    M_EVAL_FAILURES,
    M_FORCED,
    M_GPU_HOURS,
    M_INCIDENTS,
    M_MERGED,
    M_REJECTIONS,
    M_RELEASES,
    M_REQUESTED,
    M_RESERVED_UTIL,
    M_ROLLBACKS,
    M_SLA_BREACHES,
    M_SPOT_PREEMPTIONS,
    M_STALE_DAYS,
    M_TRAINING_FAILURES,
    M_TRAINING_RUNS,
    NAF,
    NAI,
    NPF,
    NPR,
    P_AFTER_MULT,
    P_AFTER_SHARE,
    P_BAD_ROLLOUT,
    P_CKPT_GB,
    P_CKPT_HOURS,
    P_DETECT_CV,
    P_DETECT_MEAN,
    P_DOWN_USD,
    P_DRIFT_RATE,
    P_DROP_CV,
    P_DROP_MEAN,
    P_ENG_HPD,
    P_ESCALATION,
    P_EVAL_FAIL,
    P_EVAL_GPU_CV,
    P_EVAL_GPU_MEAN,
    P_EVAL_HOURS_CV,
    P_EVAL_HOURS_MEAN,
    P_EVAL_VENDOR_USD,
    P_GPU_ON_DEMAND,
    P_GPU_SPOT,
    P_INC_MULT,
    P_INCIDENT_RATE,
    P_INTERVAL,
    P_MIGRATION,
    P_MTTR_CV,
    P_MTTR_MEAN,
    P_PREP_CV,
    P_PREP_MEAN,
    P_REJECT,
    P_RELEASE_RATE,
    P_RESPONSE,
    P_REV_HPD,
    P_REVIEW_CV,
    P_REVIEW_MEAN,
    P_REWORK_CV,
    P_REWORK_MEAN,
    P_ROLLBACK_CV,
    P_ROLLBACK_MEAN,
    P_SEV_DOWN0,
    P_SEV_DOWN1,
    P_SEV_MTTR0,
    P_SLA_CREDIT,
    P_SLA_UPTIME,
    P_SPOT_RATE,
    P_STALE_USD,
    P_STORAGE,
    P_TRAIN_CV,
    P_TRAIN_FAIL,
    P_TRAIN_MEAN,
    P_TRAIN_TOKENS,
    P_TURN_CV,
    P_TURN_MEAN,
    P_VENDOR_TRAIN_USD,
    Q_DETECT_FAM,
    Q_DROP_FAM,
    Q_EVAL_GPU_FAM,
    Q_EVAL_HOURS_FAM,
    Q_MTTR_FAM,
    Q_PREP_FAM,
    Q_RETENTION,
    Q_REVIEW_FAM,
    Q_REWORK_FAM,
    Q_ROLLBACK_FAM,
    Q_STAGGER,
    Q_TRAIN_FAM,
    Q_TRAIN_OWNER,
    Q_TURN_FAM,
    R_A,
    R_ENT,
    R_IN_WORK,
    R_K,
    R_KIND,
    R_PC,
    R_VER,
    R_WACT,
    R_WORDER,
    R_WPRIO,
    R_WRET,
    R_WSTATE,
    S_DATA_PREP,
    S_DETECTION_DELAY,
    S_DRIFT_DROP,
    S_DRIFT_GAP,
    S_EVAL_FAIL,
    S_EVAL_GPU,
    S_EVAL_HOURS,
    S_INCIDENT_AFTER_HOURS,
    S_INCIDENT_GAP,
    S_INCIDENT_MTTR,
    S_INCIDENT_SEVERITY,
    S_RELEASE_GAP,
    S_RELEASE_RESPONSE,
    S_REVIEW_HOURS,
    S_REVIEW_REJECT,
    S_REWORK_HOURS,
    S_ROLLBACK_HOURS,
    S_ROLLOUT_BAD,
    S_SPOT_PREEMPT,
    S_TRAIN_FAIL,
    S_TRAIN_FAIL_POINT,
    S_TRAIN_WORK,
    S_VENDOR_TURNAROUND,
    SH_HALF_S2,
    SH_SIGMA,
    ST_NFREE,
    ST_NPROCS,
    URGENT,
    W_ASKED,
    W_HOURS,
    W_PREMIUM,
    W_REMAINING,
    W_START,
)
from sim.engines.fast.pools import (
    INCIDENT_PRIORITY,
    PIPELINE_PRIORITY,
    _engineer_release,
    _engineer_request,
    _gpu_acquire,
    _gpu_release,
    _reviewer_acquire,
    _reviewer_release,
)

DAYS_PER_MONTH = 365.0 / 12.0  # the months of the SLA and of storage billing: a twelfth of a 365-day year

# process kinds (R_KIND)
PROCESS_KINDS = ("drift", "detect", "schedule", "releases", "faults", "incident", "sla", "refresh")
K_DRIFT = PROCESS_KINDS.index("drift")  # drift events of adapter i
K_DETECT = PROCESS_KINDS.index("detect")  # the detection of one drift
K_SCHEDULE = PROCESS_KINDS.index("schedule")  # scheduled refreshes of adapter i
K_RELEASES = PROCESS_KINDS.index("releases")  # base-model releases
K_FAULTS = PROCESS_KINDS.index("faults")  # incident arrivals of deployment i
K_INCIDENT = PROCESS_KINDS.index("incident")  # one incident
K_SLA = PROCESS_KINDS.index("sla")  # the monthly SLA check
K_REFRESH = PROCESS_KINDS.index("refresh")  # one refresh of adapter i: the pipeline

# program counters (R_PC); every process starts at PC_START
PC_START = 0
PC_TICK = 1  # drift, schedule, releases, faults, SLA: one gap has passed
PC_DETECTED = 1  # detect: the delay has passed
PC_TEAM_REPAIRED = 1  # incident: the on-call work is done
PC_VENDOR_REPAIRED = 2  # incident: the vendor's repair time has passed
# the refresh pipeline, in the order of ``Adapter.refresh``
PC_PREP = PC_START  # data preparation (+ migration hours)
PC_TRAIN = 1  # one training attempt
PC_GPU_ASK = 2  # ask for a GPU for the next segment, or end the attempt
PC_SEGMENT = 3  # got the GPU: run a segment
PC_PREEMPTED = 4  # a spot segment was pre-empted: release the GPU
PC_SEGMENT_DONE = 5  # the segment finished: release the GPU
PC_VENDOR_DONE = 6  # the vendor's training job is back
PC_TRAINED = 7  # checkpoint, then ask for an evaluation GPU
PC_EVAL_GRANTED = 10  # evaluation GPU granted
PC_EVAL_DONE = 11  # evaluation GPU-hours done: release the GPU
PC_EVAL_HOURS = 12  # evaluation engineer hours
PC_VERDICT = 13  # evaluation verdict
PC_REVIEW = 20  # compliance review: ask for a reviewer
PC_REVIEW_GRANTED = 21  # reviewer granted
PC_REVIEW_DONE = 22  # review done: release the reviewer, accept or rework
PC_PROMOTE = 30  # promotion, maybe a bad rollout
PC_ROLLED_BACK = 31  # rollback done

# the engineer-work subroutine's states (R_WSTATE), and what its hours are booked to (R_WACT)
WS_ASK, WS_GRANTING, WS_WORKING = 0, 1, 2
ACT_PIPELINE, ACT_ONCALL = 0, 1


# -- shared helpers -------------------------------------------------------------------------
@cached_njit(inline="always")
def _event(prefix, occurrence, family, mean, cv, shape, d):
    """``keyed_event`` from a key prefix, with the lognormal shape of distribution ``d`` precomputed."""
    if family == FIXED or mean <= 0.0:
        return mean
    u = prefixed_uniform(prefix, occurrence)
    return event_ppf_shaped(family, mean, cv, shape[d, SH_SIGMA], shape[d, SH_HALF_S2], u)


@cached_njit(inline="always")
def _book(usd, t, category, amount):
    """``Ledger.book``: an amount at time ``t``, in its year (zero amounts are not booked)."""
    if amount != 0.0:
        usd[year_of(t, usd.shape[0]), category] += amount


@cached_njit(inline="always")
def _set_deficit(i, value, now, af, out, usd, usd_per_point_day):
    """``Adapter._set_deficit``: accrue staleness at the old deficit up to now, then change it."""
    if af[i * NAF + AD_DEFICIT] > 0.0 and now > af[i * NAF + AD_SINCE]:
        out[M_STALE_DAYS] += now - af[i * NAF + AD_SINCE]
        out[M_DEFICIT_DAYS] += af[i * NAF + AD_DEFICIT] * (now - af[i * NAF + AD_SINCE])
        accrue(usd, af[i * NAF + AD_SINCE], now, af[i * NAF + AD_DEFICIT] * usd_per_point_day, C_STALENESS)
    af[i * NAF + AD_DEFICIT] = value
    af[i * NAF + AD_SINCE] = now


@cached_njit(inline="always")
def _sla_month_end(month, P, usd, out, sla_down, vendor_fee):
    """``Replication.sla``'s check of one month: a credit when its downtime exceeds the SLA's allowance."""
    allowed = (1.0 - P[P_SLA_UPTIME]) * DAYS_PER_MONTH * 24.0
    if sla_down[month] > allowed:
        year = month // 12
        fee = vendor_fee[year] / 12.0
        credit = -P[P_SLA_CREDIT] * fee
        if credit != 0.0:
            usd[year, C_SLA_CREDIT] += credit
        out[M_SLA_BREACHES] += 1.0


@cached_njit(inline="always")
def _spawn(kind, entity, k, a, f_a, now, st, procs, nowq):
    """Start a process now (SimPy: ``env.process``, an URGENT Initialize event); reuse a free id."""
    pr, pf, free_ids = procs.ints, procs.floats, procs.free_ids
    if st[ST_NFREE] > 0:
        st[ST_NFREE] -= 1
        pid = free_ids[st[ST_NFREE]]
    else:
        pid = st[ST_NPROCS]
        st[ST_NPROCS] += 1
    r = pid * NPR
    pr[r + R_KIND] = kind
    pr[r + R_ENT] = entity
    pr[r + R_PC] = PC_START
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
    pr, pf = procs.ints, procs.floats
    r = pid * NPR
    pr[r + R_IN_WORK] = 1
    pr[r + R_WSTATE] = WS_ASK
    pr[r + R_WPRIO] = priority
    pr[r + R_WACT] = activity
    f = pid * NPF
    pf[f + W_HOURS] = hours
    pf[f + W_REMAINING] = days
    pf[f + W_PREMIUM] = premium
    pr[r + R_WRET] = return_pc


# -- engineer work ------------------------------------------------------------------------------
@cached_njit(inline="always")
def _engineer_work(pid, ri, fi, how, now, n_engineers, engineers, engineer_rate, usd, out, procs, st, nowq, n_users, n_ewait, eng_arrivals):
    """One step of the engineer-work subroutine: ask, be granted, work (perhaps pre-empted), book the hours.

    Returns ``(waiting, own_t, how, n_users, n_ewait, eng_arrivals)``.
    """
    pr, pf = procs.ints, procs.floats
    own_t = -1.0
    waiting = False
    state = pr[ri + R_WSTATE]
    if state == WS_ASK:
        prio = pr[ri + R_WPRIO]
        order = eng_arrivals
        eng_arrivals += 1
        pf[fi + W_ASKED] = now
        pr[ri + R_WORDER] = order
        pf[fi + W_START] = math.nan
        granted, n_users, n_ewait = _engineer_request(pid, prio, order, now, n_engineers, engineers, n_users, n_ewait, out, pr, st, nowq)
        if granted:
            own_t = now
        pr[ri + R_WSTATE] = WS_GRANTING
        waiting = True
    elif state == WS_GRANTING:
        if how == H_INTERRUPT:
            pr[ri + R_WSTATE] = WS_ASK  # granted and pre-empted in the same instant: ask again
            how = H_CONTINUE
        else:
            pf[fi + W_START] = now
            own_t = now + pf[fi + W_REMAINING]
            pr[ri + R_WSTATE] = WS_WORKING
            waiting = True
    else:  # WS_WORKING
        finished = False
        if how == H_INTERRUPT:
            pf[fi + W_REMAINING] -= now - pf[fi + W_START]
            if pf[fi + W_REMAINING] > 0.0:
                pr[ri + R_WSTATE] = WS_ASK
                how = H_CONTINUE
            else:
                finished = True
        else:
            pf[fi + W_REMAINING] = 0.0
            n_users, n_ewait = _engineer_release(pid, now, engineers, n_users, n_ewait, pr, st, nowq)
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
    return waiting, own_t, how, n_users, n_ewait, eng_arrivals


# -- arrivals: drift, scheduled refreshes, base-model releases, incidents, the SLA month ---------
# Each returns ``(ended, waiting, own_t)``.
@cached_njit(inline="always")
def _drift(ri, i, pc, now, P, Q, kp, shape, usd, out, ai, af, deterministic, st, procs, nowq):
    """``Replication.drift``: quality drops at Poisson (or even) gaps, each starting a detection."""
    pr = procs.ints
    rate = P[P_DRIFT_RATE]
    if pc == PC_START:
        if rate <= 0.0:
            return True, False, -1.0
        pr[ri + R_K] = 0
    else:
        k = pr[ri + R_K]
        drop = _event(kp[S_DRIFT_DROP, i], k, Q[Q_DROP_FAM], P[P_DROP_MEAN], P[P_DROP_CV], shape, D_DROP)
        out[M_DRIFT_EVENTS] += 1.0
        # set deficit (accrue staleness first)
        _set_deficit(i, af[i * NAF + AD_DEFICIT] + drop, now, af, out, usd, P[P_STALE_USD])
        # start detection
        _spawn(K_DETECT, i, k, ai[i * NAI + AD_PROMOTIONS], 0.0, now, st, procs, nowq)
        pr[ri + R_K] = k + 1
    u = 0.5 if deterministic else prefixed_uniform(kp[S_DRIFT_GAP, i], pr[ri + R_K])
    gap = arrival_gap(u, rate, deterministic)
    pr[ri + R_PC] = PC_TICK
    return False, True, now + gap


@cached_njit(inline="always")
def _detect(ri, i, pc, now, P, Q, kp, shape, out, ai, st, procs, nowq):
    """``Replication.detect``: after the detection delay, a refresh unless one was promoted since the drift."""
    pr = procs.ints
    if pc == PC_START:
        k = pr[ri + R_K]
        delay = _event(kp[S_DETECTION_DELAY, i], k, Q[Q_DETECT_FAM], P[P_DETECT_MEAN], P[P_DETECT_CV], shape, D_DETECT)
        pr[ri + R_PC] = PC_DETECTED
        if delay > 0.0:
            return False, True, now + delay
        return False, False, -1.0
    if ai[i * NAI + AD_PROMOTIONS] != pr[ri + R_A]:
        return True, False, -1.0
    # request a refresh (reason: drift)
    _request_refresh(i, 0.0, now, out, ai, st, procs, nowq)
    return True, False, -1.0


@cached_njit(inline="always")
def _schedule(ri, i, pc, now, P, Q, n_adapters, out, ai, st, procs, nowq):
    """``Replication.schedule``: a refresh every interval, staggered over the adapters if asked."""
    pr = procs.ints
    interval = P[P_INTERVAL]
    if pc == PC_START:
        if interval <= 0.0:
            return True, False, -1.0
        pr[ri + R_K] = 1
    else:
        _request_refresh(i, 0.0, now, out, ai, st, procs, nowq)
        pr[ri + R_K] += 1
    offset = interval * i / n_adapters if Q[Q_STAGGER] == 1 else 0.0
    due = interval * pr[ri + R_K] + offset
    pr[ri + R_PC] = PC_TICK
    return False, True, now + (due - now)


@cached_njit(inline="always")
def _releases(ri, pc, now, P, kp, n_adapters, out, ai, deterministic, st, procs, nowq):
    """``Replication.releases``: base-model releases; one the organisation responds to refreshes every adapter."""
    pr = procs.ints
    rate = P[P_RELEASE_RATE]
    if pc == PC_START:
        if rate <= 0.0:
            return True, False, -1.0
        pr[ri + R_K] = 0
    else:
        k = pr[ri + R_K]
        out[M_RELEASES] += 1.0
        if prefixed_uniform(kp[S_RELEASE_RESPONSE, E_SCENARIO], k) < P[P_RESPONSE]:
            out[M_FORCED] += 1.0
            for a in range(n_adapters):
                _request_refresh(a, P[P_MIGRATION], now, out, ai, st, procs, nowq)
        pr[ri + R_K] = k + 1
    u = 0.5 if deterministic else prefixed_uniform(kp[S_RELEASE_GAP, E_SCENARIO], pr[ri + R_K])
    gap = arrival_gap(u, rate, deterministic)
    pr[ri + R_PC] = PC_TICK
    return False, True, now + gap


@cached_njit(inline="always")
def _faults(ri, i, pc, now, P, kp, deterministic, st, procs, nowq):
    """``Replication.faults``: incidents of deployment i, each its own process."""
    pr = procs.ints
    rate = P[P_INCIDENT_RATE] * P[P_INC_MULT]
    if pc == PC_START:
        if rate <= 0.0:
            return True, False, -1.0
        pr[ri + R_K] = 0
    else:
        k = pr[ri + R_K]
        _spawn(K_INCIDENT, i, k, 0, 0.0, now, st, procs, nowq)
        pr[ri + R_K] = k + 1
    u = 0.5 if deterministic else prefixed_uniform(kp[S_INCIDENT_GAP, i], pr[ri + R_K])
    gap = arrival_gap(u, rate, deterministic)
    pr[ri + R_PC] = PC_TICK
    return False, True, now + gap


@cached_njit(inline="always")
def _incident(
    pid, ri, fi, i, pc, now, P, Q, kp, shape, usd, out, d_size, sla_down, months, team_serving, sev_cum0, sev_cum1, engineer_rate, procs
):
    """``Incidents.incident``: a severity and a repair, by the team's on-call engineers or by the vendor."""
    pr, pf = procs.ints, procs.floats
    k = pr[ri + R_K]
    if pc == PC_START:
        u = prefixed_uniform(kp[S_INCIDENT_SEVERITY, i], k)
        severity = 0 if u < sev_cum0 else (1 if u < sev_cum1 else 2)
        multiplier = P[P_SEV_MTTR0 + severity]
        mttr = _event(kp[S_INCIDENT_MTTR, i], k, Q[Q_MTTR_FAM], P[P_MTTR_MEAN], P[P_MTTR_CV], shape, D_MTTR) * multiplier
        after = prefixed_uniform(kp[S_INCIDENT_AFTER_HOURS, i], k) < P[P_AFTER_SHARE]
        premium = P[P_AFTER_MULT] if after else 1.0
        out[M_INCIDENTS] += 1.0
        pr[ri + R_A] = severity
        pf[fi + F_A] = now  # started
        pf[fi + F_B] = mttr
        pf[fi + F_C] = premium
        if team_serving:
            pr[ri + R_PC] = PC_TEAM_REPAIRED
            if mttr > 0.0:
                _start_work(pid, mttr, mttr / 24.0, INCIDENT_PRIORITY, ACT_ONCALL, premium, PC_TEAM_REPAIRED, procs)
            return False, False, -1.0
        pr[ri + R_PC] = PC_VENDOR_REPAIRED
        if mttr > 0.0:
            return False, True, now + mttr / 24.0
        return False, False, -1.0
    severity = pr[ri + R_A]
    fraction = P[P_SEV_DOWN0 + severity]
    if pc == PC_TEAM_REPAIRED:
        outage = (now - pf[fi + F_A]) * 24.0
    else:
        outage = pf[fi + F_B]
        _book(usd, now, C_LABOR_ONCALL, P[P_ESCALATION] * engineer_rate * pf[fi + F_C])
        out[M_ENG_HOURS_ONCALL] += P[P_ESCALATION]
        sla_down[month_of(now, months)] += outage * fraction
    out[M_DOWNTIME_ADAPTER_HOURS] += outage * fraction * d_size[i]
    _book(usd, now, C_DOWNTIME, outage * fraction * P[P_DOWN_USD] * d_size[i])
    return True, False, -1.0


@cached_njit(inline="always")
def _sla(ri, pc, now, P, usd, out, sla_applies, months, sla_down, vendor_fee, procs):
    """``Replication.sla``: at each month's end, a credit if the vendor's downtime broke the SLA (the last month at close)."""
    pr = procs.ints
    if not sla_applies:
        return True, False, -1.0
    month = pr[ri + R_K]
    if pc == PC_TICK:
        _sla_month_end(month, P, usd, out, sla_down, vendor_fee)
        month += 1
        pr[ri + R_K] = month
    if month >= months - 1:
        return True, False, -1.0
    pr[ri + R_PC] = PC_TICK
    return False, True, now + ((month + 1) * DAYS_PER_MONTH - now)


# -- the refresh pipeline ------------------------------------------------------------------------
@cached_njit(inline="always")
def _refresh(
    pid,
    ri,
    fi,
    i,
    pc,
    now,
    P,
    Q,
    kp,
    shape,
    usd,
    out,
    ai,
    af,
    n_gpus,
    n_reserved,
    spot,
    reviewer_rate,
    gpus,
    reviewers,
    st,
    procs,
    nowq,
    gq_head,
    gq_tail,
    rq_head,
    rq_tail,
    reviewers_idle,
    storage_gb,
    storage_since,
):
    """``Adapter.refresh``, one step: prepare data, train (team GPUs or vendor), evaluate, review, promote.

    Returns ``(ended, waiting, own_t)`` and the new GPU queue head and tail, reviewer queue
    head and tail, idle reviewers, checkpoint storage and the time storage was accrued to.
    """
    pr, pf = procs.ints, procs.floats
    ended = False
    waiting = False
    own_t = -1.0
    if pc == PC_PREP:  # data preparation (+ migration hours)
        n = ai[i * NAI + AD_REFRESHES]
        ai[i * NAI + AD_REFRESHES] += 1
        hours = _event(kp[S_DATA_PREP, i], n, Q[Q_PREP_FAM], P[P_PREP_MEAN], P[P_PREP_CV], shape, D_PREP) + pf[fi + F_A]
        pr[ri + R_PC] = PC_TRAIN
        if hours > 0.0:
            _start_work(pid, hours, hours / P[P_ENG_HPD], PIPELINE_PRIORITY, ACT_PIPELINE, 1.0, PC_TRAIN, procs)
    elif pc == PC_TRAIN:  # one training attempt
        k = ai[i * NAI + AD_TRAIN]
        ai[i * NAI + AD_TRAIN] += 1
        out[M_TRAINING_RUNS] += 1.0
        fails = prefixed_uniform(kp[S_TRAIN_FAIL, i], k) < P[P_TRAIN_FAIL]
        pr[ri + R_A] = 1 if fails else 0
        if Q[Q_TRAIN_OWNER] == TEAM:
            work = _event(kp[S_TRAIN_WORK, i], k, Q[Q_TRAIN_FAM], P[P_TRAIN_MEAN], P[P_TRAIN_CV], shape, D_TRAIN)
            pf[fi + F_B] = work * prefixed_uniform(kp[S_TRAIN_FAIL_POINT, i], k) if fails else work  # target
            pf[fi + F_C] = 0.0  # done
            pr[ri + R_PC] = PC_GPU_ASK
        else:
            turnaround = _event(kp[S_VENDOR_TURNAROUND, i], k, Q[Q_TURN_FAM], P[P_TURN_MEAN], P[P_TURN_CV], shape, D_TURN)
            pr[ri + R_PC] = PC_VENDOR_DONE
            if turnaround > 0.0:
                own_t = now + turnaround
                waiting = True
    elif pc == PC_GPU_ASK:  # ask for a GPU, or end the attempt
        if pf[fi + F_C] < pf[fi + F_B]:
            granted, gq_tail = _gpu_acquire(pid, now, n_gpus, gpus, pr, gq_tail)
            if granted:
                own_t = now
            pr[ri + R_PC] = PC_SEGMENT
            waiting = True
        elif pr[ri + R_A] == 1:
            out[M_TRAINING_FAILURES] += 1.0
            pr[ri + R_PC] = PC_TRAIN
        else:
            pr[ri + R_PC] = PC_TRAINED
    elif pc == PC_SEGMENT:  # got the GPU in slot R_K: run a segment
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
            pr[ri + R_PC] = PC_PREEMPTED
            own_t = now + preempt_after / 24.0
        else:
            pf[fi + F_D] = remaining
            pr[ri + R_PC] = PC_SEGMENT_DONE
            own_t = now + remaining / 24.0
        waiting = True
    elif pc == PC_PREEMPTED or pc == PC_SEGMENT_DONE or pc == PC_EVAL_DONE:  # release a GPU after F_D hours
        gpu = pr[ri + R_K]
        used = pf[fi + F_D]
        if gpu >= n_reserved:
            price = P[P_GPU_SPOT] if spot else P[P_GPU_ON_DEMAND]
            _book(usd, now, C_GPU_TRAINING, used * price)
        else:  # reserved GPU-hours worked; divided by the pool's hours at close
            out[M_RESERVED_UTIL] += used
        out[M_GPU_HOURS] += used
        gq_head = _gpu_release(gpu, now, gpus, pr, gq_head, gq_tail, st, nowq)
        if pc == PC_PREEMPTED:
            ckpt = P[P_CKPT_HOURS]
            pf[fi + F_C] = math.floor((pf[fi + F_C] + used) / ckpt) * ckpt
            out[M_SPOT_PREEMPTIONS] += 1.0
            pr[ri + R_PC] = PC_GPU_ASK
        elif pc == PC_SEGMENT_DONE:
            pf[fi + F_C] = pf[fi + F_B]
            pr[ri + R_PC] = PC_GPU_ASK
        else:
            pr[ri + R_PC] = PC_EVAL_HOURS
    elif pc == PC_VENDOR_DONE:  # vendor job done
        if prefixed_uniform(kp[S_TRAIN_FAIL, i], ai[i * NAI + AD_TRAIN] - 1) < P[P_TRAIN_FAIL]:
            out[M_TRAINING_FAILURES] += 1.0
            pr[ri + R_PC] = PC_TRAIN
        else:
            _book(usd, now, C_VENDOR_TRAINING, P[P_TRAIN_TOKENS] * P[P_VENDOR_TRAIN_USD])
            pr[ri + R_PC] = PC_TRAINED
    elif pc == PC_TRAINED:  # trained: checkpoint, then evaluate
        if ai[i * NAI + AD_CHECKPOINTS] < Q[Q_RETENTION] and P[P_CKPT_GB] > 0.0:
            ai[i * NAI + AD_CHECKPOINTS] += 1
            accrue(usd, storage_since, now, storage_gb * P[P_STORAGE] / DAYS_PER_MONTH, C_STORAGE)
            storage_since = now
            storage_gb += P[P_CKPT_GB]
        k = ai[i * NAI + AD_EVALS]
        ai[i * NAI + AD_EVALS] += 1
        pr[ri + R_A] = k
        gpu_hours = _event(kp[S_EVAL_GPU, i], k, Q[Q_EVAL_GPU_FAM], P[P_EVAL_GPU_MEAN], P[P_EVAL_GPU_CV], shape, D_EVAL_GPU)
        pf[fi + F_D] = gpu_hours
        if gpu_hours > 0.0:
            granted, gq_tail = _gpu_acquire(pid, now, n_gpus, gpus, pr, gq_tail)
            if granted:
                own_t = now
            pr[ri + R_PC] = PC_EVAL_GRANTED
            waiting = True
        else:
            pr[ri + R_PC] = PC_EVAL_HOURS
    elif pc == PC_EVAL_GRANTED:  # evaluation GPU granted
        own_t = now + pf[fi + F_D] / 24.0
        pr[ri + R_PC] = PC_EVAL_DONE
        waiting = True
    elif pc == PC_EVAL_HOURS:  # evaluation engineer hours
        k = pr[ri + R_A]
        hours = _event(kp[S_EVAL_HOURS, i], k, Q[Q_EVAL_HOURS_FAM], P[P_EVAL_HOURS_MEAN], P[P_EVAL_HOURS_CV], shape, D_EVAL_HOURS)
        pr[ri + R_PC] = PC_VERDICT
        if hours > 0.0:
            _start_work(pid, hours, hours / P[P_ENG_HPD], PIPELINE_PRIORITY, ACT_PIPELINE, 1.0, PC_VERDICT, procs)
    elif pc == PC_VERDICT:  # evaluation verdict
        _book(usd, now, C_VENDOR_INFERENCE, P[P_EVAL_VENDOR_USD])
        if prefixed_uniform(kp[S_EVAL_FAIL, i], pr[ri + R_A]) < P[P_EVAL_FAIL]:
            out[M_EVAL_FAILURES] += 1.0
            pr[ri + R_PC] = PC_TRAIN
        else:
            pr[ri + R_PC] = PC_REVIEW if ai[i * NAI + AD_REGULATED] else PC_PROMOTE
    elif pc == PC_REVIEW:  # compliance review
        k = ai[i * NAI + AD_REVIEWS]
        ai[i * NAI + AD_REVIEWS] += 1
        hours = _event(kp[S_REVIEW_HOURS, i], k, Q[Q_REVIEW_FAM], P[P_REVIEW_MEAN], P[P_REVIEW_CV], shape, D_REVIEW)
        if hours <= 0.0:
            pr[ri + R_PC] = PC_PROMOTE
        else:
            pr[ri + R_A] = k
            pf[fi + F_D] = hours
            granted, reviewers_idle, rq_tail = _reviewer_acquire(pid, now, reviewers, reviewers_idle, rq_tail)
            if granted:
                own_t = now
            pr[ri + R_PC] = PC_REVIEW_GRANTED
            waiting = True
    elif pc == PC_REVIEW_GRANTED:  # reviewer granted
        own_t = now + pf[fi + F_D] / P[P_REV_HPD]
        pr[ri + R_PC] = PC_REVIEW_DONE
        waiting = True
    elif pc == PC_REVIEW_DONE:  # review done
        reviewers_idle, rq_head = _reviewer_release(now, reviewers, pr, reviewers_idle, rq_head, rq_tail, st, nowq)
        _book(usd, now, C_LABOR_COMPLIANCE, pf[fi + F_D] * reviewer_rate)
        k = pr[ri + R_A]
        if prefixed_uniform(kp[S_REVIEW_REJECT, i], k) >= P[P_REJECT]:
            pr[ri + R_PC] = PC_PROMOTE
        else:
            out[M_REJECTIONS] += 1.0
            rework = _event(kp[S_REWORK_HOURS, i], k, Q[Q_REWORK_FAM], P[P_REWORK_MEAN], P[P_REWORK_CV], shape, D_REWORK)
            pr[ri + R_PC] = PC_REVIEW
            if rework > 0.0:
                _start_work(pid, rework, rework / P[P_ENG_HPD], PIPELINE_PRIORITY, ACT_PIPELINE, 1.0, PC_REVIEW, procs)
    elif pc == PC_PROMOTE:  # promotion
        k = ai[i * NAI + AD_PROMO_K]
        ai[i * NAI + AD_PROMO_K] += 1
        if prefixed_uniform(kp[S_ROLLOUT_BAD, i], k) < P[P_BAD_ROLLOUT]:
            out[M_ROLLBACKS] += 1.0
            hours = _event(kp[S_ROLLBACK_HOURS, i], k, Q[Q_ROLLBACK_FAM], P[P_ROLLBACK_MEAN], P[P_ROLLBACK_CV], shape, D_ROLLBACK)
            pf[fi + F_E] = now  # started
            pr[ri + R_PC] = PC_ROLLED_BACK
            if hours > 0.0:
                _start_work(pid, hours, hours / 24.0, INCIDENT_PRIORITY, ACT_ONCALL, 1.0, PC_ROLLED_BACK, procs)
        else:
            ai[i * NAI + AD_PROMOTIONS] += 1
            ai[i * NAI + AD_IN_FLIGHT] = False
            _set_deficit(i, 0.0, now, af, out, usd, P[P_STALE_USD])
            out[M_COMPLETED] += 1.0
            ended = True
    else:  # PC_ROLLED_BACK
        outage = (now - pf[fi + F_E]) * 24.0
        fraction = P[P_SEV_DOWN1]
        out[M_DOWNTIME_ADAPTER_HOURS] += outage * fraction * 1
        _book(usd, now, C_DOWNTIME, outage * fraction * P[P_DOWN_USD] * 1)
        ai[i * NAI + AD_IN_FLIGHT] = False
        _request_refresh(i, 0.0, now, out, ai, st, procs, nowq)  # reason: rollback
        ended = True
    return ended, waiting, own_t, gq_head, gq_tail, rq_head, rq_tail, reviewers_idle, storage_gb, storage_since
