"""Monitored resource pools of the reference engine.

Each pool records time-weighted busy servers and queue length, and the waits of
the requests it served, so utilization, mean queue length and mean wait are
exact integrals over the run, not samples.
"""

from __future__ import annotations

import simpy


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

    def _advance(self) -> None:
        now = self.env.now
        self.busy_area += self.busy * (now - self.last)
        self.queue_area += self.queued * (now - self.last)
        self.last = now

    def change(self, busy: int = 0, queued: int = 0) -> None:
        self._advance()
        self.busy += busy
        self.queued += queued

    def served_after(self, wait: float) -> None:
        self.wait_total += wait
        self.served += 1

    def summary(self, horizon: float) -> dict[str, float]:
        """Utilization, mean queue length and mean wait (days) up to ``horizon``."""
        self._advance()
        busy_mean = self.busy_area / horizon
        return {
            "busy_mean": busy_mean,
            "utilization": busy_mean / self.capacity if self.capacity else 0.0,
            "queue_mean": self.queue_area / horizon,
            "wait_mean_days": self.wait_total / self.served if self.served else 0.0,
            "served": float(self.served),
            "queue_at_end": float(self.queued),
            # Offered load at or above capacity shows as a saturated pool with
            # work still waiting when the horizon ends.
            "unstable": float(self.capacity > 0 and busy_mean / self.capacity >= 0.98 and self.queued > 0),
        }


class GpuPool:
    """GPU pool: ``reserved`` GPUs first, then up to ``burst`` billed-per-use GPUs, FIFO.

    Free GPUs sit in a priority store keyed by index, so a job always takes the
    lowest-numbered free GPU: reserved (paid anyway) before burst.
    """

    def __init__(self, env: simpy.Environment, reserved: int, burst: int):
        self.env = env
        self.reserved = reserved
        self.free = simpy.PriorityStore(env)
        self.free.items = list(range(reserved + burst))  # already a valid heap
        self.monitor = Monitor(env, reserved + burst)

    def is_burst(self, gpu: int) -> bool:
        return gpu >= self.reserved

    def acquire(self):
        """Generator: wait for a GPU, return its index."""
        asked = self.env.now
        self.monitor.change(queued=+1)
        gpu = yield self.free.get()
        self.monitor.change(busy=+1, queued=-1)
        self.monitor.served_after(self.env.now - asked)
        return gpu

    def release(self, gpu: int) -> None:
        self.monitor.change(busy=-1)
        self.free.put(gpu)


class FifoPool:
    """A FIFO pool of identical servers (compliance reviewers)."""

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.resource = simpy.Resource(env, capacity=max(capacity, 1))
        self.monitor = Monitor(env, capacity)

    def acquire(self):
        asked = self.env.now
        self.monitor.change(queued=+1)
        request = self.resource.request()
        yield request
        self.monitor.change(busy=+1, queued=-1)
        self.monitor.served_after(self.env.now - asked)
        return request

    def release(self, request) -> None:
        self.monitor.change(busy=-1)
        self.resource.release(request)


INCIDENT = 0  # priority of incident response: pre-empts pipeline work
PIPELINE = 1


class EngineerPool:
    """Engineers: incidents (priority 0) pre-empt pipeline work (priority 1).

    A pre-empted task keeps the work it has done and queues again for the rest,
    behind work of its priority that asked earlier.
    """

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.resource = simpy.PreemptiveResource(env, capacity=max(capacity, 1))
        self.monitor = Monitor(env, capacity)
        self.preemptions = 0

    def work(self, days: float, priority: int):
        """Generator: occupy one engineer for ``days`` of work; returns the wait in days."""
        remaining = days
        asked = self.env.now
        waited = 0.0
        while remaining > 0.0:
            self.monitor.change(queued=+1)
            request = self.resource.request(priority=priority, preempt=priority == INCIDENT)
            queued_at = self.env.now
            try:
                yield request
            except simpy.Interrupt:
                # Granted and pre-empted in the same instant, before starting.
                self.monitor.change(queued=-1)
                self.preemptions += 1
                continue
            self.monitor.change(busy=+1, queued=-1)
            waited += self.env.now - queued_at
            start = self.env.now
            try:
                yield self.env.timeout(remaining)
                remaining = 0.0
            except simpy.Interrupt:
                remaining -= self.env.now - start
                self.preemptions += 1
            self.monitor.change(busy=-1)
            self.resource.release(request)
        self.monitor.served_after(self.env.now - asked - days)
        return waited
