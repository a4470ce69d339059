"""From the store's rows to the planner and back: what each job looks like to the planner now,
the warm re-plan, and the plan's columns for the store.

Rules (the simulator's ``gridshift`` policy, so that what is evaluated is what runs):
- a paused job is planned as what is left plus one resume (its checkpoint overhead), free to
  resume on any allowed cluster;
- a running job keeps its cluster (``RunningJob``), with the work done so far credited;
- every job is due a guard before its deadline (a tenth of its slack, at least one re-plan
  interval, at most half the slack), so later arrivals do not crowd its last hours;
- a job the deadline watchdog marked *urgent* is planned critical, uncapped, unpaused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from gridshift.domain import Cluster, Forecast, Job, Objective, Plan, Priority, SignalKind
from gridshift.domain.power import elastic_speedup
from gridshift.domain.status import AttemptState, JobStatus
from gridshift.domain.timeutil import to_iso
from gridshift.engine.options import EngineOptions
from gridshift.planner import PlannerOptions, RunningJob, solve
from gridshift.planner.model import Problem, build_problem
from gridshift.planner.schedule import Placement
from gridshift.store import AttemptRow, JobRow

GUARD_SHARE = 0.1


def floor_to_step(t: datetime, step_s: int) -> datetime:
    epoch = t.timestamp()
    return t - timedelta(seconds=epoch % step_s)


def credited_work_s(job: Job, attempt: AttemptRow, until: datetime) -> float:
    """Work an attempt has done by ``until``: run time at its GPUs' speed, less a resume's
    checkpoint overhead."""
    if attempt.started_at is None:
        return 0.0
    ran = max(0.0, (until - attempt.started_at).total_seconds())
    speed = elastic_speedup(attempt.gpus, job.gpus) if attempt.gpus != job.gpus else 1.0
    overhead = (
        job.interruptible.checkpoint_overhead_s if attempt.resume and job.interruptible else 0
    )
    return max(0.0, ran - overhead) * speed


def left_s(job: Job, row: JobRow) -> float:
    return max(1.0, job.duration_s - row.done_s)


def planner_job(job: Job, row: JobRow, now: datetime, options: EngineOptions) -> Job:
    """The job as the planner sees it now (see the module docstring)."""
    duration = left_s(job, row)
    if row.status is JobStatus.PAUSED and job.interruptible is not None:
        duration += job.interruptible.checkpoint_overhead_s
    earliest = now + timedelta(seconds=duration)
    if row.urgent:
        return replace(
            job,
            duration_s=duration,
            deadline=max(job.deadline, earliest),
            priority=Priority.CRITICAL,
            interruptible=None,
            elastic=None,
        )
    slack = (job.deadline - job.earliest_finish).total_seconds()
    guard = min(max(GUARD_SHARE * slack, options.replan_s), 0.5 * slack)
    due = max(job.deadline - timedelta(seconds=guard), earliest)
    due = max(min(due, job.deadline), earliest)
    if (duration, due) == (job.duration_s, job.deadline):
        return job
    return replace(job, duration_s=duration, deadline=due)


@dataclass
class CurrentPlan:
    """The newest plan, with what the next warm re-plan needs."""

    plan: Plan
    problem: Problem
    placements: dict[int, Placement]
    made_at: datetime
    seconds: float
    by_job: dict[str, Any] = field(default_factory=dict)  # job id -> JobPlan

    def __post_init__(self) -> None:
        self.by_job = {jp.job_id: jp for jp in self.plan.jobs}


def make_plan(
    rows: Sequence[JobRow],
    jobs: Mapping[str, Job],
    open_attempts: Mapping[str, AttemptRow],
    clusters: Sequence[Cluster],
    forecasts: Mapping[tuple[str, SignalKind], Forecast],
    objective: Objective,
    now: datetime,
    options: EngineOptions,
    previous: CurrentPlan | None,
) -> tuple[Plan, Problem, dict[int, Placement]]:
    """A warm re-plan of every active job on the step grid that contains ``now``."""
    t0 = floor_to_step(now, options.step_s)
    plan_jobs: list[Job] = []
    running: dict[str, RunningJob] = {}
    for row in rows:
        job = jobs[row.id]
        attempt = open_attempts.get(row.id)
        plan_jobs.append(planner_job(job, row, now, options))
        if (
            row.status is JobStatus.RUNNING
            and attempt is not None
            and attempt.state is not AttemptState.STOPPING
        ):
            done = row.done_s + credited_work_s(job, attempt, now)
            running[row.id] = RunningJob(
                row.id, attempt.cluster, attempt.gpus, min(done, job.duration_s - 1.0)
            )
    horizon = max(
        options.horizon_s,
        int(max((j.duration_s for j in plan_jobs), default=0) * 1.5) + int(options.replan_s),
    )
    planner_options = PlannerOptions(step_s=options.step_s, horizon_s=horizon, seed=0)
    previous_starts = (
        {
            job_id: jp.segments[0].start
            for job_id, jp in previous.by_job.items()
            if jp.segments and job_id in jobs
        }
        if previous is not None
        else None
    )
    problem = build_problem(
        plan_jobs, clusters, forecasts, objective, t0, planner_options, running, previous_starts
    )
    placements: dict[int, Placement] = {}
    warm = (previous.problem, previous.placements) if previous is not None else None
    plan = solve(problem, "fast", warm_from=warm, placements_out=placements)
    return plan, problem, placements


def plan_columns(current: CurrentPlan, job_id: str) -> dict[str, Any]:
    """The store's plan columns of one job."""
    jp = current.by_job.get(job_id)
    if jp is None:
        return {"planned_start": None, "planned_end": None, "cluster": None}
    out: dict[str, Any] = {
        "cluster": jp.cluster,
        "planned_start": jp.segments[0].start if jp.segments else None,
        "planned_end": jp.segments[-1].end if jp.segments else None,
        "plan_reason": jp.reason,
        "expected": outcome_dict(jp.outcome),
        "run_now": outcome_dict(jp.run_now) if jp.run_now is not None else None,
    }
    return out


