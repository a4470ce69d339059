"""Second chances for the fast solver: repair (make room for jobs that found none) and polish
(replace a slot plan by one window where that is cheaper)."""

from __future__ import annotations

import numpy as np

from gridshift.domain import Priority
from gridshift.planner.greedy import Capacity, place, window_place
from gridshift.planner.model import Problem
from gridshift.planner.schedule import Placement, objective_value

MAX_VICTIMS = 24


def _span(placement: Placement) -> tuple[int, int]:
    steps = np.nonzero(placement.active())[0]
    return (int(steps[0]), int(steps[-1])) if len(steps) else (0, -1)


REPAIR_BUDGET = 1500  # placements the repair may try per pass (it scales with failures)


def repair(
    problem: Problem, cap: Capacity, placements: dict[int, Placement], failed: list[int]
) -> list[int]:
    """Make room for each job that found none by moving flexible work of equal or lower
    priority out of its way: take the overlapping jobs off (up to ``MAX_VICTIMS``, most
    slack first), place the failed job, put them back anywhere they fit. Kept only if everyone
    is placed again; otherwise everything is restored as it was. Higher priority is repaired
    first; the effort is bounded by ``REPAIR_BUDGET`` placements."""
    J = len(problem.jobs)
    rank = np.array([t.priority.rank for t in problem.jobs])
    slack = np.array([t.job.slack_s for t in problem.jobs])
    movable = np.array([t.running_on is None for t in problem.jobs]) & (
        rank < Priority.CRITICAL.rank
    )
    cl = np.full(J, -1)
    first = np.zeros(J, dtype=np.int64)
    last = np.full(J, -1, dtype=np.int64)

    def mark(v: int, p: Placement | None) -> None:
        if p is None:
            cl[v], first[v], last[v] = -1, 0, -1
        else:
            cl[v] = p.cluster
            first[v], last[v] = _span(p)

    for v, p in placements.items():
        mark(v, p)
    budget = REPAIR_BUDGET
    still: list[int] = []
    for j in sorted(failed, key=lambda j: (-rank[j], j)):
        table = problem.jobs[j]
        if budget <= 0:
            still.append(j)
            continue
        lo, hi = table.release, table.deadline
        placed = cl >= 0
        mask = (
            placed
            & table.allowed[np.maximum(cl, 0)]
            & (rank <= rank[j])
            & movable
            & (first < hi)
            & (last >= lo)
        )
        candidates = np.nonzero(mask)[0]
        victims = [int(v) for v in candidates[np.argsort(-slack[candidates], kind="stable")]]
        victims = victims[:MAX_VICTIMS]
        if not victims:
            still.append(j)
            continue
        budget -= len(victims) + 1
        saved = {v: placements.pop(v) for v in victims}
        for v, p in saved.items():
            cap.book(problem.jobs[v], p, sign=-1.0)
        mine = place(problem, table, cap)
        moved: dict[int, Placement] = {}
        ok = mine is not None
        if mine is not None:
            cap.book(table, mine)
            for v in sorted(victims, key=lambda v: (problem.jobs[v].deadline, v)):
                again = place(problem, problem.jobs[v], cap)
                if again is None:
                    ok = False
                    break
                cap.book(problem.jobs[v], again)
                moved[v] = again
        if ok and mine is not None:
            placements[j] = mine
            placements.update(moved)
            mark(j, mine)
            for v, p in moved.items():
                mark(v, p)
            continue
        # Roll back.
        for v, p in moved.items():
            cap.book(problem.jobs[v], p, sign=-1.0)
        if mine is not None:
            cap.book(table, mine, sign=-1.0)
        for v, p in saved.items():
            cap.book(problem.jobs[v], p)
            placements[v] = p
        still.append(j)
    return still


POLISH_MAX_JOBS = 2000


def polish(problem: Problem, placements: dict[int, Placement]) -> None:
    """Run each interruptible job as one contiguous window instead where that is cheaper
    against the capacity the others leave (a window has no resumes and only its own last
    part-step, so the slot greedy's rounding can lose to it)."""
    cap = Capacity(problem)
    for j, p in placements.items():
        cap.book(problem.jobs[j], p)
    for j in sorted(placements):
        table = problem.jobs[j]
        if not table.interruptible or table.running_on is not None:
            continue  # a running job's window would have to start now; the greedy knew that
        current = placements[j]
        cap.book(table, current, sign=-1.0)
        alternative = window_place(problem, table, cap, fixed_start=None)
        if (
            alternative is not None
            and objective_value(problem, table, alternative)
            < objective_value(problem, table, current) - 1e-9
        ):
            current = alternative
        cap.book(table, current)
        placements[j] = current
