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

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from gridshift.domain import Job, Objective, Priority
from gridshift.planner.fast import solve_fast
from gridshift.planner.greedy import Capacity, place_all
from gridshift.planner.model import PlannerOptions, Problem, RunningJob, build_problem
from gridshift.planner.schedule import EPS, Placement
from gridshift.simulate.config import SimConfig
from gridshift.simulate.grid import Floats, SignalKey, Signals
from gridshift.simulate.runs import NEVER, Run, earliest, run_of


def _whole_trace(
    config: SimConfig,
    signals: Signals,
    values: dict[SignalKey, Floats],
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
        signals.forecasts(values, 0, grid.steps),
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


def run_now(
    config: SimConfig, signals: Signals, values: dict[SignalKey, Floats], jobs: list[Job]
) -> list[Run]:
    plain = [_plain(j, keep_interruptible=False) for j in jobs]
    problem = _whole_trace(config, signals, values, plain, config.site.objective, ())
    runs = _in_order(problem, list(range(len(jobs))), Capacity(problem), fit=False)
    return [runs[j] for j in range(len(jobs))]


def lowest(
    config: SimConfig,
    signals: Signals,
    values: dict[SignalKey, Floats],
    jobs: list[Job],
    slots: bool,
) -> list[Run]:
    plain = [_plain(j, keep_interruptible=slots) for j in jobs]
    problem = _whole_trace(config, signals, values, plain, config.site.objective, ())
    runs = _in_order(problem, list(range(len(jobs))), Capacity(problem), fit=True)
    return [runs[j] for j in range(len(jobs))]


def oracle(
    config: SimConfig, signals: Signals, values: dict[SignalKey, Floats], jobs: list[Job]
) -> list[Run]:
    problem = _whole_trace(config, signals, signals.actual, jobs, config.site.objective)
    placements, failed = solve_fast(problem)
    cap = Capacity(problem)
    for j, p in placements.items():
        cap.book(problem.jobs[j], p)
    runs = {j: run_of(problem.jobs[j], p) for j, p in placements.items()}
    runs.update(_in_order(problem, failed, cap, fit=False))
    return [runs[j] for j in range(len(jobs))]


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

    def run(self) -> Run:
        if not self.steps:
            return NEVER
        return Run(
            self.cluster,
            np.array(self.steps, dtype=np.int64),
            np.array(self.frac),
            np.array(self.kw),
            np.array(self.held),
        )


def planning_horizon(config: SimConfig, jobs: list[Job]) -> int:
    """Steps the gridshift policy plans over: the configured horizon, widened where needed to
    hold the longest job whole at its slowest power cap plus a re-plan interval (a running job
    that did not fit in it could not be planned on)."""
    longest = max(j.duration_s for j in jobs)
    seconds = max(config.horizon_s, math.ceil(1.5 * longest) + config.replan_s)
    return math.ceil(seconds / config.step_s)


def gridshift(
    config: SimConfig, signals: Signals, values: dict[SignalKey, Floats], jobs: list[Job]
) -> list[Run]:
    grid = signals.grid
    clusters = list(config.site.clusters)
    horizon = planning_horizon(config, jobs)
    replan = config.replan_s // grid.step_s
    options = PlannerOptions(step_s=grid.step_s, horizon_s=horizon * grid.step_s, seed=config.seed)
    watchdog_s = config.replan_s + grid.step_s
    state = [_Progress(j) for j in jobs]
    arrival = [max(0, math.ceil(grid.step_of(j.release) - 1e-9)) for j in jobs]
    arrivals = sorted(set(arrival))
    previous: dict[str, datetime] = {}
    k = 0
    while k < grid.steps:
        active = [s for i, s in enumerate(state) if arrival[i] <= k and not s.finished]
        later = [a for a in arrivals if a > k]
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
            if now + timedelta(seconds=left + watchdog_s) > job.deadline:
                # The deadline watchdog: with less slack than one re-plan interval left, the job
                # runs at once, uncapped, and is not paused again (a late one still runs).
                job = replace(
                    job, deadline=grid.end, priority=Priority.CRITICAL, interruptible=None
                )
            plan_jobs.append(job)
            if s.cluster >= 0:
                paused = s.last_step != k - 1
                running[job.id] = RunningJob(
                    job.id, clusters[s.cluster].name, s.gpus, s.done, paused=paused
                )
        problem = build_problem(
            plan_jobs,
            clusters,
            signals.forecasts(values, k, horizon),
            config.site.objective,
            now,
            options,
            running,
            previous,
        )
        placements, _ = solve_fast(problem)
        stop = min([k + replan, *later[:1], grid.steps])
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
            credit = frac * mode.rate * step_s
            if s.done > 0 and s.last_step != t - 1 and s.job.interruptible is not None:
                credit -= s.job.interruptible.checkpoint_overhead_s  # a resume
            s.cluster, s.gpus, s.last_step = c, mode.gpus, t
            s.steps.append(t)
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


POLICY: dict[str, Callable[[SimConfig, Signals, dict[SignalKey, Floats], list[Job]], list[Run]]] = {
    "run-now": run_now,
    "lowest-window": lambda c, s, v, j: lowest(c, s, v, j, slots=False),
    "lowest-slots": lambda c, s, v, j: lowest(c, s, v, j, slots=True),
    "gridshift": gridshift,
    "oracle": oracle,
}
USES_FORECAST = frozenset({"lowest-window", "lowest-slots", "gridshift"})
