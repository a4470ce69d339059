"""The fast solver: a greedy heuristic that scales to thousands of jobs.

The cycle, in phases:
1. Order the jobs (``order``): running non-interruptible work first (it keeps its place), then
   ``critical``, then by priority (high first), earliest deadline, least slack.
2. Place each job in turn against the capacity the earlier ones left (``greedy``: its
   cheapest window or slots over every allowed cluster and mode), in one compiled pass
   (``kernels``): tens of microseconds a job.
3. Repair (``repair``): make room for jobs that found none by moving flexible work of equal or
   lower priority; what still finds none is infeasible, lower priority yielding first.
4. Local search (``repair``): ejection chains (up to 500 jobs: a job takes the place a few
   others hold if they can all go elsewhere and the total falls) and re-insertion (up to 2,000
   jobs: each job, dearest first, is placed again against all the others, slots or one window).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner.greedy import Capacity, place_all
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.repair import EJECT_MAX_JOBS, POLISH_MAX_JOBS, eject, polish, repair
from gridshift.planner.schedule import Placement

Floats = npt.NDArray[np.float64]


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
            table.job.slack_s,
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


def solve_fast(problem: Problem) -> tuple[dict[int, Placement], list[int]]:
    """Placements by job index, and the jobs that found no room."""
    placements, failed = _pass(problem, order(problem))
    local_search(problem, placements)
    return placements, failed
