"""A solver's answer for one job: ``Placement`` (a cluster and, per step, the share of the step
the job runs and the mode it runs in), the windows contiguous runs may take, ``tidy``, and the
objective of placements. The figures of a plan (segments, outcomes, resumes) are computed for all
jobs at once in ``summary``; the rules they share (resumes, work done) are in ``kernels``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridshift.planner import kernels
from gridshift.planner.flat import arrays_of
from gridshift.planner.model import JobTable, Problem

EPS = kernels.EPS


@dataclass(frozen=True)
class Window:
    """Where one contiguous run of a job in one mode may start."""

    length: float  # run time in steps (may be fractional)
    whole: int  # steps it touches
    last: float  # share of its last step
    lo: int  # earliest start step
    hi: int  # latest start step (hi < lo: nowhere)


def window(problem: Problem, table: JobTable, mode: int, fixed_start: int | None = None) -> Window:
    """The start range of a contiguous run. ``fixed_start`` pins it (critical work at its
    release, running work at step 0); nothing may run past its deadline or the horizon."""
    length = table.work_s / (table.modes[mode].rate * problem.step_s)
    whole = math.ceil(length - 1e-9)
    last = length - (whole - 1)
    if fixed_start is None:
        lo = table.release
        hi = math.floor(table.deadline - length + 1e-9)
    else:
        limit = min(problem.steps, table.deadline)
        lo = fixed_start
        hi = fixed_start if fixed_start + length <= limit + 1e-9 else fixed_start - 1
    hi = min(hi, problem.steps - whole)
    return Window(length, whole, last, lo, hi)


def contiguous(
    problem: Problem, table: JobTable, cluster: int, mode: int, start: int, length: float
) -> Placement:
    """A placement that runs ``length`` steps from ``start`` in one mode."""
    T = problem.steps
    whole = math.ceil(length - 1e-9)
    frac = np.zeros(T)
    modes = np.full(T, -1, dtype=np.int64)
    end = min(T, start + whole)
    frac[start:end] = 1.0
    modes[start:end] = mode
    if start + whole <= T:
        frac[start + whole - 1] = length - (whole - 1)
    return Placement(table.index, cluster, frac, modes)


@dataclass
class Placement:
    job: int
    cluster: int
    frac: npt.NDArray[np.float64]  # [T] share of each step the job runs (0..1)
    mode: npt.NDArray[np.int64]  # [T] mode index per step (-1 where idle)

    def active(self) -> npt.NDArray[np.bool_]:
        return self.frac > EPS


def _rates(table: JobTable) -> npt.NDArray[np.float64]:
    return np.array([m.rate for m in table.modes], dtype=np.float64)


def objective_value(problem: Problem, table: JobTable, placement: Placement) -> float:
    """The placement's objective (energy at each step's cost)."""
    c = placement.cluster
    steps = np.flatnonzero(placement.frac > EPS)
    kw = arrays_of(problem).kw[table.index, placement.mode[steps], c]
    return float(np.dot(placement.frac[steps] * kw, problem.cost[c, steps])) * problem.step_h


def tidy(problem: Problem, table: JobTable, placement: Placement) -> None:
    """Normalise a placement: a step may be a part-step only at the end of a run (a job cannot
    stop inside a step and go on in the next one without a resume), and no work is done beyond
    what the job needs. Excess is trimmed from the run ends that cost most per unit of work."""
    c = placement.cluster
    kernels.tidy(
        placement.frac,
        placement.mode,
        _rates(table),
        np.array([m.kw[c] for m in table.modes], dtype=np.float64),
        problem.cost[c],
        table.work_s,
        table.overhead_work_s,
        table.started,
        float(problem.step_s),
    )


def plan_loss(problem: Problem, placements: dict[int, Placement]) -> tuple[float, ...]:
    """How bad a set of placements is: jobs left out by priority (critical first), then the
    objective. Lower is better; used to keep the better of two plans."""
    left = [t.priority.rank for t in problem.jobs if t.index not in placements]
    return (*(float(left.count(r)) for r in (3, 2, 1, 0)), plan_cost(problem, placements))


def plan_cost(problem: Problem, placements: dict[int, Placement]) -> float:
    """The objective of all placements at once (``objective_value`` summed, vectorised)."""
    return float(sum(objective_values(problem, placements).values()))


def objective_values(problem: Problem, placements: dict[int, Placement]) -> dict[int, float]:
    """``objective_value`` of every placement, vectorised over them."""
    if not placements:
        return {}
    jobs = np.fromiter(placements, dtype=np.int64, count=len(placements))
    frac = np.stack([p.frac for p in placements.values()])
    mode = np.stack([p.mode for p in placements.values()])
    where = np.fromiter((p.cluster for p in placements.values()), dtype=np.int64)
    kw = arrays_of(problem).kw[jobs[:, None], np.maximum(mode, 0), where[:, None]]
    on = frac > EPS
    energy = np.where(on, frac * np.where(on, kw, 0.0), 0.0)
    values = np.sum(energy * problem.cost[where], axis=1) * problem.step_h
    return dict(zip(placements, values.tolist(), strict=True))
