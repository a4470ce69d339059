"""A lower bound on the objective, so that every plan can report its optimality gap.

The relaxation drops capacity, site limits, contiguity and checkpoint overheads, and lets each job
run in every step at its best cost per unit of work ``e_c`` (the least kW per unit rate among its
modes on cluster c) up to its fastest rate. Then a job's cost is at least
``e_c * rate_max * step_h * (sum of the n cheapest costs in its window)``, n = work / (rate_max *
step), minimised over its allowed clusters. Windows are widened to multiples of ``QUANTUM`` steps
(a wider window only lowers the bound), so sorted costs are computed once per distinct window.
Where a step's cost is negative (negative prices), running there earns money, and the most kW
per unit of rate earns most: those steps are scaled by it instead. The exact solver reports the
MILP dual bound instead where it is valid, which is tighter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from gridshift.planner.model import Problem

QUANTUM = 4


def job_bounds(problem: Problem, jobs: Iterable[int]) -> dict[int, float]:
    """The relaxed minimum cost of each job (``inf`` where the relaxation has no room)."""
    T = problem.steps
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for j in jobs:
        table = problem.jobs[j]
        lo = (table.release // QUANTUM) * QUANTUM
        hi = min(T, -(-table.deadline // QUANTUM) * QUANTUM)
        groups[(lo, hi)].append(j)
    out: dict[int, float] = {}
    negative = bool(np.any(problem.cost < 0))
    for (lo, hi), members in groups.items():
        if hi <= lo:
            out.update({j: float("inf") for j in members})
            continue
        ordered = np.sort(problem.cost[:, lo:hi], axis=1)  # [C, W]
        cums = np.concatenate([np.zeros((len(ordered), 1)), np.cumsum(ordered, axis=1)], axis=1)
        width = hi - lo
        for j in members:
            table = problem.jobs[j]
            kw = np.array([m.kw for m in table.modes])  # [M, C]
            rate = np.array([m.rate for m in table.modes])[:, None]
            usable = np.isfinite(kw) & table.allowed[None, :]
            per_rate = np.where(usable, kw / rate, np.inf).min(axis=0)  # e_c
            rate_max = np.where(usable, rate, 0.0).max(axis=0)
            ok = np.isfinite(per_rate) & (rate_max > 0)
            n = np.where(ok, table.work_s / (np.where(ok, rate_max, 1.0) * problem.step_s), np.inf)
            ok &= n <= width + 1e-9
            if not ok.any():
                out[j] = float("inf")
                continue
            cs = np.nonzero(ok)[0]
            whole = np.floor(n[cs]).astype(np.int64)
            rows = np.arange(len(cs))
            if negative:
                # Where energy earns money, the dearest kW per unit of rate is the cheapest
                # way to do work: scale negative steps by it, the others by the least.
                most = np.where(usable, kw / rate, -np.inf).max(axis=0)
                steps = ordered[cs]
                scaled = np.where(
                    steps < 0, steps * most[cs][:, None], steps * per_rate[cs][:, None]
                )
                sums = np.concatenate([np.zeros((len(cs), 1)), np.cumsum(scaled, axis=1)], axis=1)
                nxt = scaled[rows, np.minimum(whole, width - 1)]
                partial = np.where(whole < width, (n[cs] - whole) * nxt, 0.0)
                values = rate_max[cs] * problem.step_h * (sums[rows, whole] + partial)
            else:
                nxt = ordered[cs, np.minimum(whole, width - 1)]
                partial = np.where(whole < width, (n[cs] - whole) * nxt, 0.0)
                values = per_rate[cs] * rate_max[cs] * problem.step_h * (cums[cs, whole] + partial)
            out[j] = float(values.min())
    return out


def lower_bound(problem: Problem, jobs: Iterable[int]) -> float:
    return float(sum(v for v in job_bounds(problem, jobs).values() if np.isfinite(v)))
