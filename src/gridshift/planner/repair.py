"""Second chances for the fast solver: repair (make room for jobs that found none) and polish
(replace a slot plan by one window where that is cheaper)."""

from __future__ import annotations

import numpy as np

from gridshift.domain import Priority
from gridshift.planner.greedy import Capacity, place, window_place
from gridshift.planner.model import Problem
from gridshift.planner.schedule import EPS, Placement, objective_value, objective_values

MAX_VICTIMS = 24


def _span(placement: Placement) -> tuple[int, int]:
    steps = np.nonzero(placement.active())[0]
    return (int(steps[0]), int(steps[-1])) if len(steps) else (0, -1)


REPAIR_BUDGET = 1500  # placements the repair may try per pass (it scales with failures)


def _reshuffle(
    problem: Problem,
    cap: Capacity,
    placements: dict[int, Placement],
    first: int,
    others: list[int],
) -> dict[int, Placement] | None:
    """Take ``others`` (and ``first``, if placed) off, place ``first`` and then the others
    (earliest deadline first). Returns the new placements with everything booked, or None with
    everything restored as it was."""
    saved = {v: placements.pop(v) for v in [first, *others] if v in placements}
    for v, p in saved.items():
        cap.book(problem.jobs[v], p, sign=-1.0)
    moved: dict[int, Placement] = {}
    for v in [first, *sorted(others, key=lambda v: (problem.jobs[v].deadline, v))]:
        again = place(problem, problem.jobs[v], cap)
        if again is None:
            break
        cap.book(problem.jobs[v], again)
        moved[v] = again
    else:
        placements.update(moved)
        return moved
    for v, p in moved.items():
        cap.book(problem.jobs[v], p, sign=-1.0)
    for v, p in saved.items():
        cap.book(problem.jobs[v], p)
        placements[v] = p
    return None


class _Occupancy:
    """Where each placed job runs (cluster, active steps), kept up to date through moves, to
    find the jobs in another's way without scanning every placement."""

    def __init__(self, problem: Problem, placements: dict[int, Placement]) -> None:
        J = len(problem.jobs)
        self.on = np.zeros((J, problem.steps), dtype=np.bool_)
        self.cluster = np.full(J, -1, dtype=np.int64)
        # Who may be moved out of another's way: rank of movable jobs, 99 for the rest.
        self.rank = np.array(
            [
                t.priority.rank
                if t.running_on is None and t.priority is not Priority.CRITICAL
                else 99
                for t in problem.jobs
            ],
            dtype=np.int64,
        )
        for j, p in placements.items():
            self.update(j, p)

    def update(self, j: int, placement: Placement | None) -> None:
        if placement is None:
            self.on[j] = False
            self.cluster[j] = -1
        else:
            self.on[j] = placement.frac > EPS
            self.cluster[j] = placement.cluster

    def blockers(self, j: int, rank: int, ideal: Placement) -> list[int]:
        """Movable jobs of equal or lower priority that sit where ``ideal`` would run."""
        steps = np.flatnonzero(ideal.frac > EPS)
        hit = (self.cluster == ideal.cluster) & (self.rank <= rank)
        hit &= self.on[:, steps].any(axis=1)
        hit[j] = False
        return [int(v) for v in np.flatnonzero(hit)]


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
    slack = np.array([t.slack_s for t in problem.jobs])
    movable = np.array([t.running_on is None for t in problem.jobs]) & (
        rank < Priority.CRITICAL.rank
    )
    T = problem.steps
    # Where every placed job runs: cluster, active steps and their span (kept up to date).
    cl = np.full(J, -1)
    active = np.zeros((J, T), dtype=bool)
    placed_now = np.fromiter(placements, dtype=np.int64, count=len(placements))
    if len(placed_now):
        cl[placed_now] = [placements[v].cluster for v in placed_now.tolist()]
        active[placed_now] = np.array([placements[v].frac for v in placed_now.tolist()]) > EPS
    any_active = active.any(axis=1)
    first = np.where(any_active, np.argmax(active, axis=1), 0)
    last = np.where(any_active, T - 1 - np.argmax(active[:, ::-1], axis=1), -1)

    def mark(v: int, p: Placement | None) -> None:
        if p is None:
            cl[v], first[v], last[v] = -1, 0, -1
            active[v] = False
        else:
            cl[v] = p.cluster
            active[v] = p.active()
            first[v], last[v] = _span(p)

    budget = REPAIR_BUDGET
    still: list[int] = []
    empty = Capacity(problem)
    for j in sorted(failed, key=lambda j: (-rank[j], j)):
        table = problem.jobs[j]
        if budget <= 0:
            still.append(j)
            continue
        ideal = place(problem, table, empty)
        if ideal is not None:
            lo_i, hi_i = _span(ideal)
            near = np.nonzero(
                (cl == ideal.cluster)
                & (first <= hi_i)
                & (last >= lo_i)
                & (rank <= rank[j])
                & movable
            )[0]
            steps = ideal.active()
            blockers = near[(active[near] & steps[None, :]).any(axis=1)].tolist()
            if 0 < len(blockers) <= MAX_EJECTED:
                budget -= len(blockers) + 1
                shuffled = _reshuffle(problem, cap, placements, j, blockers)
                if shuffled is not None:
                    for v, p in shuffled.items():
                        mark(v, p)
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


