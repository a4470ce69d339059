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
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gridshift.config.jobs import job_from_data
from gridshift.config.site import SiteConfig
from gridshift.domain import Job, JobPlan, Segment
from gridshift.domain.status import ACTIVE, AttemptState, JobStatus
from gridshift.engine import crash
from gridshift.engine.clock import Clock
from gridshift.engine.feed import SignalFeed
from gridshift.engine.options import EngineOptions
from gridshift.engine.planning import (
    CurrentPlan,
    StaleJobsError,
    credited_work_s,
    floor_to_step,
    left_s,
    plan_columns,
    plan_request,
)
from gridshift.engine.quote import QuoteTables, quote_tables
from gridshift.engine.worker import InlinePlanner, Planner
from gridshift.executors.base import Executor, ExecutorError, Launch, Observed, State
from gridshift.store import AttemptRow, ConflictError, JobRow, Store

log = logging.getLogger("gridshift.engine")


MAX_OVERHEAD_S = 6 * 3600.0  # rows this near their deadline are checked by the watchdog


def token_of(job_id: str, n: int) -> str:
    """The attempt's token: derived from the job id and the attempt number (stable)."""
    return f"{job_id}-a{n}"


@dataclass
class PassReport:
    """What one pass did (for logs, metrics and tests)."""

    at: datetime
    replanned: bool = False
    dispatched: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    ended: dict[str, str] = field(default_factory=dict)  # job id -> new status
    fenced: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # job id -> why it did not start


