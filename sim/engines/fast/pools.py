"""The GPU, engineer and reviewer pools: the grant rules and monitors of ``sim/engines/reference/resources.py``.

A pool's arrays live in a named tuple made once per replication; its counters (queue
heads and tails, idle reviewers, engineers in use) are scalars of the event loop, so each
operation takes the counters it changes and returns their new values. A grant that is
not immediate resumes the waiting process through the now-queue (NORMAL), as SimPy's
resource does; a pre-empted engineer's process gets an URGENT interrupt.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sim.core.jit import cached_njit
from sim.engines.fast.heap import H_INTERRUPT, H_RESUME, _push_now
from sim.engines.fast.layout import (
    M_ENG_PREEMPTIONS,
    MON_BUSY,
    MON_BUSY_AREA,
    MON_LAST,
    MON_QUEUE_AREA,
    MON_QUEUED,
    MON_SERVED,
    MON_WAIT_TOTAL,
    NORMAL,
    NPR,
    R_K,
    R_VER,
    URGENT,
)

# engineer requests: lower is more urgent; an incident pre-empts pipeline work
INCIDENT_PRIORITY, PIPELINE_PRIORITY = 0, 1


class GpuPool(NamedTuple):
    """GPUs (reserved first, then burst) and the FIFO queue of processes waiting for one."""

    busy: np.ndarray
    queue_pid: np.ndarray
    queue_asked: np.ndarray
    monitor: np.ndarray


class ReviewerPool(NamedTuple):
    """The FIFO queue of reviews waiting for a reviewer (the idle count is a loop counter)."""

    queue_pid: np.ndarray
    queue_asked: np.ndarray
    monitor: np.ndarray


class EngineerPool(NamedTuple):
    """Engineers in use, in grant order, and the requests waiting, sorted by (priority, asked, order)."""

    user_pid: np.ndarray
    user_prio: np.ndarray
    user_asked: np.ndarray
    wait_pid: np.ndarray
    wait_prio: np.ndarray
    wait_asked: np.ndarray
    wait_order: np.ndarray
    monitor: np.ndarray


@cached_njit(inline="always")
def _monitor(mon, now, busy, queued):
    """``Monitor.change``: accrue the busy and queue areas up to now, then change the counts."""
    mon[MON_BUSY_AREA] += mon[MON_BUSY] * (now - mon[MON_LAST])
    mon[MON_QUEUE_AREA] += mon[MON_QUEUED] * (now - mon[MON_LAST])
    mon[MON_LAST] = now
    mon[MON_BUSY] += busy
    mon[MON_QUEUED] += queued


@cached_njit()
def _monitor_summary(mon, horizon, capacity, out, i_util, i_busy, i_queue, i_wait, i_unstable, wait_scale):
    """``Monitor.summary`` into the metric slots given (``M_NONE`` for a figure the pool does not report)."""
    mon[MON_BUSY_AREA] += mon[MON_BUSY] * (horizon - mon[MON_LAST])
    mon[MON_QUEUE_AREA] += mon[MON_QUEUED] * (horizon - mon[MON_LAST])
    mon[MON_LAST] = horizon
    # A run stopped at the event cap at time 0 has no interval to average over: the
    # state at that instant is its own average (SimPy's Monitor.summary does the same).
    busy_mean = mon[MON_BUSY_AREA] / horizon if horizon > 0 else mon[MON_BUSY]
    utilization = busy_mean / capacity if capacity else 0.0
    if i_util >= 0:
        out[i_util] = utilization
    if i_busy >= 0:
        out[i_busy] = busy_mean
    if i_queue >= 0:
        out[i_queue] = mon[MON_QUEUE_AREA] / horizon if horizon > 0 else mon[MON_QUEUED]
    if i_wait >= 0:
        out[i_wait] = (mon[MON_WAIT_TOTAL] / mon[MON_SERVED] if mon[MON_SERVED] else 0.0) * wait_scale
    out[i_unstable] = 1.0 if (mon[MON_QUEUED] > 0 and (capacity == 0 or utilization >= 0.98)) else 0.0


# -- GPUs ---------------------------------------------------------------------------------
@cached_njit(inline="always")
def _gpu_acquire(pid, now, n_gpus, gpus, pr, gq_tail):
    """``GpuPool.acquire``: the lowest-numbered free GPU now (into the process's ``R_K`` slot), else the FIFO queue.

    Returns whether it was granted and the queue's new tail.
    """
    for g in range(n_gpus):
        if not gpus.busy[g]:
            gpus.busy[g] = True
            _monitor(gpus.monitor, now, 1.0, 0.0)
            gpus.monitor[MON_WAIT_TOTAL] += 0.0
            gpus.monitor[MON_SERVED] += 1.0
            pr[pid * NPR + R_K] = g
            return True, gq_tail
    _monitor(gpus.monitor, now, 0.0, 1.0)
    gpus.queue_pid[gq_tail] = pid
    gpus.queue_asked[gq_tail] = now
    return False, gq_tail + 1


@cached_njit(inline="always")
def _gpu_release(gpu, now, gpus, pr, gq_head, gq_tail, st, nowq):
    """``GpuPool.release``: hand GPU ``gpu`` to the queue's head (into its ``R_K`` slot), else free it.

    Returns the queue's new head.
    """
    if gq_tail > gq_head:
        nxt = gpus.queue_pid[gq_head]
        asked = gpus.queue_asked[gq_head]
        gq_head += 1
        _monitor(gpus.monitor, now, 0.0, -1.0)
        gpus.monitor[MON_WAIT_TOTAL] += now - asked
        gpus.monitor[MON_SERVED] += 1.0
        pr[nxt * NPR + R_K] = gpu
        _push_now(nowq, st, NORMAL, nxt, pr[nxt * NPR + R_VER], H_RESUME)
    else:
        _monitor(gpus.monitor, now, -1.0, 0.0)
        gpus.busy[gpu] = False
    return gq_head


# -- reviewers ----------------------------------------------------------------------------
@cached_njit(inline="always")
def _reviewer_acquire(pid, now, reviewers, reviewers_idle, rq_tail):
    """``ReviewerPool.acquire``: an idle reviewer now, else the FIFO queue.

    Returns whether it was granted, the new idle count and the queue's new tail.
    """
    if reviewers_idle > 0:
        reviewers_idle -= 1
        _monitor(reviewers.monitor, now, 1.0, 0.0)
        reviewers.monitor[MON_WAIT_TOTAL] += 0.0
        reviewers.monitor[MON_SERVED] += 1.0
        return True, reviewers_idle, rq_tail
    _monitor(reviewers.monitor, now, 0.0, 1.0)
    reviewers.queue_pid[rq_tail] = pid
    reviewers.queue_asked[rq_tail] = now
    return False, reviewers_idle, rq_tail + 1


@cached_njit(inline="always")
def _reviewer_release(now, reviewers, pr, reviewers_idle, rq_head, rq_tail, st, nowq):
    """``ReviewerPool.release``: hand the reviewer to the queue's head, else it goes idle.

    Returns the new idle count and the queue's new head.
    """
    if rq_tail > rq_head:
        nxt = reviewers.queue_pid[rq_head]
        asked = reviewers.queue_asked[rq_head]
        rq_head += 1
        _monitor(reviewers.monitor, now, 0.0, -1.0)
        reviewers.monitor[MON_WAIT_TOTAL] += now - asked
        reviewers.monitor[MON_SERVED] += 1.0
        _push_now(nowq, st, NORMAL, nxt, pr[nxt * NPR + R_VER], H_RESUME)
    else:
        _monitor(reviewers.monitor, now, -1.0, 0.0)
        reviewers_idle += 1
    return reviewers_idle, rq_head


# -- engineers ----------------------------------------------------------------------------
@cached_njit(inline="always")
def _engineer_request(pid, prio, order, now, n_engineers, engineers, n_users, n_ewait, out, pr, st, nowq):
    """``EngineerPool.request``: a free engineer, or an incident pre-empting pipeline work, else the sorted wait list.

    Returns whether it was granted, and the new counts of users and waiting requests.
    """
    granted = False
    if n_users < n_engineers:
        granted = True
    elif prio == INCIDENT_PRIORITY:
        # victim: the pipeline user whose request is the latest, first in grant order
        victim = -1
        latest = -math.inf
        for u in range(n_users):
            if engineers.user_prio[u] > INCIDENT_PRIORITY and engineers.user_asked[u] > latest:
                latest = engineers.user_asked[u]
                victim = u
        if victim >= 0:
            vpid = engineers.user_pid[victim]
            for u in range(victim, n_users - 1):
                engineers.user_pid[u] = engineers.user_pid[u + 1]
                engineers.user_prio[u] = engineers.user_prio[u + 1]
                engineers.user_asked[u] = engineers.user_asked[u + 1]
            n_users -= 1
            _monitor(engineers.monitor, now, -1.0, 0.0)
            out[M_ENG_PREEMPTIONS] += 1.0
            pr[vpid * NPR + R_VER] += 1
            _push_now(nowq, st, URGENT, vpid, pr[vpid * NPR + R_VER], H_INTERRUPT)
            granted = True
    if granted:
        engineers.user_pid[n_users] = pid
        engineers.user_prio[n_users] = prio
        engineers.user_asked[n_users] = now
        n_users += 1
        _monitor(engineers.monitor, now, 1.0, 0.0)
        engineers.monitor[MON_WAIT_TOTAL] += 0.0
        engineers.monitor[MON_SERVED] += 1.0
    else:
        _monitor(engineers.monitor, now, 0.0, 1.0)
        pos = n_ewait
        while pos > 0:
            q = pos - 1
            later = engineers.wait_prio[q] > prio or (
                engineers.wait_prio[q] == prio
                and (engineers.wait_asked[q] > now or (engineers.wait_asked[q] == now and engineers.wait_order[q] > order))
            )
            if not later:
                break
            pos = q
        for q in range(n_ewait, pos, -1):
            engineers.wait_pid[q] = engineers.wait_pid[q - 1]
            engineers.wait_prio[q] = engineers.wait_prio[q - 1]
            engineers.wait_asked[q] = engineers.wait_asked[q - 1]
            engineers.wait_order[q] = engineers.wait_order[q - 1]
        engineers.wait_pid[pos] = pid
        engineers.wait_prio[pos] = prio
        engineers.wait_asked[pos] = now
        engineers.wait_order[pos] = order
        n_ewait += 1
    return granted, n_users, n_ewait


@cached_njit(inline="always")
def _engineer_release(pid, now, engineers, n_users, n_ewait, pr, st, nowq):
    """``EngineerPool.release``: process ``pid`` gives its engineer back; the first waiting request takes it.

    Returns the new counts of users and waiting requests.
    """
    for u in range(n_users):
        if engineers.user_pid[u] == pid:
            for v in range(u, n_users - 1):
                engineers.user_pid[v] = engineers.user_pid[v + 1]
                engineers.user_prio[v] = engineers.user_prio[v + 1]
                engineers.user_asked[v] = engineers.user_asked[v + 1]
            n_users -= 1
            break
    _monitor(engineers.monitor, now, -1.0, 0.0)
    if n_ewait > 0:
        head = engineers.wait_pid[0]
        head_prio = engineers.wait_prio[0]
        head_asked = engineers.wait_asked[0]
        for q in range(n_ewait - 1):
            engineers.wait_pid[q] = engineers.wait_pid[q + 1]
            engineers.wait_prio[q] = engineers.wait_prio[q + 1]
            engineers.wait_asked[q] = engineers.wait_asked[q + 1]
            engineers.wait_order[q] = engineers.wait_order[q + 1]
        n_ewait -= 1
        _monitor(engineers.monitor, now, 0.0, -1.0)
        engineers.user_pid[n_users] = head
        engineers.user_prio[n_users] = head_prio
        engineers.user_asked[n_users] = head_asked
        n_users += 1
        _monitor(engineers.monitor, now, 1.0, 0.0)
        engineers.monitor[MON_WAIT_TOTAL] += now - head_asked
        engineers.monitor[MON_SERVED] += 1.0
        _push_now(nowq, st, NORMAL, head, pr[head * NPR + R_VER], H_RESUME)
    return n_users, n_ewait
