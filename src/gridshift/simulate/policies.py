"""The five policies (DESIGN.md §3.5), each ending in a ``Run`` per job on the simulation grid.

- ``run-now``: energy-blind first come, first served: each job in submission order at its
  requested GPUs, uncapped, from the earliest step some allowed cluster has room.
- ``lowest-window``: each job alone, in submission order, at its cheapest contiguous window
  before its deadline (over its allowed clusters) on the forecast, at its requested GPUs,
  uncapped: what carbon-aware SDKs offer.
- ``lowest-slots``: the same, but interruptible jobs take their cheapest steps (each resume
  costing its checkpoint overhead).
- ``gridshift``: the production planner (``build_problem`` + the fast solver), re-planning every
  ``replan`` and whenever a job arrives, over ``horizon``, with forecasts as of that moment;
  the plan is carried out until the next re-plan, work is credited as it runs (a resume pays its
  overhead), started jobs stay on their cluster; a deadline watchdog runs a job at once, uncapped
  and unpaused, when less slack than one re-plan interval is left.
- ``oracle``: the planner once over the whole trace with perfect foresight: what foresight
  allows, not a policy (and, solved by the fast heuristic, not a proven bound either).

Capacity, site power limits, priorities and the jobs' own constraints hold for every policy.
Work a policy cannot place before its deadline still runs, as early as there is room (and
counts as a deadline miss); work that finds no room before the grid ends never runs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from gridshift.domain import Job, Objective, Priority
from gridshift.planner.fast import solve_fast
from gridshift.planner.greedy import Capacity, place_all
from gridshift.planner.model import (
    PlannerOptions,
    Problem,
    RunningJob,
    build_problem,
    cost_tables,
)
from gridshift.planner.schedule import EPS, Placement
from gridshift.planner.warm import carry
from gridshift.simulate.config import SimConfig
from gridshift.simulate.forecasts import ForecastView, SeriesView
from gridshift.simulate.grid import Signals
from gridshift.simulate.runs import NEVER, Run, earliest, run_of


def _whole_trace(
    config: SimConfig,
    signals: Signals,
    view: ForecastView,
    jobs: list[Job],
    objective: Objective,
    cap_ratios: tuple[float, ...] | None = None,
) -> Problem:
    grid = signals.grid
    options = PlannerOptions(step_s=grid.step_s, horizon_s=grid.steps * grid.step_s, seed=0)
    if cap_ratios is not None:
        options = replace(options, cap_ratios=cap_ratios)
    return build_problem(
        jobs,
        list(config.site.clusters),
        signals.forecasts(view, 0, grid.steps),
        objective,
        grid.t0,
        options,
    )


def _plain(job: Job, keep_interruptible: bool) -> Job:
    """The job without the levers a baseline does not use (elastic sizes; pausing unless kept)."""
    return replace(
        job, elastic=None, interruptible=job.interruptible if keep_interruptible else None
    )


def _in_order(problem: Problem, order: list[int], cap: Capacity, fit: bool) -> dict[int, Run]:
    """Place jobs in order (``fit``: their cheapest placement before the deadline, else the
    earliest start); anything not placed falls back to the earliest start."""
    runs: dict[int, Run] = {}
    if fit:
        placed, failed = place_all(problem, order, cap)
        runs.update({j: run_of(problem.jobs[j], p) for j, p in placed.items()})
    else:
        failed = order
    for j in failed:
        table = problem.jobs[j]
        late = earliest(problem, table, cap)
        if late is None:
            runs[j] = NEVER
            continue
        cap.book(table, late)
        runs[j] = run_of(table, late)
    return runs


def run_now(config: SimConfig, signals: Signals, view: ForecastView, jobs: list[Job]) -> list[Run]:
    plain = [_plain(j, keep_interruptible=False) for j in jobs]
    actual = SeriesView(signals.actual)
    problem = _whole_trace(config, signals, actual, plain, config.site.objective, ())
    runs = _in_order(problem, list(range(len(jobs))), Capacity(problem), fit=False)
    return [runs[j] for j in range(len(jobs))]


def lowest(
    config: SimConfig, signals: Signals, view: ForecastView, jobs: list[Job], slots: bool
) -> list[Run]:
    plain = [_plain(j, keep_interruptible=slots) for j in jobs]
    order = list(range(len(jobs)))
    if view.static:
        problem = _whole_trace(config, signals, view, plain, config.site.objective, ())
        runs = _in_order(problem, order, Capacity(problem), fit=True)
        return [runs[j] for j in order]
    # Forecasts that change with their origin: each job chooses on the forecast as of its
    # arrival (jobs arriving in the same step, in order, on the same forecast).
    actual = SeriesView(signals.actual)
    problem = _whole_trace(config, signals, actual, plain, config.site.objective, ())
    cap = Capacity(problem)
    runs = {}
    groups: dict[int, list[int]] = {}
    for j in order:
        groups.setdefault(problem.jobs[j].release, []).append(j)
    for k, group in sorted(groups.items()):
        last = min(problem.steps, max(problem.jobs[j].deadline for j in group) + 1)
        if k >= last:
            runs.update(_in_order(problem, group, cap, fit=False))
            continue
        forecasts = signals.forecasts(view, k, last - k)
        times = signals.grid.times(k, last - k)
        _, _, cost, _ = cost_tables(config.site.clusters, forecasts, config.site.objective, times)
        seen = problem.cost.copy()
        seen[:, k:last] = cost
        as_of = replace(
            problem, cost=seen, cost_prefix=np.zeros((0, 1)), arrays=problem.arrays, cost_order=None
        )
        runs.update(_in_order(as_of, group, cap, fit=True))
    return [runs[j] for j in order]


def oracle(config: SimConfig, signals: Signals, view: ForecastView, jobs: list[Job]) -> list[Run]:
    actual = SeriesView(signals.actual)
    problem = _whole_trace(config, signals, actual, jobs, config.site.objective)
    placements, failed = solve_fast(problem, both_orders=True)
    cap = Capacity.holding(problem, placements)
    runs = {j: run_of(problem.jobs[j], p) for j, p in placements.items()}
    runs.update(_in_order(problem, failed, cap, fit=False))
    return [runs[j] for j in range(len(jobs))]


GUARD_SHARE = 0.1  # of a job's slack kept free before its deadline when planning


class _Progress:
    """One job's state under the gridshift policy."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.done = 0.0  # work seconds done
        self.cluster = -1
        self.gpus = job.gpus
        self.last_step = -2  # the last step it ran in
        self.steps: list[int] = []
        self.frac: list[float] = []
        self.kw: list[float] = []
        self.held: list[float] = []
        self.finished = False
        self.urgent = False  # the deadline watchdog has fired
        self.owed = 0.0  # resume overhead not yet paid in run time
        self._key: tuple[float, datetime, bool] | None = None
        self._planned = job
        self.where: list[int] = []

    def planned(
        self, now: datetime, left_s: float, paused: bool, watchdog_s: float, end: datetime
    ) -> Job:
        """The job as the planner sees it now.

        - Paused (started, not running in the last step): what is left plus one resume, free
          to resume on any allowed cluster (its checkpoint is restored there).
        - Urgent (the watchdog fired): critical (at once, or at the first room), uncapped,
          not paused again, due by the grid's end (a late one still runs).
        - Otherwise due a guard before its deadline (a tenth of its slack, at least one
          re-plan interval, never more than half of it), so that work planned for the last
          hours still has room when later arrivals crowd them, and the watchdog rarely fires.
          Never earlier than the job could finish from now.
        """
        job = self.job
        duration = job.duration_s
        if paused and job.interruptible is not None:
            duration = left_s + job.interruptible.checkpoint_overhead_s
        if self.urgent:
            due = end
        else:
            slack = (job.deadline - job.earliest_finish).total_seconds()
            guard = min(max(GUARD_SHARE * slack, watchdog_s), 0.5 * slack)
            due = max(job.deadline - timedelta(seconds=guard), now + timedelta(seconds=duration))
            due = min(due, job.deadline)
        key = (duration, due, self.urgent)
        if key != self._key:
            self._key = key
            if self.urgent:
                self._planned = replace(
                    job,
                    duration_s=duration,
                    deadline=due,
                    priority=Priority.CRITICAL,
                    interruptible=None,
                    elastic=None,
                )
            elif (duration, due) != (job.duration_s, job.deadline):
                self._planned = replace(job, duration_s=duration, deadline=due)
            else:
                self._planned = job
        return self._planned

    def run(self) -> Run:
        if not self.steps:
            return NEVER
        where = np.array(self.where, dtype=np.int64)
        return Run(
            int(where[0]),
            np.array(self.steps, dtype=np.int64),
            np.array(self.frac),
            np.array(self.kw),
            np.array(self.held),
            where if (where != where[0]).any() else None,
        )


