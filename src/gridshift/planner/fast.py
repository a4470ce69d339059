"""The fast solver: a greedy heuristic that scales to thousands of jobs.

The cycle, in phases:
1. Order the jobs (``order``): running non-interruptible work first (it keeps its place), then
   ``critical``, then by priority (high first), earliest deadline, least slack.
2. Place each job in turn against the capacity the earlier ones left (``greedy``: its
   cheapest window or slots over every allowed cluster and mode), in one compiled pass
   (``kernels``): tens of microseconds a job.
3. Repair (``repair``): make room for jobs that found none by moving flexible work of equal or
   lower priority; what still finds none is infeasible, lower priority yielding first.
4. More passes where jobs still found none (up to 2,000 jobs): one with them first in their
   priority class, and passes directed by capacity prices (``lagrange``); the best plan stands.
5. Local search (``repair``): ejection chains (up to 500 jobs: a job takes the place a few
   others hold if they can all go elsewhere and the total falls) and re-insertion (up to 2,000
   jobs: each job, dearest first, is placed again against all the others, slots or one window).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner.greedy import Capacity, place_all
from gridshift.planner.lagrange import affordable_steps, lagrangian
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.repair import EJECT_MAX_JOBS, POLISH_MAX_JOBS, eject, polish, repair
from gridshift.planner.schedule import Placement, plan_loss

Floats = npt.NDArray[np.float64]
PRICE_SCALES = (0.5, 1.0, 2.0)  # capacity prices x these, one pass each


def order(problem: Problem) -> list[int]:
    """Running fixed work, critical, then priority, earliest deadline, least slack."""

    def key(table: JobTable) -> tuple[int, int, int, int, float, str]:
        fixed = 0 if (table.running_on is not None and not table.interruptible) else 1
        critical = 0 if table.priority is Priority.CRITICAL else 1
        return (
            fixed,
            critical,
            -table.priority.rank,
            table.deadline,
            table.slack_s,
            table.job.id,
        )

    return [t.index for t in sorted(problem.jobs, key=key)]


def _pass(
    problem: Problem, sequence: list[int], prices: tuple[Floats, Floats] | None = None
) -> tuple[dict[int, Placement], list[int]]:
    """One greedy pass in order (compiled), then repair for the jobs that found no room.
    ``prices`` charge the capacity each move holds (``lagrange``)."""
    cap = Capacity(problem)
    placements, failed = place_all(problem, sequence, cap, prices)
    if failed:
        failed = repair(problem, cap, placements, failed)
    return placements, failed


def local_search(problem: Problem, placements: dict[int, Placement]) -> None:
    """Ejection chains and re-insertion, where the instance is small enough for them."""
    if len(problem.jobs) <= EJECT_MAX_JOBS:
        eject(problem, placements)
    if len(problem.jobs) <= POLISH_MAX_JOBS:
        polish(problem, placements)


def search_pass(
    problem: Problem, sequence: list[int], prices: tuple[Floats, Floats]
) -> tuple[dict[int, Placement], list[int]]:
    """A pass directed by capacity prices, then the local search at the true cost."""
    placements, failed = _pass(problem, sequence, prices)
    local_search(problem, placements)
    return placements, failed


def _failed_first(problem: Problem, sequence: list[int], failed: set[int]) -> list[int]:
    """The same order with the failed jobs first within their priority class (running fixed
    work still first of all)."""
    position = {j: i for i, j in enumerate(sequence)}

    def key(j: int) -> tuple[int, int, int, int]:
        table = problem.jobs[j]
        fixed = 0 if (table.running_on is not None and not table.interruptible) else 1
        return (fixed, -table.priority.rank, 0 if j in failed else 1, position[j])

    return sorted(sequence, key=key)


def solve_fast(problem: Problem) -> tuple[dict[int, Placement], list[int]]:
    """Placements by job index, and the jobs that found no room.

    Where jobs found none and the instance is small enough for the local search, more passes
    try to place them: one with them first within their priority class, and passes directed by
    capacity prices (``lagrange``: jobs keep out of the steps others need most). The best plan
    stands (fewest jobs left out by priority, then cost)."""
    sequence = order(problem)
    placements, failed = _pass(problem, sequence)
    if failed and len(problem.jobs) <= POLISH_MAX_JOBS:
        tries = [_pass(problem, _failed_first(problem, sequence, set(failed)))]
        steps = affordable_steps(problem, len(problem.jobs))
        if steps:
            upper = 2.0 * plan_loss(problem, placements)[-1] + 1.0
            prices = lagrangian(problem, None, upper, math.inf, steps)
            for snapshot in prices.snapshots:
                for scale in PRICE_SCALES:
                    charged = (snapshot.gpus * scale, snapshot.kw * scale)
                    tries.append(_pass(problem, sequence, charged))
        for again, still in tries:
            if plan_loss(problem, again) < plan_loss(problem, placements):
                placements, failed = again, still
    local_search(problem, placements)
    return placements, failed
