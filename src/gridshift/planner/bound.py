"""A lower bound on the objective, so that every plan can report its optimality gap.

The relaxation drops capacity, site limits, contiguity and checkpoint overheads, and lets each job
run in every step at its best cost per unit of work ``e_c`` (the least kW per unit rate among its
modes on cluster c) up to its fastest rate. Then a job's cost is at least
``e_c * rate_max * step_h * (sum of the n cheapest costs in its window)``, n = work / (rate_max *
step), minimised over its allowed clusters. Windows are widened to multiples of ``QUANTUM``
steps (a wider window only lowers the bound).
Where a step's cost is negative (negative prices), running there earns money, and the most kW
per unit of rate earns most: those steps are scaled by it instead. The exact solver reports the
MILP dual bound instead where it is valid, which is tighter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gridshift.planner.flat import arrays_of
from gridshift.planner.greedy import cost_order
from gridshift.planner.kernels import jit
from gridshift.planner.model import Problem

QUANTUM = 4


@jit
def _bounds(
    jobs: Any,
    release: Any,
    deadline: Any,
    work: Any,
    n_modes: Any,
    allowed: Any,
    rate: Any,
    kw: Any,
    cost: Any,
    order: Any,
    step_s: float,
    step_h: float,
) -> Any:
    C, T = cost.shape
    out = np.full(jobs.shape[0], np.inf)
    for i in range(jobs.shape[0]):
        j = jobs[i]
        lo = (release[j] // QUANTUM) * QUANTUM
        hi = min(T, -(-deadline[j] // QUANTUM) * QUANTUM)
        width = hi - lo
        if width <= 0:
            continue
        best = np.inf
        for c in range(C):
            if not allowed[j, c]:
                continue
            least = np.inf  # e_c: the least kW per unit of rate
            most = -np.inf  # the most (where energy earns money it does work cheapest)
            fastest = 0.0
            for m in range(n_modes[j]):
                if np.isfinite(kw[j, m, c]):
                    per = kw[j, m, c] / rate[j, m]
                    least = min(least, per)
                    most = max(most, per)
                    fastest = max(fastest, rate[j, m])
            if not np.isfinite(least) or fastest <= 0:
                continue
            n = work[j] / (fastest * step_s)
            if n > width + 1e-9:
                continue
            whole = int(np.floor(n))
            total = 0.0
            taken = 0
            for r in range(T):  # the window's steps from cheapest
                t = order[c, r]
                if t < lo or t >= hi:
                    continue
                scaled = cost[c, t] * (most if cost[c, t] < 0 else least)
                if taken < whole:
                    total += scaled
                    taken += 1
                else:
                    total += (n - whole) * scaled
                    break
            best = min(best, fastest * step_h * total)
        out[i] = best
    return out


def job_bounds(problem: Problem, jobs: Iterable[int]) -> dict[int, float]:
    """The relaxed minimum cost of each job (``inf`` where the relaxation has no room)."""
    a = arrays_of(problem)
    index = np.fromiter(jobs, dtype=np.int64)
    values = _bounds(
        index,
        a.release,
        a.deadline,
        a.work,
        a.n_modes,
        a.allowed,
        a.rate,
        a.kw,
        problem.cost,
        cost_order(problem),
        float(problem.step_s),
        problem.step_h,
    )
    return dict(zip(index.tolist(), values.tolist(), strict=True))


def lower_bound(problem: Problem, jobs: Iterable[int]) -> float:
    return float(sum(v for v in job_bounds(problem, jobs).values() if np.isfinite(v)))
