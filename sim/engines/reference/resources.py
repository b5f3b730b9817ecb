"""Monitored resource pools of the reference engine.

The pools are small explicit classes on plain SimPy events, not ``simpy.Resource``,
so that their rules are written down here and the fast engine can follow them
exactly (design §2: same events, same tie-breaking):

- a request that can be served is granted at once: its event succeeds now;
- otherwise it waits; a release hands the server straight to the first waiting
  request (FIFO; engineers: by priority, then request time, then arrival);
- GPUs are numbered, reserved first; a grant takes the lowest-numbered free GPU;
- an incident that finds every engineer busy pre-empts the pipeline task whose
  request is the latest (``simpy.PreemptiveResource``'s choice). The victim's
  process is interrupted and asks again for the rest of its work.

Each pool records time-weighted busy servers and queue length and the waits of
the requests it served, so utilization, mean queue length and mean wait are exact
integrals over the run.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import simpy

INCIDENT = 0  # priority of incident response: pre-empts pipeline work
PIPELINE = 1


class Monitor:
    """Time-weighted integrals of busy servers and queue length."""

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.queued = 0
        self.last = 0.0
        self.busy_area = 0.0  # server-days
        self.queue_area = 0.0  # request-days
        self.wait_total = 0.0  # days
        self.served = 0

    def change(self, busy: int = 0, queued: int = 0) -> None:
        now = self.env.now
        self.busy_area += self.busy * (now - self.last)
        self.queue_area += self.queued * (now - self.last)
        self.last = now
        self.busy += busy
        self.queued += queued

    def served_after(self, wait: float) -> None:
        self.wait_total += wait
        self.served += 1

    def summary(self, horizon: float) -> dict[str, float]:
        """Utilization, mean queue length and mean wait (days) up to ``horizon``."""
        self.busy_area += self.busy * (horizon - self.last)
        self.queue_area += self.queued * (horizon - self.last)
        self.last = horizon
        # Stopped at the event cap at time 0: the state at that instant is its own average.
        busy_mean = self.busy_area / horizon if horizon > 0 else float(self.busy)
        utilization = busy_mean / self.capacity if self.capacity else 0.0
        return {
            "busy_mean": busy_mean,
            "utilization": utilization,
            "queue_mean": self.queue_area / horizon if horizon > 0 else float(self.queued),
            "wait_mean_days": self.wait_total / self.served if self.served else 0.0,
            # Offered load at or above capacity shows as a saturated (or empty) pool
            # with work still waiting when the horizon ends.
            "unstable": float(self.queued > 0 and (self.capacity == 0 or utilization >= 0.98)),
        }


class GpuPool:
    """``reserved`` GPUs then up to ``burst`` billed-per-use GPUs; FIFO queue."""

    def __init__(self, env: simpy.Environment, reserved: int, burst: int):
        self.env = env
        self.reserved = reserved
        self.free = list(range(reserved + burst))  # sorted: lowest index first
        self.waiting: list[tuple[simpy.Event, float]] = []
        self.monitor = Monitor(env, reserved + burst)

    def is_burst(self, gpu: int) -> bool:
        return gpu >= self.reserved

    def acquire(self) -> simpy.Event:
        """An event whose value is the GPU index, once one is granted."""
        event = self.env.event()
        if self.free:
            self.monitor.change(busy=+1)
            self.monitor.served_after(0.0)
            event.succeed(self.free.pop(0))
        else:
            self.monitor.change(queued=+1)
            self.waiting.append((event, self.env.now))
        return event

    def release(self, gpu: int) -> None:
        if self.waiting:
            event, asked = self.waiting.pop(0)
            self.monitor.change(queued=-1)
            self.monitor.served_after(self.env.now - asked)
            event.succeed(gpu)
        else:
            self.monitor.change(busy=-1)
            bisect.insort(self.free, gpu)


class FifoPool:
    """A FIFO pool of identical servers (compliance reviewers)."""

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.idle = capacity
        self.waiting: list[tuple[simpy.Event, float]] = []
        self.monitor = Monitor(env, capacity)

    def acquire(self) -> simpy.Event:
        event = self.env.event()
        if self.idle > 0:
            self.idle -= 1
            self.monitor.change(busy=+1)
            self.monitor.served_after(0.0)
            event.succeed()
        else:
            self.monitor.change(queued=+1)
            self.waiting.append((event, self.env.now))
        return event

    def release(self) -> None:
        if self.waiting:
            event, asked = self.waiting.pop(0)
            self.monitor.change(queued=-1)
            self.monitor.served_after(self.env.now - asked)
            event.succeed()
        else:
            self.monitor.change(busy=-1)
            self.idle += 1


@dataclass
class EngineerRequest:
    priority: int
    asked: float  # days: when this request was made (a re-request after pre-emption is new)
    process: simpy.Process | None
    event: simpy.Event
    order: int  # arrival order, breaks ties of (priority, asked)
    granted: bool = field(default=False)

    @property
    def key(self) -> tuple[int, float, int]:
        return (self.priority, self.asked, self.order)


class EngineerPool:
    """Engineers: incidents (priority 0) pre-empt pipeline work (priority 1)."""

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.capacity = capacity
        self.users: list[EngineerRequest] = []  # in grant order
        self.waiting: list[EngineerRequest] = []  # sorted by key
        self.monitor = Monitor(env, capacity)
        self.preemptions = 0
        self._arrivals = 0

    def request(self, priority: int) -> EngineerRequest:
        req = EngineerRequest(priority, self.env.now, self.env.active_process, self.env.event(), self._arrivals)
        self._arrivals += 1
        if len(self.users) < self.capacity:
            self._grant(req)
        elif priority == INCIDENT and (victim := self._victim()) is not None:
            self.users.remove(victim)
            self.monitor.change(busy=-1)
            self.preemptions += 1
            victim.process.interrupt("pre-empted by an incident")
            self._grant(req)
        else:
            self.monitor.change(queued=+1)
            bisect.insort(self.waiting, req, key=lambda r: r.key)
        return req

    def _victim(self) -> EngineerRequest | None:
        """The pipeline user whose request is the latest (first such in grant order)."""
        candidates = [u for u in self.users if u.priority > INCIDENT]
        if not candidates:
            return None
        latest = max(u.asked for u in candidates)
        return next(u for u in candidates if u.asked == latest)

    def _grant(self, req: EngineerRequest) -> None:
        self.users.append(req)
        req.granted = True
        self.monitor.change(busy=+1)
        self.monitor.served_after(self.env.now - req.asked)
        req.event.succeed()

    def release(self, req: EngineerRequest) -> None:
        self.users.remove(req)
        self.monitor.change(busy=-1)
        if self.waiting:
            head = self.waiting.pop(0)
            self.monitor.change(queued=-1)
            self._grant(head)

    def work(self, days: float, priority: int):
        """Generator: occupy one engineer for ``days`` of work, resuming after pre-emption."""
        remaining = days
        while remaining > 0.0:
            req = self.request(priority)
            start = None
            try:
                yield req.event
                start = self.env.now
                yield self.env.timeout(remaining)
                remaining = 0.0
                self.release(req)
            except simpy.Interrupt:
                # Pre-empted (possibly granted and pre-empted in the same instant): the pool
                # already took the engineer back; keep the work done and ask again.
                if start is not None:
                    remaining -= self.env.now - start
