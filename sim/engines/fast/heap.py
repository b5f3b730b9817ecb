"""The event queue: a binary heap of future events, and a FIFO per priority for events due now.

Events are ordered by ``(time, priority, sequence)``, as SimPy's ``(time, priority,
event id)``. An event is three parallel entries: its time (``times``), its order key
(priority and sequence in one integer, :func:`_order_key`) and its payload (the process,
its version when scheduled and how it resumes, :func:`_payload`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.core.jit import cached_njit
from sim.engines.fast.layout import N_PRIORITIES, NORMAL, ST_HN, ST_NOWQ_TAIL, ST_SEQ, URGENT

# how a process resumes: the low bits of an event's payload
_how = ("start", "resume", "interrupt", "continue")
H_START = _how.index("start")  # a process's first step (SimPy's Initialize event)
H_RESUME = _how.index("resume")  # its timeout fired or its request was granted
H_INTERRUPT = _how.index("interrupt")  # it was pre-empted
H_CONTINUE = _how.index("continue")  # not an event: the process goes on within the same step
HOW_BITS = 2  # room for the four above
HOW_MASK = (1 << HOW_BITS) - 1
PID_BITS = 26  # up to 67 million live processes
PID_MASK = (1 << PID_BITS) - 1
VER_MASK = (1 << 36) - 1  # versions compare modulo 2**36: a stale event never lives that long
PRIORITY_SHIFT = 56  # an order key is the priority above a sequence number of up to 56 bits
HEAP_ROOT = 0  # the next event of the heap: read it, then _heap_pop


class Heap(NamedTuple):
    """The future events, a binary heap over three parallel arrays."""

    times: np.ndarray
    keys: np.ndarray
    payloads: np.ndarray


class NowQueues(NamedTuple):
    """Events due at the current time, one FIFO per priority, interleaved: entry j of priority p at ``N_PRIORITIES * j + p``.

    Their heads and tails are ``st[ST_NOWQ_HEAD + p]`` and ``st[ST_NOWQ_TAIL + p]``.
    """

    seqs: np.ndarray
    payloads: np.ndarray


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
    return (prio << PRIORITY_SHIFT) | seq


@cached_njit(inline="always")
def _payload(pid, ver, how):
    """What an event carries: the process, its version when scheduled, and how it resumes."""
    return ((ver & VER_MASK) << (PID_BITS + HOW_BITS)) | (pid << HOW_BITS) | how


@cached_njit(inline="always")
def _unpack(payload):
    """The process, version and ``H_*`` of a payload (the inverse of :func:`_payload`)."""
    return (payload >> HOW_BITS) & PID_MASK, payload >> (PID_BITS + HOW_BITS), payload & HOW_MASK


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


@cached_njit(inline="always")
def _push(heap, st, t, prio, pid, ver, how):
    """Schedule an event and advance the heap size and sequence counters in ``st``."""
    _heap_push(heap.times, heap.keys, heap.payloads, st[ST_HN], t, prio, st[ST_SEQ], pid, ver, how)
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
    j = N_PRIORITIES * st[ST_NOWQ_TAIL + prio] + prio
    nowq.seqs[j] = st[ST_SEQ]
    nowq.payloads[j] = _payload(pid, ver, how)
    st[ST_NOWQ_TAIL + prio] += 1
    st[ST_SEQ] += 1


@cached_njit(inline="always")
def _nowq_short(st, n_adapters, nowq):
    """Whether a now-queue may lack room for one more event's pushes: up to one start per
    adapter (a forced release) into URGENT, a few hand-overs into NORMAL."""
    room = nowq.seqs.shape[0] >> 1
    return st[ST_NOWQ_TAIL + URGENT] + n_adapters + 8 >= room or st[ST_NOWQ_TAIL + NORMAL] + 8 >= room
