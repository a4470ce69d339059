"""The fast solver: a greedy heuristic that scales to thousands of jobs.

The cycle, in phases:
1. Order the jobs (``order``): running non-interruptible work first (it keeps its place), then
   ``critical``, then by priority (high first), earliest deadline, least slack.
2. Propose, a batch at a time (``batch``): vectorised proposals for the jobs of the batch,
   against the capacity at its start.
3. Commit in order: a proposal that still fits is booked; one that lost its room to an earlier
   job is proposed again; the rest, and every job the batches do not handle (critical, running,
   elastic), are placed one at a time (``greedy``).
4. Repair (``repair``): make room for jobs that found none by moving flexible work of equal or
   lower priority; what still finds none is infeasible, lower priority yielding first.
5. Local search (``repair``): ejection chains (up to 500 jobs: a job takes the place a few
   others hold if they can all go elsewhere and the total falls) and re-insertion (up to 2,000
   jobs: each job, dearest first, is placed again against all the others, slots or one window).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner import batch
from gridshift.planner.greedy import Capacity, place
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


def _failed_first(problem: Problem, sequence: list[int], failed: set[int]) -> list[int]:
    """The failed jobs move to the front of their priority class (most constrained first)."""
    position = {j: i for i, j in enumerate(sequence)}

    def key(j: int) -> tuple[int, int, int, int]:
        table = problem.jobs[j]
        fixed = 0 if (table.running_on is not None and not table.interruptible) else 1
        return (fixed, -table.priority.rank, 0 if j in failed else 1, position[j])

    return sorted(sequence, key=key)


def _propose(
    problem: Problem, tables: list[JobTable], cap: Capacity, prefix: Floats
) -> dict[int, Placement | None]:
    """Batch proposals for the jobs the vectorised path handles (others are absent)."""
    proposals: dict[int, Placement | None] = {}
    windows = [t for t in tables if batch.batchable(t) and not t.interruptible]
    slots = [t for t in tables if batch.batchable(t) and t.interruptible]
    if windows:
        found = batch.propose_windows(problem, windows, cap.gpus, cap.kw, prefix)
        proposals.update({t.index: p for t, p in zip(windows, found, strict=True)})
    if slots:
        found_slots = batch.propose_slots(problem, slots, cap.gpus, cap.kw)
        proposals.update({t.index: p for t, p in zip(slots, found_slots, strict=True)})
    return proposals


REPROPOSE_ROUNDS = 3


def _pass(problem: Problem, sequence: list[int]) -> tuple[dict[int, Placement], list[int]]:
    """One pass in order. Each batch gets vectorised proposals against the capacity at its
    start; proposals are committed in order while they still fit; the ones that lost their
    room to an earlier job are proposed again (a few rounds), then placed one at a time."""
    cap = Capacity(problem)
    placements: dict[int, Placement] = {}
    failed: list[int] = []
    prefix = problem.cost_prefix

    def one_at_a_time(j: int) -> None:
        table = problem.jobs[j]
        placement = place(problem, table, cap)
        if placement is None:
            failed.append(j)
        else:
            cap.book(table, placement)
            placements[j] = placement

    for first in range(0, len(sequence), batch.BATCH):
        pending = sequence[first : first + batch.BATCH]
        proposals = _propose(problem, [problem.jobs[j] for j in pending], cap, prefix)
        for round_ in range(REPROPOSE_ROUNDS + 1):
            retry: list[int] = []
            for j in pending:
                table = problem.jobs[j]
                placement = proposals.get(j)
                if placement is not None and batch.fits(
                    problem, table, placement, cap.gpus, cap.kw
                ):
                    cap.book(table, placement)
                    placements[j] = placement
                elif placement is not None and round_ < REPROPOSE_ROUNDS:
                    retry.append(j)
                else:
                    one_at_a_time(j)
            if not retry:
                break
            pending = retry
            proposals = _propose(problem, [problem.jobs[j] for j in pending], cap, prefix)
    if failed:
        failed = repair(problem, cap, placements, failed)
    return placements, failed


def solve_fast(problem: Problem) -> tuple[dict[int, Placement], list[int]]:
    """Placements by job index, and the jobs that found no room."""
    placements, failed = _pass(problem, order(problem))
    if len(problem.jobs) <= EJECT_MAX_JOBS:
        eject(problem, placements)
    if len(problem.jobs) <= POLISH_MAX_JOBS:
        polish(problem, placements)
    return placements, failed
