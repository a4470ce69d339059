"""The exact solver's method for instances too large for the full MILP: price-directed search.

1. **Prices and bound** (``lagrange``): subgradient ascent on capacity prices gives the
   Lagrangian bound (valid for every plan that places every job) and a series of price vectors,
   from the first rough ones to the best.
2. **Price-directed plans**: the fast solver's greedy again with each step charged at its
   capacity price (at a few scales), so that jobs stay out of the steps the others need most;
   then repair, ejection chains and re-insertion at the true cost; once every price vector and
   scale has had its pass, again with deadlines jittered in the order (seeded). The best plan
   is kept (fewest jobs left out by priority, then cost); each plan's schedules join a pool.
3. **Recombination**: a MILP over the pool (one schedule per job, capacity held), started from
   the best plan, for the rest of the time budget: it may take each job's schedule from a
   different plan.

The plan returned is never worse than the fast plan it starts from.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.planner.fast import order, search_pass
from gridshift.planner.lagrange import lagrangian
from gridshift.planner.master import Column, column_of, solve_master
from gridshift.planner.model import Problem
from gridshift.planner.schedule import Placement, objective_value, plan_loss

Floats = npt.NDArray[np.float64]
PRICE_SHARE = 0.15  # of the time budget, for the prices and the bound
# ... and up to here for price-directed plans; the rest for the MILP (which on 500 jobs found
# nothing better in 20 s: it earns its keep on small pools)
SEARCH_SHARE = 0.85
SCALES = (1.0, 1.5, 0.5, 2.0)
JITTER_STEPS = 4.0


def _jitter(problem: Problem, sequence: list[int], rng: np.random.Generator) -> list[int]:
    """The order by priority, then deadline plus noise of a few steps."""
    noise = rng.normal(0.0, JITTER_STEPS, len(sequence))
    key = {j: (-problem.jobs[j].priority.rank, problem.jobs[j].deadline + noise[i])
           for i, j in enumerate(sequence)}  # fmt: skip
    return sorted(sequence, key=lambda j: key[j])


def _total(problem: Problem, placements: dict[int, Placement]) -> float:
    return sum(objective_value(problem, problem.jobs[j], p) for j, p in placements.items())


def solve_large(
    problem: Problem, warm: dict[int, Placement], penalties: Floats
) -> tuple[dict[int, Placement], list[int], float, str]:
    started = time.perf_counter()
    budget = problem.options.time_limit_s
    J = len(problem.jobs)

    def elapsed() -> float:
        return time.perf_counter() - started

    best = dict(warm)
    best_loss = plan_loss(problem, best)
    upper = _total(problem, best) if len(best) == J else 2.0 * _total(problem, best) + 1.0
    prices = lagrangian(problem, None, upper, PRICE_SHARE * budget)
    pool: list[dict[tuple[Any, ...], Column]] = [{} for _ in range(J)]

    def collect(placements: dict[int, Placement]) -> None:
        for j, p in placements.items():
            col = column_of(problem, problem.jobs[j], p)
            pool[j].setdefault(col.key, col)

    collect(best)
    sequence = order(problem)
    rng = np.random.default_rng(problem.options.seed)
    snapshots = prices.snapshots[::-1]  # best prices first
    tried = 0
    while snapshots and elapsed() < SEARCH_SHARE * budget:
        snapshot = snapshots[(tried // len(SCALES)) % len(snapshots)]
        scale = SCALES[tried % len(SCALES)]
        # Every snapshot and scale once in the fast solver's order; then the same again with
        # deadlines jittered by up to a few steps (diversity: the order decides who goes first).
        jittered = tried >= len(snapshots) * len(SCALES)
        charged = (snapshot.gpus * scale, snapshot.kw * scale)
        placements, _ = search_pass(
            problem, _jitter(problem, sequence, rng) if jittered else sequence, charged
        )
        tried += 1
        collect(placements)
        loss = plan_loss(problem, placements)
        if loss < best_loss:
            best, best_loss = placements, loss
    columns = [list(cols.values()) for cols in pool]
    flat_index = {}
    i = 0
    for j, cols in enumerate(columns):
        for col in cols:
            flat_index[(j, col.key)] = i
            i += 1
    start = [flat_index[(j, column_of(problem, problem.jobs[j], p).key)] for j, p in best.items()]
    z, _, _, _, _, status = solve_master(
        problem, columns, penalties, True, max(0.5, budget - elapsed()), start
    )
    recombined: dict[int, Placement] = {}
    flat = [(j, col) for j, cols in enumerate(columns) for col in cols]
    for (j, col), taken in zip(flat, z, strict=True):
        if taken > 0.5:
            recombined[j] = col.placement
    if plan_loss(problem, recombined) < best_loss:
        best = recombined
    failed = [j for j in range(J) if j not in best]
    note = (
        f"price-directed search: Lagrangian bound after {prices.iterations} price steps, "
        f"{tried} price-directed plan(s), MILP over {len(flat)} schedules: {status}"
    )
    # The bound holds for plans that place every job; with jobs left out it is not reported.
    return best, failed, (prices.bound if not failed else -math.inf), note


__all__ = ["solve_large"]
