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
from typing import Any, Protocol

from gridshift.domain import (
    Cluster,
    Forecast,
    Job,
    JobPlan,
    Objective,
    ObjectiveMode,
    Plan,
    Priority,
    SignalKind,
)
from gridshift.domain.power import elastic_speedup
from gridshift.domain.status import AttemptState, JobStatus
from gridshift.domain.timeutil import to_iso
from gridshift.engine.options import EngineOptions
from gridshift.planner import PlannerOptions, RunningJob, solve
from gridshift.planner.model import Problem, build_problem
from gridshift.planner.schedule import Placement
from gridshift.store import AttemptRow

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


def left_s(job: Job, row: PlanRow) -> float:
    return max(1.0, job.duration_s - row.done_s)


def planner_terms(
    job: Job, row: PlanRow, now: datetime, options: EngineOptions
) -> tuple[float, datetime, bool]:
    """What the planner is told of a job now: the work to plan, the due time, urgent or not
    (see the module docstring). Cheap: a re-plan of ten thousand jobs builds a planner job only
    where these changed."""
    duration = left_s(job, row)
    if row.status is JobStatus.PAUSED and job.interruptible is not None:
        duration += job.interruptible.checkpoint_overhead_s
    earliest = now + timedelta(seconds=duration)
    if row.urgent:
        return duration, max(job.deadline, earliest), True
    slack = (job.deadline - job.earliest_finish).total_seconds()
    guard = min(max(GUARD_SHARE * slack, options.replan_s), 0.5 * slack)
    due = max(job.deadline - timedelta(seconds=guard), earliest)
    return duration, max(min(due, job.deadline), earliest), False


def planner_job(job: Job, terms: tuple[float, datetime, bool]) -> Job:
    duration, due, urgent = terms
    if urgent:
        return replace(
            job,
            duration_s=duration,
            deadline=due,
            priority=Priority.CRITICAL,
            interruptible=None,
            elastic=None,
        )
    if (duration, due) == (job.duration_s, job.deadline):
        return job
    return replace(job, duration_s=duration, deadline=due)


@dataclass
class CurrentPlan:
    """The newest plan, and when and how fast it was made."""

    plan: Plan
    made_at: datetime
    seconds: float
    by_job: dict[str, Any] = field(default_factory=dict)  # job id -> JobPlan

    def __post_init__(self) -> None:
        self.by_job = {jp.job_id: jp for jp in self.plan.jobs}


@dataclass(frozen=True)
class PlanRequest:
    """Everything a re-plan needs, picklable: the planner may run in a worker process. Jobs
    travel once and again only when they change (``changed``); ``order`` names every job."""

    order: list[str]
    changed: dict[str, Job]
    running: dict[str, RunningJob]
    clusters: tuple[Cluster, ...]
    forecasts: dict[tuple[str, SignalKind], Forecast]
    objective: Objective
    t0: datetime
    options: PlannerOptions
    previous_starts: dict[str, datetime] | None


class PlanRow(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def status(self) -> JobStatus: ...

    @property
    def done_s(self) -> float: ...

    @property
    def urgent(self) -> bool: ...


def plan_request(
    rows: Sequence[PlanRow],
    jobs: Mapping[str, Job],
    open_attempts: Mapping[str, AttemptRow],
    clusters: Sequence[Cluster],
    forecasts: Mapping[tuple[str, SignalKind], Forecast],
    objective: Objective,
    now: datetime,
    options: EngineOptions,
    previous: CurrentPlan | None,
    sent: dict[str, tuple[float, datetime, bool]],
) -> PlanRequest:
    """Every active job as the planner sees it now, on the step grid that contains ``now``.
    ``sent`` (the caller's) remembers what the planner has: only changes travel."""
    order: list[str] = []
    changed: dict[str, Job] = {}
    running: dict[str, RunningJob] = {}
    longest = 0.0
    for row in rows:
        job = jobs[row.id]
        attempt = open_attempts.get(row.id)
        terms = planner_terms(job, row, now, options)
        if sent.get(row.id) != terms:
            sent[row.id] = terms
            changed[row.id] = planner_job(job, terms)
        order.append(row.id)
        longest = max(longest, terms[0])
        if (
            row.status is JobStatus.RUNNING
            and attempt is not None
            and attempt.state is not AttemptState.STOPPING
        ):
            done = row.done_s + credited_work_s(job, attempt, now)
            running[row.id] = RunningJob(
                row.id, attempt.cluster, attempt.gpus, min(done, job.duration_s - 1.0)
            )
    for gone in set(sent) - set(order):
        del sent[gone]
    horizon = max(options.horizon_s, int(longest * 1.5) + int(options.replan_s))
    previous_starts = (
        {
            job_id: jp.segments[0].start
            for job_id, jp in previous.by_job.items()
            if jp.segments and job_id in jobs
        }
        if previous is not None
        else None
    )
    return PlanRequest(
        order=order,
        changed=changed,
        running=running,
        clusters=tuple(clusters),
        forecasts=dict(forecasts),
        objective=objective,
        t0=floor_to_step(now, options.step_s),
        options=PlannerOptions(step_s=options.step_s, horizon_s=horizon, seed=0),
        previous_starts=previous_starts,
    )


class StaleJobsError(Exception):
    """The planner lacks a job the request names (it restarted): send every job again."""


class WarmPlanner:
    """Solves plan requests, each warm-started from the previous one (``planner.warm``), keeping
    the jobs it was sent."""

    def __init__(self) -> None:
        self.last: tuple[Problem, dict[int, Placement]] | None = None
        self.jobs: dict[str, Job] = {}

    def solve(self, request: PlanRequest) -> Plan:
        self.jobs.update(request.changed)
        missing = [i for i in request.order if i not in self.jobs]
        if missing:
            raise StaleJobsError(f"{len(missing)} jobs unknown to the planner")
        if len(self.jobs) > len(request.order):
            keep = set(request.order)
            self.jobs = {i: j for i, j in self.jobs.items() if i in keep}
        problem = build_problem(
            [self.jobs[i] for i in request.order],
            request.clusters,
            request.forecasts,
            request.objective,
            request.t0,
            request.options,
            request.running,
            request.previous_starts,
        )
        placements: dict[int, Placement] = {}
        plan = solve(problem, "fast", warm_from=self.last, placements_out=placements)
        self.last = (problem, placements)
        return plan


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


def _objective(plan: Plan, jobs: Sequence[JobPlan]) -> float:
    """The objective of some of a plan's jobs, from their expected outcomes."""
    cost = sum(j.outcome.cost_usd for j in jobs)
    carbon = sum(j.outcome.carbon_kg for j in jobs)
    if plan.objective.mode is ObjectiveMode.COST:
        return float(cost)
    if plan.objective.mode is ObjectiveMode.CARBON:
        return float(carbon)
    return float(cost + carbon / 1000.0 * plan.objective.carbon_price_usd_per_tonne)


def plan_json(current: CurrentPlan, teams: Mapping[str, str], team: str | None) -> dict[str, Any]:
    """``plan --json`` (DESIGN.md §3.2), limited to ``team``'s jobs when given."""
    plan = current.plan
    chosen = [jp for jp in plan.jobs if team is None or teams.get(jp.job_id) == team]
    infeasible = [i for i in plan.infeasible if team is None or teams.get(i.job_id) == team]
    return {
        "created_at": to_iso(current.made_at),
        # A team sees its own jobs' share of the objective, not the whole plan's.
        "objective": plan.objective_value if team is None else _objective(plan, chosen),
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
