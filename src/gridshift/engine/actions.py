"""Phases 2 and 6 of a pass: cancels, and acting on the plan.

A job is due once its first planned segment has begun (a short remainder is never skipped over
by a slow pass); it starts when its cluster has the GPUs and its team's quota allows, by the
write-ahead intent (``Store.dispatch_intent``) and then the executor. A running interruptible
job is paused (the checkpoint protocol) when the plan puts a gap before its next segment, and
stopped to be resumed at another size when the plan resizes an elastic one; a job whose last
segment is over is finishing (or overrunning its estimate) and runs on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from gridshift.domain import JobPlan, Segment
from gridshift.domain.status import ACTIVE, AttemptState, JobStatus
from gridshift.engine import crash
from gridshift.engine.core import EngineCore, PassReport, token_of
from gridshift.executors.base import ExecutorError, Launch
from gridshift.store import AttemptRow, ConflictError, JobRow


class Actions(EngineCore):
    def _cancels(self, report: PassReport) -> None:
        attempts = [a for a in self.store.open_attempts() if a.stop_reason != "cancel"]
        rows = {r.id: r for r in self.store.jobs_by_ids([a.job_id for a in attempts])}
        for attempt in attempts:
            job_row = rows.get(attempt.job_id)
            if job_row is None or not job_row.cancel_requested:
                continue
            self._stop(attempt, "cancel", self.options.cancel_grace_s, report)

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