def outcome_dict(outcome: Any) -> dict[str, float]:
    return {
        "energy_kwh": round(float(outcome.energy_kwh), 4),
        "cost_usd": round(float(outcome.cost_usd), 4),
        "carbon_kg": round(float(outcome.carbon_kg), 4),
    }


def plan_json(current: CurrentPlan, teams: Mapping[str, str], team: str | None) -> dict[str, Any]:
    """``plan --json`` (DESIGN.md §3.2), limited to ``team``'s jobs when given."""
    plan = current.plan
    chosen = [jp for jp in plan.jobs if team is None or teams.get(jp.job_id) == team]
    infeasible = [i for i in plan.infeasible if team is None or teams.get(i.job_id) == team]
    return {
        "created_at": to_iso(current.made_at),
        "objective": plan.objective_value,
        "objective_mode": plan.objective.describe(),
        "energy_kwh": sum(j.outcome.energy_kwh for j in chosen),
        "cost_usd": sum(j.outcome.cost_usd for j in chosen),
        "carbon_kg": sum(j.outcome.carbon_kg for j in chosen),
        "lower_bound": plan.lower_bound if team is None else None,
        "gap_pct": plan.gap_pct if team is None else None,
        "solver": plan.solver,
        "seconds": round(current.seconds, 3),
        "jobs": [
            {
                "id": jp.job_id,
                "team": teams.get(jp.job_id),
                "cluster": jp.cluster,
                "segments": [
                    {
                        "start": to_iso(s.start),
                        "end": to_iso(s.end),
                        "gpus": s.gpus,
                        "power_cap_w": s.power_cap_w,
                    }
                    for s in jp.segments
                ],
                "reason": jp.reason,
            }
            for jp in chosen
        ],
        "infeasible": [
            {"id": i.job_id, "team": teams.get(i.job_id), "reason": i.reason} for i in infeasible
        ],
    }
