"""The engine's state and what every phase shares: the job cache, the events that re-plan, the
one way an attempt ends (``_finish``: the attempt and the job's new status in one transaction),
the infrastructure retry budget, and the checkpoint protocol's stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gridshift.config.jobs import job_from_data
from gridshift.config.site import SiteConfig
from gridshift.domain import Job
from gridshift.domain.status import AttemptState, JobStatus
from gridshift.engine import crash
from gridshift.engine.clock import Clock
from gridshift.engine.feed import SignalFeed
from gridshift.engine.options import EngineOptions
from gridshift.engine.planning import (
    CurrentPlan,
)
from gridshift.engine.quote import QuoteTables
from gridshift.engine.worker import InlinePlanner, Planner
from gridshift.executors.base import Executor, ExecutorError
from gridshift.store import AttemptRow, ConflictError, JobRow, Store

log = logging.getLogger("gridshift.engine")


def job_of_spec(job_id: str, spec: dict[str, Any], submitted_at: datetime) -> Job:
    """A stored job's ``Job`` (its spec was validated at submission, so this cannot fail)."""
    return job_from_data(spec, source=f"job {job_id}", submitted_at=submitted_at, job_id=job_id)


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


class EngineCore:
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

    # -- events ----------------------------------------------------------------------------

    def poke(self) -> None:
        """Something changed (a submission, a cancel): re-plan at the next pass."""
        self._dirty.set()

    def job_of(self, row: JobRow) -> Job:
        job = self._jobs.get(row.id)
        if job is None:
            job = self._jobs[row.id] = job_of_spec(row.id, row.spec, row.submitted_at)
        return job

    # -- what every phase shares -----------------------------------------------------------

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
