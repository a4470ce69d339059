"""The control loop: observe -> plan -> act, level-triggered, idempotent, clock injected.

Each pass re-reads the world from the store and the executors, decides, and acts; everything it
does is recorded before it is done (the dispatch intent), so a crash at any line is safe to
resume: the next start-up's reconciliation (and every pass) compares what the store wants with
what the executors report, by token, and adopts, fences or re-queues (RELIABILITY.md §1-§6).

A pass, in phases (Kueue's scheduler-cycle style):
  1. Observe every open attempt: adopt what the executor runs, record what ended (succeeded,
     paused at a checkpoint, failed by its own fault or the infrastructure's), renew leases,
     fence what went unobserved past its lease.
  2. Cancels: stop the running attempts of cancelled jobs (SIGTERM, grace, SIGKILL).
  3. Expire what can no longer run before its deadline; the deadline watchdog marks at-risk
     jobs urgent (critical, uncapped, never paused again).
  4. Signals: refresh the forecasts when due.
  5. Re-plan at the interval, and at once on events (submission, completion, signal change).
  6. Act on the plan: dispatch what is due now (write-ahead intent, then the executor), pause
     or resize interruptible jobs at segment boundaries, set power caps where the executor can.
The engine never calls ``datetime.now()``: ``clock.now()`` is the only time it knows.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from datetime import datetime, timedelta

from gridshift.domain.status import JobStatus
from gridshift.engine.actions import Actions
from gridshift.engine.core import PassReport, job_of_spec, token_of
from gridshift.engine.outcomes import Outcomes
from gridshift.engine.planning import (
    CurrentPlan,
    StaleJobsError,
    floor_to_step,
    left_s,
    plan_columns,
    plan_request,
)
from gridshift.engine.quote import QuoteTables, quote_tables
from gridshift.store import ConflictError

log = logging.getLogger("gridshift.engine")

MAX_OVERHEAD_S = 6 * 3600.0  # rows this near their deadline are checked by the watchdog

__all__ = ["Engine", "PassReport", "token_of"]


class Engine(Outcomes, Actions):
    """The control loop (see the module docstring): phases 1 and the reconciliation in
    ``outcomes``, 2 and 6 in ``actions``, 3 to 5 here."""

    def quote_tables(self) -> QuoteTables | None:
        """The quote's cost tables on the current forecasts (built once per refresh)."""
        snapshot = self.feed.latest
        if snapshot is None:
            return None
        with self._quote_lock:
            if self._quote is None or self._quote[0] is not snapshot:
                t0 = floor_to_step(snapshot.at, self.options.step_s)
                steps = math.ceil(self.options.horizon_s / self.options.step_s)
                tables = quote_tables(self.site, snapshot.forecasts, t0, self.options.step_s, steps)
                self._quote = (snapshot, tables)
            return self._quote[1]

    # -- the loop --------------------------------------------------------------------------

    def reconcile(self) -> PassReport:
        """Start-up: every open attempt observed (adopted, recorded or re-queued) and every
        process an executor runs without a live attempt fenced."""
        report = PassReport(self.clock.now())
        self._observe(report)
        self._fence_orphans(report)
        self._dirty.set()
        return report

    def run_pass(self) -> PassReport:
        now = self.clock.now()
        report = PassReport(now)
        # 1. Observe
        self._observe(report)
        # 2. Cancels
        self._cancels(report)
        # 3. Expiry and the watchdog
        self._deadlines(now, report)
        # 4. Signals
        if self.feed.due(now) and self.feed.refresh(now):
            self._dirty.set()
        # 5. Re-plan
        due = self.current is None or (
            (now - self.current.made_at).total_seconds() >= self.options.replan_s
        )
        # Events re-plan at once, but at most every ``replan_min_wall_s`` of wall time (on this
        # clock: times its scale), so a burst of submissions costs one re-plan, not one each.
        spaced = self.current is None or (now - self.current.made_at).total_seconds() >= (
            self.options.replan_min_wall_s * self.clock.scale
        )
        if due or (self._dirty.is_set() and spaced):
            self._replan(now, report)
        # 6. Act
        if self.current is not None:
            self._act(now, report)
        if report.ended or report.dispatched:
            self._dirty.set()
        self.passes += 1
        self.last_pass = report
        return report

    # -- 3. deadlines ----------------------------------------------------------------------

    def _deadlines(self, now: datetime, report: PassReport) -> None:
        margin = self.options.watchdog_s + MAX_OVERHEAD_S
        for row in self.store.near_deadline(now, margin):
            job = self.job_of(row)
            if row.cancel_requested:
                continue
            if now >= job.deadline:
                try:
                    self.store.change(
                        row,
                        now,
                        status=JobStatus.EXPIRED,
                        reason=f"its deadline passed with {left_s(job, row):.0f} s of work left",
                    )
                    report.ended[row.id] = JobStatus.EXPIRED.value
                except ConflictError:
                    pass
                continue
            resume = (
                job.interruptible.checkpoint_overhead_s
                if row.status is JobStatus.PAUSED and job.interruptible
                else 0.0
            )
            at_risk = (
                now + timedelta(seconds=left_s(job, row) + resume + self.options.watchdog_s)
                > job.deadline
            )
            if at_risk and not row.urgent:
                try:
                    self.store.change(
                        row,
                        now,
                        urgent=True,
                        event="the deadline watchdog fired: less slack than one re-plan "
                        "interval; it runs at once, uncapped, and is not paused again",
                    )
                    self._dirty.set()
                except ConflictError:
                    pass

    # -- 5. re-plan ------------------------------------------------------------------------

    def _replan(self, now: datetime, report: PassReport) -> None:
        # Python's cyclic collector paused: a re-plan makes tens of thousands of short-lived
        # objects and no cycles, and a full collection over the server's heap would stall the
        # API's threads for a tenth of a second (reference counting still frees everything).
        was = gc.isenabled()
        gc.disable()
        try:
            self._replan_now(now, report)
        finally:
            if was:
                gc.enable()

    def _replan_now(self, now: datetime, report: PassReport) -> None:
        self._dirty.clear()
        rows = [r for r in self.store.active_rows() if not r.cancel_requested]
        unknown = [r.id for r in rows if r.id not in self._jobs]
        for job_id, (spec, submitted_at) in self.store.specs(unknown).items():
            self._jobs[job_id] = job_of_spec(job_id, spec, submitted_at)
        open_by_job = {a.job_id: a for a in self.store.open_attempts()}
        forecasts = self.feed.current(now)
        started = time.perf_counter()
        for _ in range(2):
            request = plan_request(
                rows,
                self._jobs,
                open_by_job,
                self.site.clusters,
                forecasts,
                self.site.objective,
                now,
                self.options,
                self.current,
                self._sent,
            )
            try:
                plan = self.planner.plan(request)
                break
            except StaleJobsError:
                self._sent.clear()  # the planner restarted: send every job again
            except Exception:
                self._sent.clear()
                raise
        else:
            raise StaleJobsError("the planner lost the jobs twice in a row")
        current = CurrentPlan(plan, now, time.perf_counter() - started)
        self.current = current
        self.replans += 1
        report.replanned = True
        infeasible = {i.job_id: i.reason for i in plan.infeasible}
        changes = []
        for row in rows:
            if row.status is JobStatus.RUNNING:
                continue  # it keeps the plan it was started on (what GET /jobs/{id} shows)
            cols = plan_columns(current, row.id)
            if row.id in infeasible:
                cols["plan_reason"] = f"not planned yet: {infeasible[row.id]}"
            if self._recorded.get(row.id) != cols:
                self._recorded[row.id] = cols
                changes.append((row.id, cols))
        self.store.record_plan(changes)
        active = {r.id for r in rows}
        for gone in [j for j in self._recorded if j not in active]:
            del self._recorded[gone]
        for gone in [j for j in self._jobs if j not in active]:
            del self._jobs[gone]