def planning_horizon(config: SimConfig, jobs: list[Job]) -> int:
    """Steps the gridshift policy plans over: the configured horizon, widened where needed to
    hold the longest job whole at its slowest power cap plus a re-plan interval (a running job
    that did not fit in it could not be planned on)."""
    longest = max(j.duration_s for j in jobs)
    seconds = max(config.horizon_s, math.ceil(1.5 * longest) + config.replan_s)
    return math.ceil(seconds / config.step_s)


def gridshift(
    config: SimConfig, signals: Signals, view: ForecastView, jobs: list[Job]
) -> list[Run]:
    grid = signals.grid
    clusters = list(config.site.clusters)
    horizon = planning_horizon(config, jobs)
    replan = config.replan_s // grid.step_s
    options = PlannerOptions(step_s=grid.step_s, horizon_s=horizon * grid.step_s, seed=config.seed)
    watchdog_s = config.replan_s + grid.step_s
    state = [_Progress(j) for j in jobs]
    arrival = [max(0, math.ceil(grid.step_of(j.release) - 1e-9)) for j in jobs]
    by_arrival = sorted(range(len(jobs)), key=lambda i: (arrival[i], i))
    arrivals = sorted(set(arrival))
    previous: dict[str, datetime] = {}
    last: tuple[Problem, dict[int, Placement]] | None = None
    active: list[_Progress] = []
    admitted = 0
    k = 0
    while k < grid.steps:
        while admitted < len(by_arrival) and arrival[by_arrival[admitted]] <= k:
            active.append(state[by_arrival[admitted]])
            admitted += 1
        active = [s for s in active if not s.finished]
        nxt = bisect.bisect_right(arrivals, k)
        later = arrivals[nxt : nxt + 1]
        if not active:
            if not later:
                break
            k = later[0]
            continue
        now = grid.time_at(k)
        plan_jobs, running = [], {}
        for s in active:
            job = s.job
            left = job.duration_s - s.done
            started = s.cluster >= 0
            paused = started and s.last_step != k - 1 and job.interruptible is not None
            resume_s = (
                job.interruptible.checkpoint_overhead_s if paused and job.interruptible else 0
            )
            if (
                not s.urgent
                and now + timedelta(seconds=left + resume_s + watchdog_s) > job.deadline
            ):
                # The deadline watchdog: with less slack than one re-plan interval left, the job
                # runs at once, uncapped, and is not paused again.
                s.urgent = True
            plan_jobs.append(s.planned(now, left, paused, watchdog_s, grid.end))
            if started and not paused:  # running now: it goes on where it runs
                running[job.id] = RunningJob(job.id, clusters[s.cluster].name, s.gpus, s.done)
        problem = build_problem(
            plan_jobs,
            clusters,
            signals.forecasts(view, k, horizon),
            config.site.objective,
            now,
            options,
            running,
            previous,
        )
        # Re-plan from the previous plan (``planner.warm``): what still holds is kept.
        warm = carry(*last, problem) if last is not None else None
        placements, _ = solve_fast(problem, warm)
        last = (problem, placements)
        stop = min([k + replan, *later, grid.steps])
        previous = {}
        for j, p in placements.items():
            on = np.nonzero(p.frac > EPS)[0]
            if len(on):
                previous[problem.jobs[j].job.id] = grid.time_at(k + int(on[0]))
        _carry_out(problem, placements, active, k, stop, grid.step_s)
        k = stop
    return [s.run() for s in state]


