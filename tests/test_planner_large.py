"""The exact solver's price-directed search (forced on small instances with
``full_model_limit=0``): its plans obey every hard rule and are never worse than the fast plan
they start from; the Lagrangian bound is a true lower bound and tighter than the capacity-free
one where capacity binds; charged moves avoid priced capacity."""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest

from gridshift.bench.instances import build_instance
from gridshift.planner import PlannerOptions, plan
from gridshift.planner.bound import lower_bound
from gridshift.planner.fast import solve_fast
from gridshift.planner.greedy import Capacity, place, place_all
from gridshift.planner.lagrange import lagrangian
from gridshift.planner.model import Problem, build_problem
from gridshift.planner.schedule import objective_value

HORIZON = 24 * 3600
STEP = 3600


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_price_directed_plans_are_valid_and_not_worse_than_fast(seed: int) -> None:
    instance = build_instance(30, 3, HORIZON, STEP, seed=seed)
    base = {"step_s": STEP, "horizon_s": HORIZON, "time_limit_s": 5.0}
    fast = plan(
        instance.jobs,
        instance.clusters,
        instance.forecasts,
        instance.objective,
        instance.now,
        solver="fast",
        options=PlannerOptions(**base),
    )
    exact = plan(
        instance.jobs,
        instance.clusters,
        instance.forecasts,
        instance.objective,
        instance.now,
        solver="exact",
        options=PlannerOptions(**base, full_model_limit=0),
    )
    assert exact.note is not None
    assert exact.note.startswith("price-directed search")
    # Never worse than the fast plan: no fewer jobs, and no dearer when the same jobs fit.
    assert len(exact.jobs) >= len(fast.jobs)
    if len(exact.jobs) == len(fast.jobs):
        assert exact.objective_value <= fast.objective_value + 1e-6
    assert exact.lower_bound is not None
    assert exact.lower_bound <= exact.objective_value + 1e-6
    # Hard rules, recomputed from the segments.
    jobs = {j.id: j for j in instance.jobs}
    clusters = {c.name: c for c in instance.clusters}
    in_use: dict[tuple[str, int], int] = defaultdict(int)
    for jp in exact.jobs:
        job = jobs[jp.job_id]
        assert jp.segments[0].start >= job.release
        assert jp.segments[-1].end <= job.deadline
        assert not job.zones or clusters[jp.cluster].zone in job.zones
        if job.interruptible is None:
            starts_ends = sorted((s.start, s.end) for s in jp.segments)
            for (_, end), (start, _) in pairwise(starts_ends):
                assert start == end  # one contiguous run (segments only change mode)
        for s in jp.segments:
            first = int((s.start - instance.now).total_seconds() // STEP)
            last = int(np.ceil((s.end - instance.now).total_seconds() / STEP))
            for t in range(first, last):
                in_use[(jp.cluster, t)] += s.gpus
    for (name, _), gpus in in_use.items():
        limit = clusters[name].gpus
        assert limit is None or gpus <= limit


# ------------------------------------------------------------------ prices, bound, charged moves


def _problem(n_jobs: int, n_clusters: int, seed: int = 0) -> Problem:
    instance = build_instance(n_jobs, n_clusters, HORIZON, STEP, seed=seed, load=0.9)
    return build_problem(
        instance.jobs,
        instance.clusters,
        instance.forecasts,
        instance.objective,
        instance.now,
        PlannerOptions(step_s=STEP, horizon_s=HORIZON),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lagrangian_bound_lies_between_the_capacity_free_bound_and_every_plan(seed: int) -> None:
    problem = _problem(60, 2, seed)
    placements, _ = solve_fast(problem)
    placed = sorted(placements)
    total = sum(objective_value(problem, problem.jobs[j], p) for j, p in placements.items())
    free = lower_bound(problem, placed)
    prices = lagrangian(problem, placed, total, math.inf, 200)
    # Prices start at zero, where the Lagrangian is the capacity-free relaxation (at least as
    # tight as the quantised bound); it only climbs from there, and never past a real plan.
    assert prices.bound >= free - 1e-9
    assert prices.bound <= total + 1e-9
    assert prices.snapshots
    assert prices.snapshots[-1].bound == prices.bound
    assert all((s.gpus >= 0).all() and (s.kw >= 0).all() for s in prices.snapshots)


def test_lagrangian_bound_is_tighter_where_capacity_binds() -> None:
    problem = _problem(80, 2, 0)
    placements, _ = solve_fast(problem)
    placed = sorted(placements)
    total = sum(objective_value(problem, problem.jobs[j], p) for j, p in placements.items())
    free = lower_bound(problem, placed)
    prices = lagrangian(problem, placed, total, math.inf, 200)
    assert prices.bound > free * 1.01  # contention priced: the bound lifts
    # Where the prices are positive the jobs' own best schedules crowd capacity there.
    assert np.any(prices.snapshots[-1].gpus > 0) or np.any(prices.snapshots[-1].kw > 0)


def test_charged_moves_avoid_priced_steps() -> None:
    problem = _problem(20, 2, 3)
    table = next(t for t in problem.jobs if not t.interruptible and t.work_s > 0)
    free = place(problem, table, Capacity(problem))
    assert free is not None
    steps = np.nonzero(free.active())[0]
    # Price the GPUs of exactly the steps it took, on its cluster, far above any energy cost.
    lg = np.zeros_like(problem.cost)
    lk = np.zeros_like(problem.cost)
    lg[free.cluster, steps] = 1e6
    cap = Capacity(problem)
    placements, _ = place_all(problem, [table.index], cap, (lg, lk))
    moved = placements.get(table.index)
    if moved is not None:
        same = moved.cluster == free.cluster and np.array_equal(
            np.nonzero(moved.active())[0], steps
        )
        assert not same
    # With zero prices the charged pass is the plain one.
    plain, _ = place_all(problem, [table.index], Capacity(problem))
    zero, _ = place_all(problem, [table.index], Capacity(problem), (lg * 0, lk * 0))
    assert np.array_equal(plain[table.index].frac, zero[table.index].frac)
    assert plain[table.index].cluster == zero[table.index].cluster
