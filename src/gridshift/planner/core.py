"""``plan()``: the planner's one entry point. Pure: no I/O, no clock, deterministic.

Stages: (1) build the tables (``model``), (2) set aside jobs that cannot be planned whatever the
others do, with the reason (``explain.precheck``), (3) solve (``fast`` or ``exact``; ``auto``
picks exact for small instances), (4) explain every decision and report the lower bound and gap.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Literal

from gridshift.domain import (
    Cluster,
    ConfigError,
    Forecast,
    Infeasible,
    Job,
    JobPlan,
    Objective,
    Outcome,
    Plan,
    Segment,
    SignalKind,
)
from gridshift.planner import explain
from gridshift.planner.bound import lower_bound
from gridshift.planner.fast import solve_fast
from gridshift.planner.flat import arrays_of, take
from gridshift.planner.lagrange import affordable_steps, lagrangian
from gridshift.planner.model import PlannerOptions, Problem, RunningJob, build_problem
from gridshift.planner.schedule import Placement
from gridshift.planner.summary import (
    ENERGY,
    KG,
    NOW_ENERGY,
    NOW_KG,
    NOW_USD,
    SEG_FROM,
    SEG_TO,
    USD,
    VALUE,
    Summary,
    summarise,
)
from gridshift.planner.warm import carry

Solver = Literal["auto", "fast", "exact"]
SOLVERS = ("auto", "fast", "exact")
# auto: the full MILP when it is small, with a node limit (deterministic) as well as a short
# time limit (a safety net); otherwise the fast solver.
AUTO_MIP_NODES = 500
AUTO_MAX_BINARIES = 3000
AUTO_TIME_LIMIT_S = 5.0
EXPLAIN_SHARE = 0.07  # of the exact solver's time limit, kept for the reasons and the bound
MIN_EXACT_S = 0.5


def choose_solver(problem: Problem, solver: str) -> str:
    if solver not in SOLVERS:
        raise ConfigError(
            "unknown solver", field="solver", value=solver, accepted=", ".join(SOLVERS)
        )
    if solver != "auto":
        return solver
    from gridshift.planner.exact import full_model_size

    return "exact" if full_model_size(problem) <= AUTO_MAX_BINARIES else "fast"


def plan(
    jobs: Sequence[Job],
    clusters: Sequence[Cluster],
    forecasts: Mapping[tuple[str, SignalKind], Forecast],
    objective: Objective,
    now: datetime,
    *,
    solver: Solver | str = "auto",
    options: PlannerOptions | None = None,
    running: Mapping[str, RunningJob] | None = None,
    previous: Plan | None = None,
) -> Plan:
    """Decide cluster, segments, GPUs and power cap for every job; explain each decision."""
    options = options or PlannerOptions()
    previous_starts = (
        {jp.job_id: jp.segments[0].start for jp in previous.jobs if jp.segments}
        if previous is not None
        else None
    )
    problem = build_problem(
        jobs, clusters, forecasts, objective, now, options, running, previous_starts
    )
    return solve(problem, solver)


def solve(
    problem: Problem,
    solver: str = "auto",
    timings: dict[str, float] | None = None,
    *,
    warm_from: tuple[Problem, dict[int, Placement]] | None = None,
    placements_out: dict[int, Placement] | None = None,
) -> Plan:
    """Stages 2-4 on a built problem. ``timings``, when given, receives seconds per stage
    (measurement only: nothing decides on it). ``warm_from``: the previous problem and its
    placements, for a warm re-plan by the fast solver (``planner.warm``); ``placements_out``
    receives this plan's placements (by ``problem``'s job indices) to warm the next one."""
    with _collector_paused():
        return _solve(problem, solver, timings, warm_from, placements_out)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while planning: a plan of 10,000 jobs allocates
    some 100,000 small objects and no reference cycles, and the collector's passes over them
    cost a quarter of the time. Reference counting still frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _solve(
    problem: Problem,
    solver: str,
    timings: dict[str, float] | None,
    warm_from: tuple[Problem, dict[int, Placement]] | None = None,
    placements_out: dict[int, Placement] | None = None,
) -> Plan:
    clock = _Stopwatch(timings)
    refused = explain.precheck_all(problem)
    infeasible = [Infeasible(problem.jobs[j].job.id, why) for j, why in refused.items()]
    plannable = [t.index for t in problem.jobs if t.index not in refused]
    chosen = choose_solver(problem, solver)
    sub = _restrict(problem, plannable)
    if solver == "auto" and chosen == "exact":
        # auto stays interactive and deterministic: a node budget, and a time limit only as a
        # safety net (a plan cut by a time limit can differ from run to run).
        sub.options = replace(
            sub.options,
            time_limit_s=min(sub.options.time_limit_s, AUTO_TIME_LIMIT_S),
            mip_max_nodes=AUTO_MIP_NODES,
        )
    gap_note = None
    if not plannable:
        placements_sub: dict[int, Placement] = {}
        failed_sub: list[int] = []
        bound: float | None = 0.0
    elif chosen == "exact":
        from gridshift.planner.exact import solve_exact

        started = time.perf_counter()
        warm, _ = solve_fast(sub)
        # The time limit covers the whole solve: the fast start, the search and its reasons.
        left = sub.options.time_limit_s * (1 - EXPLAIN_SHARE) - (time.perf_counter() - started)
        sub.options = replace(sub.options, time_limit_s=max(MIN_EXACT_S, left))
        placements_sub, failed_sub, bound, gap_note = solve_exact(sub, warm)
    else:
        carried = carry(*warm_from, sub) if warm_from is not None else None
        placements_sub, failed_sub = solve_fast(sub, carried)
        bound = None
    clock.lap("solve")
    placements = {plannable[j]: p for j, p in placements_sub.items()}
    for placement in placements.values():
        placement.job = plannable[placement.job]
    if placements_out is not None:
        placements_out.update(placements)
    failed = [plannable[j] for j in failed_sub]
    for j in failed:
        infeasible.append(
            Infeasible(problem.jobs[j].job.id, explain.no_room(problem, problem.jobs[j]))
        )
    summary = summarise(problem, placements)
    job_plans = [_job_plan(problem, summary, p) for p in range(len(summary.jobs))]
    total = float(summary.numbers[:, VALUE].sum())
    clock.lap("explain")
    placed = sorted(placements)
    relaxed = lower_bound(problem, placed)
    steps = affordable_steps(problem, len(placed))
    if steps:
        # Capacity priced: a tighter bound where capacity binds (a number of price steps set
        # by the size, so the plan's report stays deterministic).
        relaxed = max(relaxed, lagrangian(problem, placed, total, math.inf, steps).bound)
    bound = relaxed if bound is None or not math.isfinite(bound) else max(bound, relaxed)
    bound = min(bound, total)
    gap = 100.0 * (total - bound) / abs(total) if total else 0.0
    clock.lap("bound")
    return Plan(
        created_at=problem.t0,
        objective=problem.objective,
        jobs=tuple(job_plans),
        infeasible=tuple(sorted(infeasible, key=lambda i: i.job_id)),
        lower_bound=bound,
        gap_pct=gap,
        solver=chosen,
        objective_value=total,
        note=gap_note,
    )


def _job_plan(problem: Problem, summary: Summary, p: int) -> JobPlan:
    table = problem.jobs[int(summary.jobs[p])]
    numbers = summary.number_rows[p]
    c = int(summary.clusters[p])
    first, last = summary.count_rows[p][SEG_FROM], summary.count_rows[p][SEG_TO]
    segments = []
    for k in range(first, last):
        mode = table.modes[int(summary.seg_mode[k])]
        cap = float(mode.cap_w[c])
        segments.append(
            Segment(
                start=problem.time_at(int(summary.seg_start[k])),
                end=problem.time_at(float(summary.seg_end[k])),
                gpus=mode.gpus,
                power_cap_w=None if math.isnan(cap) else round(cap, 1),
            )
        )
    return JobPlan(
        job_id=table.job.id,
        cluster=problem.clusters[c].name,
        segments=tuple(segments),
        outcome=Outcome(float(numbers[ENERGY]), float(numbers[USD]), float(numbers[KG])),
        run_now=Outcome(
            float(numbers[NOW_ENERGY]), float(numbers[NOW_USD]), float(numbers[NOW_KG])
        ),
        reason=explain.reason(problem, table, summary, p),
    )


class _Stopwatch:
    """Seconds per stage into a dict, for benchmarks; does nothing without one."""

    def __init__(self, into: dict[str, float] | None) -> None:
        import time

        self._into = into
        self._now = time.perf_counter
        self._last = self._now()

    def lap(self, stage: str) -> None:
        if self._into is not None:
            now = self._now()
            self._into[stage] = self._into.get(stage, 0.0) + now - self._last
            self._last = now


def _restrict(problem: Problem, keep: list[int]) -> Problem:
    """The same problem over a subset of jobs, re-indexed 0..n-1 (a shallow copy sharing the
    tables and arrays when it keeps them all)."""
    if keep == list(range(len(problem.jobs))):
        return Problem(**{**problem.__dict__, "arrays": arrays_of(problem)})
    tables = []
    for new, old in enumerate(keep):
        table = problem.jobs[old]
        clone = replace(table, index=new)
        tables.append(clone)
    arrays = take(arrays_of(problem), keep)
    return Problem(**{**problem.__dict__, "jobs": tables, "arrays": arrays})


__all__ = ["SOLVERS", "Placement", "PlannerOptions", "RunningJob", "plan", "solve"]
