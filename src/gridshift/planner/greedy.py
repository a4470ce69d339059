"""One job at a time: the placement moves of the fast solver.

- contiguous jobs: the cheapest feasible window over every allowed cluster and mode (GPU count x
  power cap), evaluated for all start steps with window sums;
- interruptible jobs: the cheapest steps on their best cluster, by marginal allocation over the
  job's efficient modes (the lower convex hull of kW against rate): a step first gets the most
  energy-efficient mode and is upgraded to faster modes (more GPUs, higher caps) only where the
  marginal cost per unit of work is lowest; each resume adds its checkpoint overhead and the
  allocation repeats until the count of resumes is stable;
- critical jobs: at their release, on the cluster where that is cheapest, uncapped, never paused;
- running contiguous work: from now, on its cluster, as it runs.

Stability: a job whose previous plan started at the same step gets that option discounted by the
switching cost (``PlannerOptions.switching_cost_pct``), so it moves only when the saving is larger.

The moves themselves are compiled (``kernels``); this module is their Python face: ``Capacity``
(GPUs and site kW left) and ``place``/``window_place`` returning ``Placement``s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.planner import kernels, passes
from gridshift.planner.flat import arrays_of
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.schedule import Placement

Floats = npt.NDArray[np.float64]


class Capacity:
    """GPUs and site kW left per cluster and step."""

    def __init__(self, problem: Problem) -> None:
        self.gpus = np.repeat(problem.gpus[:, None].astype(np.float64), problem.steps, axis=1)
        self.kw = problem.headroom_kw.astype(np.float64, copy=True)

        self.arrays = arrays_of(problem)

    @classmethod
    def holding(cls, problem: Problem, placements: dict[int, Placement]) -> Capacity:
        """What is left once ``placements`` hold their capacity."""
        cap = cls(problem)
        for j, p in placements.items():
            cap.book(problem.jobs[j], p)
        return cap

    def book(self, table: JobTable, placement: Placement, sign: float = 1.0) -> None:
        """Take (or with ``sign=-1`` give back) the capacity a placement holds (a part-step
        still holds its GPUs and kW for that step)."""
        c, j = placement.cluster, table.index
        gpus, kw = self.arrays.gpus[j], self.arrays.kw[j, :, c]
        kernels.book(c, placement.frac, placement.mode, gpus, kw, self.gpus, self.kw, sign)


def cost_order(problem: Problem) -> npt.NDArray[np.int64]:
    """Each cluster's steps from cheapest to dearest (stable), computed once per problem."""
    if problem.cost_order is None:
        problem.cost_order = np.argsort(problem.cost, axis=1, kind="stable").astype(np.int64)
    return problem.cost_order


def switch_factor(problem: Problem) -> float:
    return 1.0 - problem.options.switching_cost_pct / 100.0


def problem_tuple(problem: Problem, prices: tuple[Floats, Floats] | None = None) -> tuple[Any, ...]:
    """The problem's numbers in the order the kernels unpack them (``kernels`` docstring);
    ``prices`` (per GPU and per kW held a step) charge capacity."""
    if prices is None:
        zero = np.zeros((1, 1))
        lg, lk, charged = zero, zero, False
    else:
        lg, lk, charged = prices[0], prices[1], True
    return (
        problem.cost,
        problem.cost_prefix,
        cost_order(problem),
        problem.gpus.astype(np.float64),
        float(problem.step_s),
        problem.step_h,
        switch_factor(problem),
        lg,
        lk,
        charged,
    )


def _rows(problem: Problem) -> tuple[Floats, npt.NDArray[np.int64]]:
    return np.zeros(problem.steps), np.full(problem.steps, -1, dtype=np.int64)


def _check(problem: Problem, table: JobTable) -> int:
    j = table.index
    if not (0 <= j < len(problem.jobs)) or problem.jobs[j] is not table:
        raise ValueError(f"job table {table.job.id} is not job {j} of this problem")
    return j


def place(problem: Problem, table: JobTable, cap: Capacity) -> Placement | None:
    """The job's move for its kind against the capacity left (None: no room)."""
    j = _check(problem, table)
    frac, mode = _rows(problem)
    jobs, numbers = arrays_of(problem).kernel_tuple(), problem_tuple(problem)
    c = passes.place(j, jobs, numbers, cap.gpus, cap.kw, frac, mode)
    return None if c < 0 else Placement(j, int(c), frac, mode)


def window_place(
    problem: Problem, table: JobTable, cap: Capacity, fixed_start: int | None = None
) -> Placement | None:
    """The cheapest contiguous placement over allowed clusters, modes and starts (``fixed_start``
    pins the start and the mode to the requested GPUs uncapped)."""
    j = _check(problem, table)
    frac, mode = _rows(problem)
    jobs, numbers = arrays_of(problem).kernel_tuple(), problem_tuple(problem)
    fixed = -1 if fixed_start is None else fixed_start
    c = kernels.window_place(j, fixed, jobs, numbers, cap.gpus, cap.kw, frac, mode)
    return None if c < 0 else Placement(j, int(c), frac, mode)


def place_all(
    problem: Problem,
    order: list[int],
    cap: Capacity,
    prices: tuple[Floats, Floats] | None = None,
) -> tuple[dict[int, Placement], list[int]]:
    """Every job of ``order`` in turn (one compiled pass); capacity booked in ``cap``.
    ``prices`` charge the capacity each move holds (``lagrange``)."""
    J, T = len(problem.jobs), problem.steps
    frac = np.zeros((J, T))
    mode = np.full((J, T), -1, dtype=np.int64)
    sequence = np.asarray(order, dtype=np.int64)
    jobs, numbers = arrays_of(problem).kernel_tuple(), problem_tuple(problem, prices)
    cluster = passes.greedy(sequence, jobs, numbers, cap.gpus, cap.kw, frac, mode)
    placements = {
        j: Placement(j, int(cluster[j]), frac[j], mode[j]) for j in order if cluster[j] >= 0
    }
    failed = [j for j in order if cluster[j] < 0]
    return placements, failed


def place_warm(
    problem: Problem, order: list[int], warm: dict[int, Placement], cap: Capacity
) -> tuple[dict[int, Placement], list[int], list[int]]:
    """``place_all`` from a warm start: in order, a job keeps its ``warm`` placement where it
    is still valid against what the earlier ones left (``passes.fits``), else is placed afresh.
    Returns the placements, the jobs that found no room, and the jobs placed afresh."""
    J, T = len(problem.jobs), problem.steps
    frac = np.zeros((J, T))
    mode = np.full((J, T), -1, dtype=np.int64)
    cluster = np.full(J, -1, dtype=np.int64)
    for j, p in warm.items():
        if len(p.frac) == T:
            frac[j], mode[j], cluster[j] = p.frac, p.mode, p.cluster
    sequence = np.asarray(order, dtype=np.int64)
    jobs, numbers = arrays_of(problem).kernel_tuple(), problem_tuple(problem)
    kept = passes.greedy_warm(sequence, cluster, jobs, numbers, cap.gpus, cap.kw, frac, mode)
    placements = {
        j: Placement(j, int(cluster[j]), frac[j], mode[j]) for j in order if cluster[j] >= 0
    }
    failed = [j for j in order if cluster[j] < 0]
    fresh = [j for j in order if cluster[j] >= 0 and not kept[j]]
    return placements, failed, fresh
