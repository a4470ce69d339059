"""Phase 1 of a pass, and reconciliation: observe every open attempt and record what ended.

What the executor reports decides, by token: still running (adopted if the intent had not been
confirmed; its lease renewed), succeeded, paused at its checkpoint (its work credited), failed
by its own fault (the user budget) or lost (fenced first, then the infrastructure budget), or
never started (an intent the executor never got: re-queued, no budget spent). An attempt the
engine cannot observe waits until its lease runs out, and is fenced before the job runs again.
A process no open attempt accounts for is fenced.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gridshift.domain.status import AttemptState, JobStatus
from gridshift.engine.core import EngineCore, PassReport
from gridshift.engine.planning import (
    credited_work_s,
)
from gridshift.executors.base import Executor, ExecutorError, Observed, State
from gridshift.store import AttemptRow

log = logging.getLogger("gridshift.engine")


class Outcomes(EngineCore):
    def _observe(self, report: PassReport) -> None:
        alive: list[str] = []
        for attempt in self.store.open_attempts():
            executor = self.executors.get(attempt.cluster)
            if executor is None:
                continue
            try:
                seen = executor.observe(attempt.token)
            except ExecutorError as exc:
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
