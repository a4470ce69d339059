"""Re-planning from the previous plan (``planner.warm.carry`` + ``solve_fast(warm=...)``): what
still holds is kept, what does not is placed afresh, and the result is always a valid plan.
Instances are the seeded benchmark ones (real bundled signals)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from gridshift.bench.instances import Instance, build_instance
from gridshift.domain import Priority
from gridshift.planner.fast import solve_fast
from gridshift.planner.model import PlannerOptions, Problem, build_problem
from gridshift.planner.schedule import EPS, Placement
from gridshift.planner.warm import carry

STEP_S = 3600
HORIZON_S = 48 * 3600


def instance(n: int = 60, seed: int = 3) -> Instance:
    return build_instance(n, 3, HORIZON_S, STEP_S, seed=seed)


def problem_of(inst: Instance, shift_steps: int = 0, **changes: object) -> Problem:
    now = inst.now + timedelta(seconds=shift_steps * STEP_S)
    forecasts = {
        key: replace(
            f,
            as_of=now,
            times=f.times[shift_steps:],
            values=f.values[shift_steps:],
        )
        for key, f in inst.forecasts.items()
    }
    clusters = [replace(c, **changes) for c in inst.clusters] if changes else inst.clusters
    options = PlannerOptions(step_s=STEP_S, horizon_s=HORIZON_S - shift_steps * STEP_S)
    return build_problem(inst.jobs, clusters, forecasts, inst.objective, now, options)


def assert_valid(problem: Problem, placements: dict[int, Placement]) -> None:
    """Independently of the solver: allowed cluster, inside the window, work done, and no
    cluster step holding more GPUs than it has."""
    used = np.zeros((len(problem.clusters), problem.steps))
    for j, p in placements.items():
        table = problem.jobs[j]
        steps = np.flatnonzero(p.frac > EPS)
        assert table.allowed[p.cluster], table.job.id
        assert steps.min() >= table.release, table.job.id
        assert steps.max() < table.deadline, table.job.id
        runs = 1 + int(np.count_nonzero(np.diff(steps) > 1))
        gross = sum(p.frac[t] * table.modes[p.mode[t]].rate for t in steps) * problem.step_s
        done = gross - (runs - 1) * (table.overhead_work_s if table.interruptible else 0.0)
        assert done >= table.work_s - 1.0, table.job.id
        for t in steps:
            used[p.cluster, t] += table.modes[p.mode[t]].gpus
    assert (used <= problem.gpus[:, None] + 1e-9).all()


def cost(problem: Problem, placements: dict[int, Placement]) -> float:
    total = 0.0
    for j, p in placements.items():
        table = problem.jobs[j]
        for t in np.flatnonzero(p.frac > EPS):
            kw = table.modes[p.mode[t]].kw[p.cluster]
            total += p.frac[t] * kw * problem.cost[p.cluster, t] * problem.step_h
    return total


def test_a_warm_start_from_the_plan_itself_keeps_it() -> None:
    problem = problem_of(instance())
    cold, failed = solve_fast(problem)
    warm, failed_warm = solve_fast(problem, warm=cold)
    assert_valid(problem, warm)
    assert set(warm) == set(cold)
    assert failed_warm == failed
    unchanged = sum(
        1
        for j in cold
        if warm[j].cluster == cold[j].cluster and np.array_equal(warm[j].frac, cold[j].frac)
    )
    assert unchanged >= 0.9 * len(cold)
    assert cost(problem, warm) <= cost(problem, cold) + 1e-6


def test_carry_moves_the_plan_onto_the_later_steps() -> None:
    inst = instance()
    first = problem_of(inst)
    placements, _ = solve_fast(first)
    later = problem_of(inst, shift_steps=3)
    carried = carry(first, placements, later)
    index = {t.job.id: t.index for t in later.jobs}
    checked = 0
    for j, p in placements.items():
        steps = np.flatnonzero(p.frac > EPS)
        if steps.min() < 3:
            continue  # started before the later plan: not compared here
        new = index[first.jobs[j].job.id]
        moved = np.flatnonzero(carried[new].frac > EPS)
        assert list(moved) == [int(t) - 3 for t in steps]
        assert carried[new].cluster == p.cluster
        checked += 1
    assert checked >= 10


def test_placements_that_no_longer_hold_are_placed_again() -> None:
    """Half the GPUs on every cluster: many carried placements no longer fit; the warm re-plan
    is still valid and leaves out no more jobs than a cold solve of the smaller fleet."""
    inst = instance(n=80)
    full = problem_of(inst)
    placements, _ = solve_fast(full)
    half = problem_of(inst, gpus=max(8, int(inst.clusters[0].gpus or 16) // 2))
    warm, failed = solve_fast(half, warm=carry(full, placements, half))
    assert_valid(half, warm)
    _, cold_failed = solve_fast(half)
    assert len(failed) <= len(cold_failed) + 1


def test_a_new_critical_job_takes_its_release_over_kept_work() -> None:
    inst = instance()
    first = problem_of(inst)
    placements, _ = solve_fast(first)
    busiest = max(
        range(first.steps), key=lambda t: sum(p.frac[t] > EPS for p in placements.values())
    )
    urgent = replace(
        inst.jobs[0],
        id="urgent",
        name="urgent",
        gpus=int(inst.clusters[0].gpus or 16),
        duration_s=2 * STEP_S,
        submitted_at=inst.now + timedelta(seconds=busiest * STEP_S),
        earliest_start=None,
        deadline=inst.now + timedelta(seconds=HORIZON_S),
        priority=Priority.CRITICAL,
        interruptible=None,
        elastic=None,
        zones=(),
    )
    inst2 = replace(inst, jobs=[*inst.jobs, urgent])
    second = problem_of(inst2)
    warm, _ = solve_fast(second, warm=carry(first, placements, second))
    assert_valid(second, warm)
    table = next(t for t in second.jobs if t.job.id == "urgent")
    assert int(np.flatnonzero(warm[table.index].frac > EPS)[0]) == busiest
