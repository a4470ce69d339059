"""The fast solver: a greedy heuristic that scales to thousands of jobs.

The cycle, in phases:
1. Order the jobs (``order``): running non-interruptible work first (it keeps its place), then
   ``critical``, then by priority (high first), earliest deadline, least slack; and a second
   order with the most GPU-seconds first whatever the priority (``big_first``; up to 2,000
   jobs, or when asked: the simulator's oracle plans a month at once). The better pass stands,
   jobs left out by priority counted first, so priority still decides who is left out.
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

Warm start (``solve_fast(problem, warm=...)``): re-planning from the previous plan (carried
forward by ``warm.carry``), the same ordered pass, but a job whose placement is still valid
against what the earlier ones left keeps it; only the others are placed afresh, repaired and
searched, with re-insertion also offered to the ``WARM_POLISH`` dearest kept jobs. The plan
changes only where something changed (new jobs, lost room, better steps where the forecast
moved), and a re-plan costs milliseconds: what lets the engine and the simulator re-plan at
every arrival.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner.greedy import Capacity, place_all, place_warm
from gridshift.planner.lagrange import affordable_steps, lagrangian
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.repair import EJECT_MAX_JOBS, POLISH_MAX_JOBS, eject, polish, repair
from gridshift.planner.schedule import Placement, objective_values, plan_loss

Floats = npt.NDArray[np.float64]
PRICE_SCALES = (0.5, 1.0, 2.0)  # capacity prices x these, one pass each
WARM_POLISH = 32  # kept jobs a warm re-plan also re-inserts (dearest first)


def _head(table: JobTable) -> tuple[int, int]:
    """What every order puts first: running contiguous work (it keeps its place), then
    critical work."""
    fixed = 0 if (table.running_on is not None and not table.interruptible) else 1
    critical = 0 if table.priority is Priority.CRITICAL else 1
    return fixed, critical


def order(problem: Problem) -> list[int]:
    """Running fixed work, critical, then priority, earliest deadline, least slack."""

    def key(table: JobTable) -> tuple[int, int, int, int, float, str]:
        return (
            *_head(table),
            -table.priority.rank,
            table.deadline,
            table.slack_s,
            table.job.id,
        )

    return [t.index for t in sorted(problem.jobs, key=key)]


def big_first(problem: Problem) -> list[int]:
    """Running fixed work, critical, then the most GPU-seconds first whatever the priority:
    priority decides who is left out when not all fit (``plan_loss`` compares that first), not
    who gets the cheapest steps when all do."""

    def key(table: JobTable) -> tuple[int, int, float, str]:
        return (*_head(table), -table.work_s * table.job.gpus, table.job.id)

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
        return (_head(table)[0], -table.priority.rank, 0 if j in failed else 1, position[j])

    return sorted(sequence, key=key)


def solve_fast(
    problem: Problem,
    warm: dict[int, Placement] | None = None,
    both_orders: bool | None = None,
) -> tuple[dict[int, Placement], list[int]]:
    """Placements by job index, and the jobs that found no room.

    Where jobs found none and the instance is small enough for the local search, more passes
    try to place them: one with them first within their priority class, and passes directed by
    capacity prices (``lagrange``: jobs keep out of the steps others need most). The best plan
    stands (fewest jobs left out by priority, then cost). With ``warm`` placements (by job
    index), the valid ones are kept and only the rest is solved (``solve_warm``).
    ``both_orders`` (default: up to 2,000 jobs) also tries the biggest work first."""
    if warm:
        return solve_warm(problem, warm)
    sequence = order(problem)
    placements, failed = _pass(problem, sequence)
    if both_orders if both_orders is not None else len(problem.jobs) <= POLISH_MAX_JOBS:
        # The biggest work first (within the same classes) as well: where long jobs have late
        # deadlines, earliest-deadline order leaves them only the dear steps short ones left.
        bigger = big_first(problem)
        again, still = _pass(problem, bigger)
        if plan_loss(problem, again) < plan_loss(problem, placements):
            sequence, placements, failed = bigger, again, still
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


def warm_order(problem: Problem, warm: dict[int, Placement], big: bool = False) -> list[int]:
    """``order``, but started work that had a place in the previous plan comes right after
    running contiguous and critical work: it is pinned to its cluster, the least free to go
    elsewhere, and its plan is a commitment; the rest is placed around it (``big``: the most
    GPU-seconds first, as ``big_first``)."""
    sequence = order(problem)
    position = {j: i for i, j in enumerate(sequence)}

    def key(j: int) -> tuple[int, float, int]:
        table = problem.jobs[j]
        fixed, critical = _head(table)
        if not fixed:
            return (0, 0.0, position[j])
        if not critical:
            return (1, 0.0, position[j])
        if table.running_on is not None and j in warm:
            return (2, 0.0, position[j])
        return (3, -table.work_s * table.job.gpus if big else 0.0, position[j])

    return sorted(sequence, key=key)


def solve_warm(
    problem: Problem, warm: dict[int, Placement]
) -> tuple[dict[int, Placement], list[int]]:
    """Keep what is still valid of ``warm``, place the rest, repair, and search locally around
    what changed (module docstring)."""
    cap = Capacity(problem)
    placements, failed, fresh = place_warm(problem, warm_order(problem, warm), warm, cap)
    if fresh or failed:
        # Something had to be placed afresh: the biggest work first as well (a long job that
        # arrives behind many short ones otherwise gets only what they left); the better stands.
        cap_big = Capacity(problem)
        again = place_warm(problem, warm_order(problem, warm, big=True), warm, cap_big)
        if plan_loss(problem, again[0]) < plan_loss(problem, placements):
            cap, (placements, failed, fresh) = cap_big, again
    if failed:
        still = repair(problem, cap, placements, failed)
        fresh += [j for j in failed if j not in still]
        failed = still
    if fresh and len(problem.jobs) <= EJECT_MAX_JOBS:
        eject(problem, placements, only=fresh)
    moved = set(fresh)
    values = objective_values(problem, placements)
    dearest = sorted((j for j in placements if j not in moved), key=lambda j: (-values[j], j))
    dearest = dearest[:WARM_POLISH]
    if len(problem.jobs) <= POLISH_MAX_JOBS:
        polish(problem, placements, only=[*fresh, *dearest], rounds=1)
    return placements, failed