IMPROVE_ROUNDS = 2


def polish(
    problem: Problem,
    placements: dict[int, Placement],
    only: list[int] | None = None,
    rounds: int = IMPROVE_ROUNDS,
) -> None:
    """Re-insertion, a local search: take each job out in turn and place it again against the
    capacity all the others hold (its best window, its best slots, and for an interruptible job
    also its best single window); keep the new placement if it is cheaper. Earlier jobs that
    took a cheap spot first no longer hold it if a later, bigger job pays more for it elsewhere:
    the move lets the small job give way where it loses least. Two rounds, highest cost first;
    ``only`` limits the moves to those jobs (a warm start re-inserts what changed)."""
    cap = Capacity.holding(problem, placements)
    movable = list(placements) if only is None else [j for j in only if j in placements]
    for _ in range(rounds):
        improved = False
        value = objective_values(problem, {j: placements[j] for j in movable})
        for j in sorted(movable, key=lambda j: (-value[j], j)):
            table = problem.jobs[j]
            if table.running_on is not None or table.priority is Priority.CRITICAL:
                continue  # they keep their place
            current = placements[j]
            cap.book(table, current, sign=-1.0)
            best, best_value = current, value[j]
            candidates = [place(problem, table, cap)]
            if table.interruptible:
                candidates.append(window_place(problem, table, cap, fixed_start=None))
            for candidate in candidates:
                if candidate is None:
                    continue
                v = objective_value(problem, table, candidate)
                if v < best_value - 1e-9 * max(1.0, abs(best_value)):
                    best, best_value = candidate, v
            if best is not current:
                improved = True
            cap.book(table, best)
            placements[j] = best
        if not improved:
            break


MAX_EJECTED = 3
EJECT_MAX_JOBS = 500  # the blocker search is quadratic in jobs


def eject(
    problem: Problem, placements: dict[int, Placement], only: list[int] | None = None
) -> None:
    """Ejection chains, a local search for what one-job moves cannot fix: a job that would be
    much cheaper where a few other jobs sit takes that place if they can all be placed again
    elsewhere and the total cost falls. Dearest jobs first; every move is undone if it fails.
    ``only`` limits the jobs that try to take another's place."""
    cap = Capacity.holding(problem, placements)
    value = objective_values(problem, placements)

    def value_of(v: int) -> float:
        if v not in value:
            value[v] = objective_value(problem, problem.jobs[v], placements[v])
        return value[v]

    occupancy = _Occupancy(problem, placements)
    empty = Capacity(problem)
    movers = list(placements) if only is None else [j for j in only if j in placements]
    for j in sorted(movers, key=lambda j: (-value_of(j), j)):
        table = problem.jobs[j]
        if table.running_on is not None or table.priority is Priority.CRITICAL:
            continue
        ideal = place(problem, table, empty)
        if ideal is None or objective_value(problem, table, ideal) >= value_of(j) - 1e-9:
            continue
        blockers = occupancy.blockers(j, table.priority.rank, ideal)
        if not blockers or len(blockers) > MAX_EJECTED:
            continue
        before = {v: placements[v] for v in [j, *blockers]}
        cost_before = sum(value_of(v) for v in before)
        moved = _reshuffle(problem, cap, placements, j, blockers)
        if moved is None:
            continue
        cost_after = sum(objective_value(problem, problem.jobs[v], p) for v, p in moved.items())
        if cost_after < cost_before - 1e-9 * max(1.0, cost_before):
            for v, p in moved.items():
                value.pop(v, None)
                occupancy.update(v, p)
            continue
        # No saving: put everything back as it was.
        for v, p in moved.items():
            cap.book(problem.jobs[v], p, sign=-1.0)
        for v, p in before.items():
            cap.book(problem.jobs[v], p)
            placements[v] = p
