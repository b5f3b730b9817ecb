"""An adapter in production: drift, scheduled refresh, and the refresh pipeline.

Pipeline of one refresh: data preparation (engineers) -> training (GPU pool with
failures, retries and spot preemption; or the vendor) -> evaluation (GPU +
engineers; failure sends it back to training) -> compliance review if regulated
(reviewers; rejection -> rework -> review again) -> promotion (restores quality;
a bad rollout causes an incident, a rollback and a new refresh).

A refresh requested while one is in flight is merged into it. Promotion clears
all quality lost before it, including drift that happened while the refresh was
in flight (its data preparation is assumed to pick up the latest data).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.core.choices import TEAM
from sim.core.ledger import CAT
from sim.core.rng import Stream, exponential_time
from sim.engines.reference.resources import INCIDENT, PIPELINE

if TYPE_CHECKING:
    from sim.engines.reference.replication import Replication

SEV2 = 1  # a bad rollout degrades service like a sev2 incident


class Adapter:
    """One adapter and its processes (methods are SimPy generator processes)."""

    def __init__(self, rep: Replication, index: int):
        self.rep = rep
        self.index = index
        self.regulated = rep.uniform(Stream.REGULATED, index, 0) < rep.scenario.regulated_share
        self.deficit = 0.0  # quality points lost and not yet restored
        self.deficit_since = 0.0  # days: when deficit last changed
        self.promotions = 0
        self.in_flight = False
        self.checkpoints = 0
        self.refreshes = 0  # occurrence counters of this adapter's keyed draws
        self.train_attempts = 0
        self.spot_segments = 0
        self.evaluations = 0
        self.reviews = 0
        self.promotions_attempted = 0

    # -- quality -------------------------------------------------------------
    def _set_deficit(self, value: float) -> None:
        rep = self.rep
        now = rep.env.now
        rep.accrue_staleness(self.deficit_since, now, self.deficit)
        self.deficit = value
        self.deficit_since = now

    def close(self, horizon: float) -> None:
        """Accrue staleness up to the horizon."""
        self.rep.accrue_staleness(self.deficit_since, horizon, self.deficit)
        self.deficit_since = horizon

    def drift(self):
        """World process: drift events arrive as a Poisson process per adapter."""
        rep = self.rep
        rate = rep.scenario.drift_rate_per_adapter_year
        if rate <= 0.0:
            return
        k = 0
        while True:
            yield rep.env.timeout(rep.gap(Stream.DRIFT_GAP, self.index, k, rate))
            drop = rep.event(Stream.DRIFT_DROP, self.index, k, rep.scenario.drift_quality_drop)
            rep.metrics["drift_events"] += 1
            rep.trace("drift", self.index, drop)
            self._set_deficit(self.deficit + drop)
            rep.env.process(self.detect(k, self.promotions))
            k += 1

    def detect(self, k: int, promotions_at_drift: int):
        """Drift is detected after a delay that depends on monitoring maturity."""
        rep = self.rep
        delay = rep.event(Stream.DETECTION_DELAY, self.index, k, rep.model.platform.detection_delay_days)
        if delay > 0.0:
            yield rep.env.timeout(delay)
        if self.promotions != promotions_at_drift:
            return  # a promotion since the drift already restored quality
        rep.trace("drift_detected", self.index, k)
        self.request_refresh("drift")

    def schedule(self):
        """Scheduled refreshes every ``refresh_interval_days``, staggered across adapters."""
        rep = self.rep
        interval = rep.scenario.refresh_interval_days
        if interval <= 0.0:
            return
        offset = interval * self.index / rep.n_adapters if rep.scenario.refresh_stagger else 0.0
        k = 1
        while True:
            due = interval * k + offset
            yield rep.env.timeout(due - rep.env.now)
            self.request_refresh("scheduled")
            k += 1

    # -- refresh pipeline ----------------------------------------------------
    def request_refresh(self, reason: str, extra_hours: float = 0.0) -> None:
        rep = self.rep
        rep.metrics["refreshes_requested"] += 1
        if self.in_flight:
            rep.metrics["refreshes_merged"] += 1
            rep.trace("refresh_merged", self.index, detail=reason)
            return
        self.in_flight = True
        rep.trace("refresh_requested", self.index, detail=reason)
        rep.env.process(self.refresh(extra_hours))

    def refresh(self, extra_hours: float):
        rep = self.rep
        model = rep.model
        n = self.refreshes
        self.refreshes += 1
        hours = rep.event(Stream.DATA_PREP, self.index, n, model.training.data_prep_hours) + extra_hours
        yield from rep.engineer_work(hours, "pipeline", PIPELINE)
        while True:
            trained = False
            while not trained:
                if model.training.owner == TEAM:
                    trained = yield from self.train_on_pool()
                else:
                    trained = yield from self.train_at_vendor()
            self._store_checkpoint()
            passed = yield from self.evaluate()
            if passed:
                break
        if self.regulated:
            yield from self.review()
        yield from self.promote()

    def train_on_pool(self):
        """One training attempt on the GPU pool; returns True on success."""
        rep = self.rep
        training = rep.model.training
        k = self.train_attempts
        self.train_attempts += 1
        rep.metrics["training_runs"] += 1
        work = rep.event(Stream.TRAIN_WORK, self.index, k, training.gpu_hours)  # GPU-hours
        fails = rep.uniform(Stream.TRAIN_FAIL, self.index, k) < training.failure_prob
        target = work * rep.uniform(Stream.TRAIN_FAIL_POINT, self.index, k) if fails else work
        checkpoint = training.checkpoint_interval_hours
        done = 0.0
        while done < target:
            gpu = yield rep.gpus.acquire()
            remaining = target - done
            preempt_after = math.inf
            if rep.gpus.is_burst(gpu) and rep.spot:
                rate = rep.model.gpu_pool.spot_preemptions_per_gpu_hour
                u = rep.uniform(Stream.SPOT_PREEMPT, self.index, self.spot_segments)
                self.spot_segments += 1
                if rate > 0.0:
                    preempt_after = exponential_time(u, rate)
            rep.trace("train_start", self.index, gpu)
            if preempt_after < remaining:
                yield rep.env.timeout(preempt_after / 24.0)
                rep.release_gpu(gpu, preempt_after)
                done = math.floor((done + preempt_after) / checkpoint) * checkpoint
                rep.metrics["spot_preemptions"] += 1
                rep.trace("train_preempted", self.index, done)
            else:
                yield rep.env.timeout(remaining / 24.0)
                rep.release_gpu(gpu, remaining)
                done = target
        if fails:
            rep.metrics["training_failures"] += 1
            rep.trace("train_failed", self.index, k)
            return False
        rep.trace("train_end", self.index, k)
        return True

    def train_at_vendor(self):
        """One fine-tuning job at the vendor; the fee is charged on success only."""
        rep = self.rep
        training = rep.model.training
        k = self.train_attempts
        self.train_attempts += 1
        rep.metrics["training_runs"] += 1
        turnaround = rep.event(Stream.VENDOR_TURNAROUND, self.index, k, training.vendor_turnaround_days)
        rep.trace("train_start", self.index, -1)
        if turnaround > 0.0:
            yield rep.env.timeout(turnaround)
        if rep.uniform(Stream.TRAIN_FAIL, self.index, k) < training.failure_prob:
            rep.metrics["training_failures"] += 1
            rep.trace("train_failed", self.index, k)
            return False
        fee = rep.scenario.training_tokens_per_run_m * training.vendor_usd_per_1m_tokens
        rep.book(CAT["vendor_training"], fee)
        rep.trace("train_end", self.index, k)
        return True

    def _store_checkpoint(self) -> None:
        retention = self.rep.model.training.retention_runs
        if self.checkpoints < retention and self.rep.model.training.checkpoint_gb > 0.0:
            self.checkpoints += 1
            self.rep.change_storage(self.rep.model.training.checkpoint_gb)

    def evaluate(self):
        """Evaluation: GPU compute, then engineer hours; returns True if it passes."""
        rep = self.rep
        evaluation = rep.model.evaluation
        k = self.evaluations
        self.evaluations += 1
        gpu_hours = rep.event(Stream.EVAL_GPU, self.index, k, evaluation.gpu_hours)
        rep.trace("eval_start", self.index, k)
        if gpu_hours > 0.0:
            gpu = yield rep.gpus.acquire()
            yield rep.env.timeout(gpu_hours / 24.0)
            rep.release_gpu(gpu, gpu_hours)
        hours = rep.event(Stream.EVAL_HOURS, self.index, k, evaluation.engineer_hours)
        yield from rep.engineer_work(hours, "pipeline", PIPELINE)
        rep.book(CAT["vendor_inference"], evaluation.vendor_usd_per_run)
        if rep.uniform(Stream.EVAL_FAIL, self.index, k) < evaluation.failure_prob:
            rep.metrics["evaluation_failures"] += 1
            rep.trace("eval_failed", self.index, k)
            return False
        return True

    def review(self):
        """Compliance review of a regulated adapter; rejection -> rework -> review again."""
        rep = self.rep
        compliance = rep.model.compliance
        while True:
            k = self.reviews
            self.reviews += 1
            hours = rep.event(Stream.REVIEW_HOURS, self.index, k, compliance.review_hours)
            if hours <= 0.0:
                return
            yield rep.reviewers.acquire()
            rep.trace("review_start", self.index, k)
            yield rep.env.timeout(hours / rep.scenario.reviewer_hours_per_day)
            rep.reviewers.release()
            rep.book(CAT["labor_compliance"], hours * rep.reviewer_rate)
            if rep.uniform(Stream.REVIEW_REJECT, self.index, k) >= compliance.rejection_prob:
                return
            rep.metrics["review_rejections"] += 1
            rep.trace("review_rejected", self.index, k)
            rework = rep.event(Stream.REWORK_HOURS, self.index, k, compliance.rework_hours)
            yield from rep.engineer_work(rework, "pipeline", PIPELINE)

    def promote(self):
        rep = self.rep
        promotion = rep.model.promotion
        k = self.promotions_attempted
        self.promotions_attempted += 1
        if rep.uniform(Stream.ROLLOUT_BAD, self.index, k) < promotion.bad_rollout_prob:
            rep.metrics["rollbacks"] += 1
            rep.trace("rollback", self.index, k)
            hours = rep.event(Stream.ROLLBACK_HOURS, self.index, k, promotion.rollback_hours)
            started = rep.env.now
            yield from rep.engineer_work(hours, "oncall", INCIDENT, wall_clock=True)
            outage_hours = (rep.env.now - started) * 24.0
            rep.book_downtime(outage_hours, rep.severity_downtime[SEV2], 1)
            self.in_flight = False
            self.request_refresh("rollback")
            return
        self.promotions += 1
        self.in_flight = False
        self._set_deficit(0.0)
        rep.metrics["refreshes_completed"] += 1
        rep.trace("promoted", self.index, k)