class Engine:
    def __init__(
        self,
        store: Store,
        site: SiteConfig,
        executors: Mapping[str, Executor],
        clock: Clock,
        feed: SignalFeed,
        checkpoint_root: Path,
        options: EngineOptions | None = None,
        planner: Planner | None = None,
    ) -> None:
        self.store = store
        self.site = site
        self.executors = dict(executors)
        self.clock = clock
        self.feed = feed
        self.checkpoint_root = checkpoint_root
        self.options = options or EngineOptions()
        self.planner = planner or InlinePlanner()
        self.current: CurrentPlan | None = None
        self._last_replan_wall = -math.inf
        self._quote: tuple[object, QuoteTables] | None = None
        self._quote_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._dirty = threading.Event()
        self._dirty.set()
        self._recorded: dict[str, dict[str, Any]] = {}
        self._sent: dict[
            str, tuple[float, datetime, bool]
        ] = {}  # what the planner holds of each job
        self.passes = 0
        self.replans = 0
        self.last_pass: PassReport | None = None
        self.unreachable: dict[str, int] = {}  # executor -> consecutive failures

    # -- events ----------------------------------------------------------------------------

    def poke(self) -> None:
        """Something changed (a submission, a cancel): re-plan at the next pass."""
        self._dirty.set()

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

    def job_of(self, row: JobRow) -> Job:
        job = self._jobs.get(row.id)
        if job is None:
            job = job_from_data(
                row.spec, source=f"job {row.id}", submitted_at=row.submitted_at, job_id=row.id
            )
            self._jobs[row.id] = job
        return job

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Passes until ``stop`` is set; a pass that fails is logged and the next one runs."""
        self.reconcile()
        while not stop.is_set():
            try:
                self.run_pass()
            except Exception:  # one bad pass must not stop the control plane
                log.exception("engine pass failed; the next pass re-reads everything")
            stop.wait(self.options.pass_s)

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
        # Events re-plan at once, but at most every ``replan_min_wall_s`` of wall time, so a
        # burst of submissions costs one re-plan, not one each (a bound on work, not a decision).
        spaced = time.monotonic() - self._last_replan_wall >= self.options.replan_min_wall_s
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

    # -- 1. observe ------------------------------------------------------------------------

    def _observe(self, report: PassReport) -> None:
        alive: list[str] = []
        for attempt in self.store.open_attempts():
            executor = self.executors.get(attempt.cluster)
            if executor is None:
                continue
            try:
                seen = executor.observe(attempt.token)
                self.unreachable.pop(attempt.cluster, None)
            except ExecutorError as exc:
                self.unreachable[attempt.cluster] = self.unreachable.get(attempt.cluster, 0) + 1
                self._lease_expired(attempt, executor, report, str(exc))
                continue
            if seen.state is State.RUNNING:
                alive.append(attempt.token)
                if attempt.state is AttemptState.DISPATCHING:
                    # The executor has it (a crash came between start and the status commit).
                    self.store.update_attempt(
                        attempt.token, state=AttemptState.RUNNING.value, started_at=report.at
                    )
                continue
            self._ended(attempt, seen, executor, report)
        if alive:
            lease = report.at + timedelta(seconds=self.options.lease_s * self.clock.scale)
            self.store.renew_leases(alive, lease)

    def _lease_expired(
        self, attempt: AttemptRow, executor: Executor, report: PassReport, why: str
    ) -> None:
        if attempt.lease_until is None or attempt.lease_until > report.at:
            return  # the executor is unreachable, but the lease holds: wait
        try:
            executor.kill(attempt.token)  # fence before anything else runs the job
        except ExecutorError:
            return  # cannot fence yet: the job waits (two attempts never overlap)
        job = self.store.job(attempt.job_id)
        if job is None:
            return
        report.fenced.append(attempt.token)
        self._infra_failure(
            job, attempt, report, f"unobserved past its lease ({why}); fenced", work=0.0
        )

    def _ended(
        self, attempt: AttemptRow, seen: Observed, executor: Executor, report: PassReport
    ) -> None:
        job_row = self.store.job(attempt.job_id)
        if job_row is None:
            return
        now = report.at
        if seen.state is State.UNKNOWN and attempt.state is AttemptState.DISPATCHING:
            # The intent was recorded but the executor never got it: re-queue, no budget spent.
            back = JobStatus.PAUSED if attempt.resume else JobStatus.PENDING
            self._finish(
                job_row,
                attempt,
                report,
                back,
                "re-queued: the control plane stopped before the executor was called",
                outcome="never started",
            )
            return
        if seen.state in (State.LOST, State.UNKNOWN):
            # Fence first: whatever is left of it must be gone before the job runs again.
            try:
                executor.kill(attempt.token)
            except ExecutorError:
                return  # cannot fence yet; it waits (two attempts never overlap)
            self._infra_failure(
                job_row, attempt, report, "the attempt's supervisor was lost; fenced"
            )
            report.fenced.append(attempt.token)
            executor.forget(attempt.token)
            return
        job = self.job_of(job_row)
        end = now
        if seen.ended_wall is not None and attempt.started_at is not None:
            # The executor's record of when it ended, not when this pass noticed.
            end = min(now, max(attempt.started_at, self.clock.at_wall(seen.ended_wall)))
        work = credited_work_s(job, attempt, end)
        if seen.succeeded:
            self._finish(
                job_row,
                attempt,
                report,
                JobStatus.SUCCEEDED,
                f"succeeded on {attempt.cluster} (attempt {attempt.n})",
                outcome="exit 0",
                ended=end,
                exit_code=0,
                work=work,
                done_s=job.duration_s,
            )
        elif attempt.stop_reason == "cancel" or job_row.cancel_requested:
            self._finish(
                job_row,
                attempt,
                report,
                JobStatus.CANCELLED,
                "cancelled",
                outcome="cancelled",
                ended=end,
            )
        elif attempt.stop_reason in ("pause", "resize"):
            saved = seen.saved_checkpoint
            credit = work if saved else 0.0
            why = (
                "saved its checkpoint"
                if saved
                else "stopped without saving a checkpoint: its work since the last one is lost"
            )
            self._finish(
                job_row,
                attempt,
                report,
                JobStatus.PAUSED,
                f"paused ({attempt.stop_reason}) on {attempt.cluster}: {why}",
                outcome=f"{attempt.stop_reason}: {why}",
                ended=end,
                exit_code=seen.exit_code,
                work=credit,
                done_s=min(job.duration_s - 1.0, job_row.done_s + credit),
            )
        else:
            code = seen.exit_code if seen.exit_code is not None else -(seen.signal or 0)
            failures = job_row.user_failures + 1
            retry = failures <= self.options.user_retries
            status = (
                (JobStatus.PAUSED if job.interruptible else JobStatus.PENDING)
                if retry
                else JobStatus.FAILED
            )
            what = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
            tail = (
                f"retry {failures} of {self.options.user_retries}"
                if retry
                else f"failed: {what} (no retries left)"
            )
            self._finish(
                job_row,
                attempt,
                report,
                status,
                f"the job's process ended with {what}; {tail}",
                outcome=what,
                ended=end,
                exit_code=seen.exit_code,
                user_failures=failures,
            )
        executor.forget(attempt.token)

    def _infra_failure(
        self,
        job_row: JobRow,
        attempt: AttemptRow,
        report: PassReport,
        why: str,
        work: float = 0.0,
    ) -> None:
        failures = job_row.infra_failures + 1
        retry = failures <= self.options.infra_retries
        if job_row.cancel_requested:
            status, text = JobStatus.CANCELLED, "cancelled"
        elif retry:
            status = JobStatus.PAUSED if attempt.resume or job_row.done_s > 0 else JobStatus.PENDING
            text = f"{why}; re-queued (infrastructure retry {failures} of "
            text += f"{self.options.infra_retries})"
        else:
            status, text = JobStatus.FAILED, f"{why}; infrastructure retries spent"
        self._finish(
            job_row,
            attempt,
            report,
            status,
            text,
            outcome=why,
            work=work,
            infra_failures=failures,
        )

    def _finish(
        self,
        job_row: JobRow,
        attempt: AttemptRow,
        report: PassReport,
        status: JobStatus,
        reason: str,
        *,
        outcome: str,
        exit_code: int | None = None,
        work: float = 0.0,
        ended: datetime | None = None,
        **fields: Any,
    ) -> None:
        """One transaction: the attempt ends, the job takes its new status."""
        crash.point("before-status")
        ended = ended or report.at
        if job_row.status is not JobStatus.RUNNING:
            # Already moved (e.g. a cancel of a job that never started): just end the attempt.
            self.store.update_attempt(
                attempt.token,
                state=AttemptState.ENDED.value,
                ended_at=ended,
                outcome=outcome,
                exit_code=exit_code,
                work_s=work,
            )
            return
        try:
            self.store.change(
                job_row,
                report.at,
                status=status,
                reason=reason,
                attempt=(
                    attempt.token,
                    {
                        "state": AttemptState.ENDED.value,
                        "ended_at": ended,
                        "outcome": outcome,
                        "exit_code": exit_code,
                        "work_s": work,
                    },
                ),
                **fields,
            )
        except ConflictError:
            return  # re-read next pass
        report.ended[job_row.id] = status.value
        self._dirty.set()

    def _fence_orphans(self, report: PassReport) -> None:
        """Everything accounted: a process whose token has no open attempt is fenced."""
        open_tokens = {a.token for a in self.store.open_attempts()}
        for name, executor in self.executors.items():
            try:
                tokens = executor.tokens()
            except ExecutorError:
                continue
            for token in tokens:
                if token in open_tokens:
                    continue
                try:
                    seen = executor.observe(token)
                    if seen.state is State.RUNNING:
                        executor.kill(token)
                        report.fenced.append(token)
                        log.warning("fenced %s on %s: no open attempt has it", token, name)
                    executor.forget(token)
                except ExecutorError:
                    continue

    # -- 2. cancels ------------------------------------------------------------------------

    def _cancels(self, report: PassReport) -> None:
        attempts = [a for a in self.store.open_attempts() if a.stop_reason != "cancel"]
        rows = {r.id: r for r in self.store.jobs_by_ids([a.job_id for a in attempts])}
        for attempt in attempts:
            job_row = rows.get(attempt.job_id)
            if job_row is None or not job_row.cancel_requested:
                continue
            self._stop(attempt, "cancel", self.options.cancel_grace_s, report)

    def _stop(self, attempt: AttemptRow, why: str, grace_s: float, report: PassReport) -> None:
        executor = self.executors.get(attempt.cluster)
        if executor is None:
            return
        self.store.update_attempt(attempt.token, state=AttemptState.STOPPING.value, stop_reason=why)
        try:
            executor.stop(attempt.token, grace_s)
        except ExecutorError:
            return  # the next pass observes it and tries again
        report.stopped.append(attempt.job_id)

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
            self._jobs[job_id] = job_from_data(
                spec, source=f"job {job_id}", submitted_at=submitted_at, job_id=job_id
            )
        open_by_job = {a.job_id: a for a in self.store.open_attempts()}
        forecasts = self.feed.current(now)
        started = time.perf_counter()
        self._last_replan_wall = time.monotonic()
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

    # -- 6. act ----------------------------------------------------------------------------

    def _act(self, now: datetime, report: PassReport) -> None:
        assert self.current is not None
        open_attempts = self.store.open_attempts()
        by_job = {a.job_id: a for a in open_attempts}
        held: dict[str, int] = {}
        team_held: dict[str, int] = {}
        due = [
            job_id
            for job_id, jp in self.current.by_job.items()
            if jp.segments and jp.segments[0].start <= now
        ]
        wanted = set(due) | set(by_job)
        rows = {r.id: r for r in self.store.jobs_by_ids(sorted(wanted)) if r.status in ACTIVE}
        for a in open_attempts:
            held[a.cluster] = held.get(a.cluster, 0) + a.gpus
            row = rows.get(a.job_id)
            if row is not None:
                team_held[row.team] = team_held.get(row.team, 0) + a.gpus
        quotas = {t.name: t.gpu_quota for t in self.store.teams()}
        running = [j for j in by_job if j in self.current.by_job and j not in set(due)]
        for job_id in [*due, *running]:
            jp = self.current.by_job[job_id]
            row = rows.get(job_id)
            if row is None or row.cancel_requested:
                continue
            segment = next((s for s in jp.segments if s.start <= now < s.end), None)
            attempt = by_job.get(job_id)
            if row.status in (JobStatus.PENDING, JobStatus.PAUSED) and attempt is None:
                # Due once its first planned segment has begun, even if a slow pass let that
                # segment's end go by (a short remainder is never skipped over).
                if not jp.segments or jp.segments[0].start > now:
                    continue
                segment = segment or jp.segments[0]
                why = self._room(row, jp.cluster, segment.gpus, held, team_held, quotas)
                if why is not None:
                    report.waiting[job_id] = why
                    continue
                if self._dispatch(row, jp.cluster, segment.gpus, segment.power_cap_w, now, report):
                    held[jp.cluster] = held.get(jp.cluster, 0) + segment.gpus
                    team_held[row.team] = team_held.get(row.team, 0) + segment.gpus
            elif row.status is JobStatus.RUNNING and attempt is not None:
                self._adjust(row, attempt, segment, jp, report)

    def _room(
        self,
        row: JobRow,
        cluster: str,
        gpus: int,
        held: dict[str, int],
        team_held: dict[str, int],
        quotas: Mapping[str, int | None],
    ) -> str | None:
        total = self.site.cluster(cluster).gpus
        if total is not None and held.get(cluster, 0) + gpus > total:
            return f"waiting for {gpus} GPUs on {cluster} (others still hold them)"
        quota = quotas.get(row.team)
        if quota is not None and team_held.get(row.team, 0) + gpus > quota:
            return f"waiting: team {row.team}'s GPU quota ({quota}) is in use"
        if cluster not in self.executors:
            return f"no executor for cluster {cluster}"
        return None

    def _dispatch(
        self,
        row: JobRow,
        cluster: str,
        gpus: int,
        power_cap_w: float | None,
        now: datetime,
        report: PassReport,
    ) -> bool:
        job = self.job_of(row)
        resume = row.status is JobStatus.PAUSED
        token = token_of(row.id, row.attempts + 1)
        lease = now + timedelta(seconds=self.options.lease_s * self.clock.scale)
        try:
            _, attempt = self.store.dispatch_intent(
                row,
                now,
                token=token,
                cluster=cluster,
                gpus=gpus,
                power_cap_w=power_cap_w,
                resume=resume,
                lease_until=lease,
                reason=f"{'resumed' if resume else 'started'} on {cluster} with {gpus} GPUs",
            )
        except ConflictError:
            return False  # changed meanwhile (a cancel): decided again next pass
        crash.point("after-intent")
        executor = self.executors[cluster]
        launch = Launch(
            token=token,
            job_id=row.id,
            argv=job.command,
            gpus=gpus,
            env=dict(job.env),
            cwd=row.spec.get("workdir") if isinstance(row.spec.get("workdir"), str) else None,
            resume=resume,
            checkpoint_dir=self.checkpoint_root / row.id,
            power_cap_w=power_cap_w,
        )
        try:
            executor.start(launch)
        except ExecutorError as exc:
            # Refused (not ambiguous): the attempt never ran; re-queue on the infra budget.
            fresh = self.store.job(row.id)
            if fresh is not None:
                self._infra_failure(fresh, attempt, report, f"the executor refused it: {exc}")
            return False
        crash.point("after-start")
        self.store.update_attempt(token, state=AttemptState.RUNNING.value, started_at=now)
        if power_cap_w is not None and executor.capabilities.power_cap:
            executor.set_power_cap(token, power_cap_w)
        report.dispatched.append(row.id)
        return True

    def _adjust(
        self,
        row: JobRow,
        attempt: AttemptRow,
        segment: Segment | None,
        plan: JobPlan | None,
        report: PassReport,
    ) -> None:
        """Pause or resize a running interruptible job at a segment boundary."""
        if attempt.state is not AttemptState.RUNNING:
            return
        job = self.job_of(row)
        executor = self.executors.get(attempt.cluster)
        if executor is None or job.interruptible is None or row.urgent:
            return
        if segment is None:
            # Pause only for a gap the plan puts before its next segment; a job whose last
            # segment is over is finishing (or overrunning its estimate): it runs on.
            later = any(s.start > report.at for s in (plan.segments if plan else ()))
            if later and executor.capabilities.pause:
                self._stop(attempt, "pause", self.options.grace_s, report)
            return
        gpus = segment.gpus
        if gpus != attempt.gpus and job.elastic is not None and executor.capabilities.resize:
            self._stop(attempt, "resize", self.options.grace_s, report)
