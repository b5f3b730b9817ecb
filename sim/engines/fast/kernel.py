"""The fast engine's event loop, one replication around it, and :func:`run_kernel`.

The event loop (``_advance``) never creates or re-binds an array, so it is
compiled without numba's reference counting (``_nrt=False``); when a table needs
room it returns to ``_replication``, which grows it and calls again. The loop
keeps its counters in local variables and hands them over in the ``st`` and
``sf`` arrays (slots ``ST_*``, ``SF_*`` of :mod:`sim.engines.fast.layout`) only
when it returns.

Each event resumes one process: the loop steps it (:mod:`sim.engines.fast.processes`)
until it ends or waits, then schedules its own next event, if it made one. A
process whose own next event would be popped next anyway is resumed inline
(exact).

The Python wrapper :func:`run_kernel` packs a :class:`~models.compile.CompiledRun`
into two parameter arrays and runs replications in parallel with ``prange``.
Every replication writes only its own slice: results do not depend on thread
count or chunking.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from models.compile import CompiledRun
from sim.core.choices import DETERMINISTIC, SHARED, SPOT, TEAM
from sim.core.jit import cached_njit
from sim.core.ledger import CATEGORIES, accrue, tokens_per_adapter_year_m
from sim.core.metrics import METRICS
from sim.core.rng import key_prefixes, lognormal_shape, prefixed_uniform
from sim.engines.capacity import platform_fte_counted, reserved_gpus_paid, reserved_pool_size, serving_year
from sim.engines.fast.heap import (
    H_CONTINUE,
    H_RESUME,
    H_START,
    HEAP_ROOT,
    VER_MASK,
    Heap,
    NowQueues,
    _heap_pop,
    _heap_push,
    _nowq_short,
    _order_key,
    _push,
    _push_now,
    _unpack,
)
from sim.engines.fast.layout import (
    AD_DEFICIT,
    AD_IN_FLIGHT,
    AD_REGULATED,
    C_GPU_SERVING,
    C_GPU_TRAINING,
    C_LABOR_COMPLIANCE,
    C_LABOR_PLATFORM,
    C_MONITORING,
    C_STORAGE,
    C_VENDOR_INFERENCE,
    C_VENDOR_PLATFORM,
    M_ENG_UTIL,
    M_ENG_WAIT,
    M_EVENTS,
    M_GPU_BUSY,
    M_GPU_QUEUE,
    M_GPU_UTIL,
    M_GPU_WAIT,
    M_IN_FLIGHT,
    M_NONE,
    M_PLATFORM_FTE,
    M_RESERVED_PAID,
    M_RESERVED_UTIL,
    M_REVIEW_BACKLOG,
    M_REVIEW_UTIL,
    M_REVIEW_WAIT,
    M_SERVING_GPU_HOURS,
    M_SERVING_UTIL,
    M_TRUNCATED,
    M_UNSTABLE_ENG,
    M_UNSTABLE_GPU,
    M_UNSTABLE_REVIEW,
    N_GPU_CLASSES,
    N_MON,
    N_PRIORITIES,
    N_SF,
    N_SHAPE,
    N_ST,
    N_STREAMS,
    NAF,
    NAI,
    NORMAL,
    NPF,
    NPR,
    P_AUDIT_HOURS,
    P_BASE_FTE,
    P_ENG_ANNUAL,
    P_EXISTING_FTE,
    P_EXISTING_GPUS,
    P_EXISTING_MONITORING,
    P_EXISTING_SHARE,
    P_FTE_PER_ADAPTER,
    P_GPU_RESERVED,
    P_GROWTH,
    P_MAX_FTE,
    P_MON_BUILD,
    P_MON_YEAR,
    P_REGULATED,
    P_REV_ANNUAL,
    P_SERVE_DEPLOY_USD,
    P_SERVE_PRICE,
    P_SERVE_REL,
    P_SERVE_TOKEN_USD,
    P_SERVE_TPH,
    P_SERVE_UTIL,
    P_SEV_P0,
    P_SEV_P1,
    P_SLA_CREDIT,
    P_STALE_USD,
    P_STORAGE,
    P_TOKENS,
    P_VENDOR_PLATFORM,
    P_WORK_HOURS,
    Q_ADAPTERS,
    Q_APD,
    Q_ARRIVALS,
    Q_BURST,
    Q_BURST_TIER,
    Q_ENGINEERS,
    Q_GPU_CLASS,
    Q_MIN_REPLICAS,
    Q_RESERVED,
    Q_REVIEWERS,
    Q_SCALE_TO_ZERO,
    Q_SERVE_MODE,
    Q_SERVE_OWNER,
    R_ENT,
    R_IN_WORK,
    R_K,
    R_KIND,
    R_PC,
    R_VER,
    S_REGULATED,
    SF_NOW,
    SF_STORAGE_GB,
    SF_STORAGE_SINCE,
    SH_HALF_S2,
    SH_SIGMA,
    SHAPED_CVS,
    ST_ENG_ARRIVALS,
    ST_ENG_USERS,
    ST_ENG_WAITING,
    ST_EVENTS,
    ST_GQ_HEAD,
    ST_GQ_TAIL,
    ST_HN,
    ST_NFREE,
    ST_NOWQ_HEAD,
    ST_NOWQ_TAIL,
    ST_NPROCS,
    ST_REVIEWERS_IDLE,
    ST_RQ_HEAD,
    ST_RQ_TAIL,
    ST_SEQ,
    URGENT,
    Adapters,
    Processes,
    pack_parameters,
)
from sim.engines.fast.pools import EngineerPool, GpuPool, ReviewerPool, _monitor_summary
from sim.engines.fast.processes import (
    DAYS_PER_MONTH,
    K_DETECT,
    K_DRIFT,
    K_FAULTS,
    K_INCIDENT,
    K_RELEASES,
    K_SCHEDULE,
    K_SLA,
    PC_START,
    _detect,
    _drift,
    _engineer_work,
    _faults,
    _incident,
    _refresh,
    _releases,
    _schedule,
    _set_deficit,
    _sla,
    _sla_month_end,
)

__all__ = ["N_STREAMS", "pack_parameters", "run_kernel"]

# what _advance returns to _replication
ADVANCE_DONE, ADVANCE_TRUNCATED, ADVANCE_GROW = 0, 1, 2
FROM_HEAP = -1  # the next event's source, when it is not a now-queue (those are their priority)


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


@cached_njit()
def _grow_f(a, n):
    """A copy of ``a`` with room for ``n`` entries (the new ones uninitialised)."""
    b = np.empty(n, a.dtype)
    b[: a.shape[0]] = a
    return b


# -- one replication of one operating model -------------------------------------------------
@cached_njit(_nrt=False)
def _advance(
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
    gpus,
    reviewers,
    engineers,
    st,
    sf,
):
    """Process events until the horizon, the event cap, or a pool or table needs to grow.

    No array is created or re-bound in here, so it runs without reference counting
    (``_nrt=False``): with it, every inlined helper taking an array cost two atomic operations.
    """
    ai, af = adapters.ints, adapters.floats
    pr, free_ids = procs.ints, procs.free_ids
    ht, hk, hl = heap.times, heap.keys, heap.payloads
    now_seqs, now_payloads = nowq.seqs, nowq.payloads  # entry j of priority p at N_PRIORITIES * j + p
    gq_head = st[ST_GQ_HEAD]
    gq_tail = st[ST_GQ_TAIL]
    rq_head = st[ST_RQ_HEAD]
    rq_tail = st[ST_RQ_TAIL]
    reviewers_idle = st[ST_REVIEWERS_IDLE]
    n_users = st[ST_ENG_USERS]
    n_ewait = st[ST_ENG_WAITING]
    eng_arrivals = st[ST_ENG_ARRIVALS]
    events = st[ST_EVENTS]
    now = sf[SF_NOW]
    storage_gb = sf[SF_STORAGE_GB]
    storage_since = sf[SF_STORAGE_SINCE]
    n_adapters = Q[Q_ADAPTERS]
    deterministic = Q[Q_ARRIVALS] == DETERMINISTIC
    engineer_rate = P[P_ENG_ANNUAL] / P[P_WORK_HOURS]
    reviewer_rate = P[P_REV_ANNUAL] / P[P_WORK_HOURS]
    sev_cum0 = P[P_SEV_P0]
    sev_cum1 = P[P_SEV_P0] + P[P_SEV_P1]
    team_serving = Q[Q_SERVE_OWNER] == TEAM
    spot = Q[Q_BURST_TIER] == SPOT
    n_reserved = reserved_pool_size(Q[Q_RESERVED], Q[Q_BURST], int(P[P_EXISTING_GPUS]))
    n_gpus = n_reserved + Q[Q_BURST]
    n_engineers = Q[Q_ENGINEERS]
    sla_applies = (not team_serving) and P[P_SLA_CREDIT] > 0.0
    cap = free_ids.shape[0]
    hcap = ht.shape[0]
    gq_room = gpus.queue_pid.shape[0]
    rq_room = reviewers.queue_pid.shape[0]
    status = ADVANCE_DONE
    while True:
        # the next event: the heap's root, or the head of the first non-empty now-queue (due now,
        # in sequence order) unless the root is due now and comes before it
        source = FROM_HEAP
        q = URGENT if st[ST_NOWQ_TAIL + URGENT] > st[ST_NOWQ_HEAD + URGENT] else NORMAL
        if st[ST_NOWQ_TAIL + q] > st[ST_NOWQ_HEAD + q]:
            source = q
            if st[ST_HN] > 0 and ht[HEAP_ROOT] == now and hk[HEAP_ROOT] < _order_key(q, now_seqs[N_PRIORITIES * st[ST_NOWQ_HEAD + q] + q]):
                source = FROM_HEAP
        if source < 0 and (st[ST_HN] == 0 or ht[HEAP_ROOT] >= horizon):
            break
        if _tables_short(st, n_adapters, nowq, cap, hcap, gq_tail, gq_room, rq_tail, rq_room):
            status = ADVANCE_GROW
            break
        if source < 0:
            now = ht[HEAP_ROOT]
            payload = hl[HEAP_ROOT]
            _heap_pop(ht, hk, hl, st[ST_HN])
            st[ST_HN] -= 1
        else:
            head = st[ST_NOWQ_HEAD + source]
            payload = now_payloads[N_PRIORITIES * head + source]
            if head + 1 == st[ST_NOWQ_TAIL + source]:  # emptied: start again at the front
                st[ST_NOWQ_HEAD + source] = 0
                st[ST_NOWQ_TAIL + source] = 0
            else:
                st[ST_NOWQ_HEAD + source] = head + 1
        pid, ver, how = _unpack(payload)
        ri = pid * NPR  # this process's slots in the integer and float tables
        fi = pid * NPF
        events += 1
        if (pr[ri + R_VER] & VER_MASK) == ver:
            kind = pr[ri + R_KIND]
            i = pr[ri + R_ENT]
            own_t = -1.0  # time of this process's own next event, if it pushed one
            while True:
                ended = False
                waiting = False
                while not (ended or waiting):
                    if pr[ri + R_IN_WORK]:  # engineer work, a subroutine of the pipeline and incidents
                        waiting, own_t, how, n_users, n_ewait, eng_arrivals = _engineer_work(
                            pid,
                            ri,
                            fi,
                            how,
                            now,
                            n_engineers,
                            engineers,
                            engineer_rate,
                            usd,
                            out,
                            procs,
                            st,
                            nowq,
                            n_users,
                            n_ewait,
                            eng_arrivals,
                        )
                        continue
                    pc = pr[ri + R_PC]
                    # each step either waits (an event is pending), ends, or moves pc on
                    if kind == K_DRIFT:
                        ended, waiting, own_t = _drift(ri, i, pc, now, P, Q, kp, shape, usd, out, ai, af, deterministic, st, procs, nowq)
                    elif kind == K_DETECT:
                        ended, waiting, own_t = _detect(ri, i, pc, now, P, Q, kp, shape, out, ai, st, procs, nowq)
                    elif kind == K_SCHEDULE:
                        ended, waiting, own_t = _schedule(ri, i, pc, now, P, Q, n_adapters, out, ai, st, procs, nowq)
                    elif kind == K_RELEASES:
                        ended, waiting, own_t = _releases(ri, pc, now, P, kp, n_adapters, out, ai, deterministic, st, procs, nowq)
                    elif kind == K_FAULTS:
                        ended, waiting, own_t = _faults(ri, i, pc, now, P, kp, deterministic, st, procs, nowq)
                    elif kind == K_INCIDENT:
                        ended, waiting, own_t = _incident(
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
                            d_size,
                            sla_down,
                            months,
                            team_serving,
                            sev_cum0,
                            sev_cum1,
                            engineer_rate,
                            procs,
                        )
                    elif kind == K_SLA:
                        ended, waiting, own_t = _sla(ri, pc, now, P, usd, out, sla_applies, months, sla_down, vendor_fee, procs)
                    else:  # K_REFRESH: the pipeline of adapter i
                        (ended, waiting, own_t, gq_head, gq_tail, rq_head, rq_tail, reviewers_idle, storage_gb, storage_since) = _refresh(
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
                        )
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
                    (st[ST_HN] == 0 or ht[HEAP_ROOT] > own_t)
                    and st[ST_NOWQ_TAIL + URGENT] == 0  # both empty, so room is as at the loop's top
                    and st[ST_NOWQ_TAIL + NORMAL] == 0
                    and own_t < horizon
                    and events + 1 < max_events
                    and not _tables_short(st, n_adapters, nowq, cap, hcap, gq_tail, gq_room, rq_tail, rq_room)
                ):
                    now = own_t
                    own_t = -1.0
                    how = H_RESUME
                    events += 1
                    continue
                if own_t == now:
                    _push_now(nowq, st, NORMAL, pid, pr[ri + R_VER], H_RESUME)
                else:
                    _push(heap, st, own_t, NORMAL, pid, pr[ri + R_VER], H_RESUME)
                break
        if events >= max_events:
            status = ADVANCE_TRUNCATED
            break
    st[ST_GQ_HEAD] = gq_head
    st[ST_GQ_TAIL] = gq_tail
    st[ST_RQ_HEAD] = rq_head
    st[ST_RQ_TAIL] = rq_tail
    st[ST_REVIEWERS_IDLE] = reviewers_idle
    st[ST_ENG_USERS] = n_users
    st[ST_ENG_WAITING] = n_ewait
    st[ST_ENG_ARRIVALS] = eng_arrivals
    st[ST_EVENTS] = events
    sf[SF_NOW] = now
    sf[SF_STORAGE_GB] = storage_gb
    sf[SF_STORAGE_SINCE] = storage_since
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
    shape = np.empty((len(SHAPED_CVS), N_SHAPE))
    for d in range(len(SHAPED_CVS)):
        sigma, half_s2 = lognormal_shape(P[SHAPED_CVS[d]])
        shape[d, SH_SIGMA] = sigma
        shape[d, SH_HALF_S2] = half_s2

    # processes
    cap = 16 + 4 * n_adapters + 2 * n_deploy
    pr = np.zeros(cap * NPR, np.int64)  # integer slots, NPR per process
    pf = np.zeros(cap * NPF)  # float slots, NPF per process
    free_ids = np.empty(cap, np.int64)
    n_procs = 0

    # event heap
    hcap = 2 * cap
    ht = np.empty(hcap)
    hk = np.empty(hcap, np.int64)
    hl = np.empty(hcap, np.int64)
    hn = 0
    seq = 0
    # the now-queues: sequence numbers and payloads, the priorities interleaved
    now_room = n_adapters + 16  # grows on a burst of simultaneous events
    now_seqs = np.empty(N_PRIORITIES * now_room, np.int64)
    now_payloads = np.empty(N_PRIORITIES * now_room, np.int64)

    # pools
    gpu_busy = np.zeros(max(n_gpus, 1), np.bool_)
    gq_pid = np.empty(cap, np.int64)
    gq_asked = np.empty(cap)
    rq_pid = np.empty(cap, np.int64)
    rq_asked = np.empty(cap)
    eu_pid = np.empty(max(n_engineers, 1), np.int64)  # users in grant order
    eu_prio = np.empty(max(n_engineers, 1), np.int64)
    eu_asked = np.empty(max(n_engineers, 1))
    ew_pid = np.empty(cap, np.int64)  # waiting, sorted by (priority, asked, order)
    ew_prio = np.empty(cap, np.int64)
    ew_asked = np.empty(cap)
    ew_order = np.empty(cap, np.int64)
    gpu_mon = np.zeros(N_MON)
    eng_mon = np.zeros(N_MON)
    rev_mon = np.zeros(N_MON)

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
        pr[pid * NPR + R_PC] = PC_START
        pr[pid * NPR + R_K] = 0
        _heap_push(ht, hk, hl, hn, 0.0, URGENT, seq, pid, pr[pid * NPR + R_VER], H_START)
        hn += 1
        seq += 1

    # the loop's counters: no free ids, empty pool queues and now-queues, every reviewer idle
    st = np.zeros(N_ST, np.int64)
    st[ST_HN] = hn
    st[ST_SEQ] = seq
    st[ST_NPROCS] = n_procs
    st[ST_REVIEWERS_IDLE] = n_reviewers
    sf = np.zeros(N_SF)  # time 0, no storage held
    adapters = Adapters(ints=ai, floats=af)
    while True:
        # (re)bundled each time: growth below re-binds some of the arrays
        procs = Processes(ints=pr, floats=pf, free_ids=free_ids)
        heap = Heap(times=ht, keys=hk, payloads=hl)
        nowq = NowQueues(seqs=now_seqs, payloads=now_payloads)
        gpus = GpuPool(busy=gpu_busy, queue_pid=gq_pid, queue_asked=gq_asked, monitor=gpu_mon)
        reviewers = ReviewerPool(queue_pid=rq_pid, queue_asked=rq_asked, monitor=rev_mon)
        engineers = EngineerPool(
            user_pid=eu_pid,
            user_prio=eu_prio,
            user_asked=eu_asked,
            wait_pid=ew_pid,
            wait_prio=ew_prio,
            wait_asked=ew_asked,
            wait_order=ew_order,
            monitor=eng_mon,
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
            gpus,
            reviewers,
            engineers,
            st,
            sf,
        )
        if status != ADVANCE_GROW:
            break
        # grow the tables (rare): compact the FIFO queues, double what is short of room
        hn, n_procs, n_free = st[ST_HN], st[ST_NPROCS], st[ST_NFREE]
        gq_head, gq_tail, rq_head, rq_tail = st[ST_GQ_HEAD], st[ST_GQ_TAIL], st[ST_RQ_HEAD], st[ST_RQ_TAIL]
        live = gq_tail - gq_head
        gq_pid[:live] = gq_pid[gq_head:gq_tail].copy()
        gq_asked[:live] = gq_asked[gq_head:gq_tail].copy()
        st[ST_GQ_HEAD], st[ST_GQ_TAIL] = 0, live
        live = rq_tail - rq_head
        rq_pid[:live] = rq_pid[rq_head:rq_tail].copy()
        rq_asked[:live] = rq_asked[rq_head:rq_tail].copy()
        st[ST_RQ_HEAD], st[ST_RQ_TAIL] = 0, live
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
        if st[ST_GQ_TAIL] + 1 >= gq_pid.shape[0]:
            gq_pid = _grow_f(gq_pid, 2 * gq_pid.shape[0])
            gq_asked = _grow_f(gq_asked, 2 * gq_asked.shape[0])
        if st[ST_RQ_TAIL] + 1 >= rq_pid.shape[0]:
            rq_pid = _grow_f(rq_pid, 2 * rq_pid.shape[0])
            rq_asked = _grow_f(rq_asked, 2 * rq_asked.shape[0])
    truncated = status == ADVANCE_TRUNCATED
    events = st[ST_EVENTS]
    now, storage_gb, storage_since = sf[SF_NOW], sf[SF_STORAGE_GB], sf[SF_STORAGE_SINCE]

    end = min(now, horizon) if truncated else horizon
    # close: staleness, storage, last SLA month, fixed costs, monitors
    for a in range(n_adapters):
        _set_deficit(a, af[a * NAF + AD_DEFICIT], end, af, out, usd, P[P_STALE_USD])
    accrue(usd, storage_since, end, storage_gb * P[P_STORAGE] / DAYS_PER_MONTH, C_STORAGE)
    if sla_applies:
        _sla_month_end(months - 1, P, usd, out, sla_down, vendor_fee)
    fte = platform_fte_counted(P[P_BASE_FTE], P[P_FTE_PER_ADAPTER], P[P_MAX_FTE], n_adapters, P[P_EXISTING_FTE], P[P_EXISTING_SHARE])
    paid_gpus = reserved_gpus_paid(Q[Q_RESERVED], int(P[P_EXISTING_GPUS]))
    out[M_PLATFORM_FTE] = fte
    out[M_RESERVED_PAID] = paid_gpus
    serving_prices = P[P_SERVE_PRICE : P_SERVE_PRICE + N_GPU_CLASSES]
    serving_relative = P[P_SERVE_REL : P_SERVE_REL + N_GPU_CLASSES]
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
    _monitor_summary(eng_mon, end, n_engineers, out, M_ENG_UTIL, M_NONE, M_NONE, M_ENG_WAIT, M_UNSTABLE_ENG, 24.0)
    _monitor_summary(rev_mon, end, n_reviewers, out, M_REVIEW_UTIL, M_NONE, M_REVIEW_BACKLOG, M_REVIEW_WAIT, M_UNSTABLE_REVIEW, 1.0)
    in_flight = 0
    for a in range(n_adapters):
        if ai[a * NAI + AD_IN_FLIGHT]:
            in_flight += 1
    out[M_IN_FLIGHT] = in_flight
    out[M_TRUNCATED] = 1.0 if truncated else 0.0
    out[M_EVENTS] = events


@cached_njit(parallel=True)
def _run_all(P, Q, seed, reps, years, max_events, usd, out):
    """Every replication of every model: ``_replication`` over ``prange``, each writing only its own slice."""
    n_models = P.shape[0]
    n_reps = P.shape[1]
    # Models interleaved, so each thread's static share of jobs holds the same mix of models.
    for job in prange(n_models * n_reps):
        r = job // n_models
        m = job - r * n_models
        _replication(P[m, r], Q[m], seed, reps[r], years, max_events, usd[m, r], out[m, r])


def run_kernel(run: CompiledRun) -> tuple[np.ndarray, np.ndarray]:
    """Run every replication of every operating model of a compiled run.

    Parameters
    ----------
    run : CompiledRun
        The compiled run (:func:`models.compile.compile_config`).

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