def _carry_out(
    problem: Problem,
    placements: dict[int, Placement],
    active: list[_Progress],
    k: int,
    stop: int,
    step_s: int,
) -> None:
    """Run the plan's steps ``[k, stop)``: credit work as it runs; a resume pays its overhead."""
    by_id = {s.job.id: s for s in active}
    for j, placement in placements.items():
        table = problem.jobs[j]
        s = by_id[table.job.id]
        p = placement
        for t in range(k, min(stop, k + len(p.frac))):
            local = t - k
            frac = float(p.frac[local])
            if frac <= EPS or s.finished:
                continue
            mode = table.modes[int(p.mode[local])]
            c = p.cluster
            gross = frac * mode.rate * step_s
            if s.steps and s.last_step != t - 1 and s.job.interruptible is not None:
                s.owed += s.job.interruptible.checkpoint_overhead_s  # a resume
            pay = min(s.owed, gross)  # the overhead is paid in run time, over steps if need be
            s.owed -= pay
            credit = gross - pay
            s.cluster, s.gpus, s.last_step = c, mode.gpus, t
            s.steps.append(t)
            s.where.append(c)
            s.kw.append(float(mode.kw[c]))
            s.held.append(float(mode.gpus))
            need = s.job.duration_s - s.done
            if credit >= need - 1e-6:
                # Done inside this step: it runs only the share it needs.
                used = frac - max(0.0, credit - need) / (mode.rate * step_s)
                s.frac.append(max(EPS * 2, min(frac, used)))
                s.done = s.job.duration_s
                s.finished = True
            else:
                s.frac.append(frac)
                s.done += max(0.0, credit)


POLICY: dict[str, Callable[[SimConfig, Signals, ForecastView, list[Job]], list[Run]]] = {
    "run-now": run_now,
    "lowest-window": lambda c, s, v, j: lowest(c, s, v, j, slots=False),
    "lowest-slots": lambda c, s, v, j: lowest(c, s, v, j, slots=True),
    "gridshift": gridshift,
    "oracle": oracle,
}
USES_FORECAST = frozenset({"lowest-window", "lowest-slots", "gridshift"})
