"""A solver's answer for one job, and how to read it: segments, work, energy, cost and carbon.

Both solvers produce ``Placement``s: a cluster and, per step, the share of the step the job runs
and the mode it runs in. Everything reported (segments, outcomes, checks) is derived here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridshift.domain import Outcome, Segment
from gridshift.planner import kernels
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


def runs(active: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Maximal runs ``[start, end)`` of consecutive active steps."""
    if not active.any():
        return []
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.nonzero(edges == 1)[0]
    ends = np.nonzero(edges == -1)[0]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def resumes(table: JobTable, placement: Placement) -> int:
    """How many times the job is started again after a pause (each costs its overhead)."""
    return int(kernels.resumes(placement.frac, table.started))


def _rates(table: JobTable) -> npt.NDArray[np.float64]:
    return np.array([m.rate for m in table.modes], dtype=np.float64)


def work_done(problem: Problem, table: JobTable, placement: Placement) -> float:
    """Work seconds the placement completes, net of checkpoint overheads."""
    return float(
        kernels.work_done(
            placement.frac,
            placement.mode,
            _rates(table),
            float(problem.step_s),
            table.overhead_work_s,
            table.started,
        )
    )


def outcome(problem: Problem, table: JobTable, placement: Placement) -> Outcome:
    c = placement.cluster
    active = placement.active()
    kw = np.array([m.kw[c] for m in table.modes])
    energy = placement.frac[active] * kw[placement.mode[active]] * problem.step_h
    steps = np.nonzero(active)[0]
    return Outcome(
        energy_kwh=float(energy.sum()),
        cost_usd=float(np.sum(energy * problem.usd_per_kwh[c, steps])),
        carbon_kg=float(np.sum(energy * problem.kg_per_kwh[c, steps])),
    )


def objective_value(problem: Problem, table: JobTable, placement: Placement) -> float:
    c = placement.cluster
    active = placement.active()
    kw = np.array([m.kw[c] for m in table.modes])
    steps = np.nonzero(active)[0]
    energy = placement.frac[active] * kw[placement.mode[active]] * problem.step_h
    return float(np.sum(energy * problem.cost[c, steps]))


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


def segments(problem: Problem, table: JobTable, placement: Placement) -> list[Segment]:
    """Contiguous runs at one mode, as times (a run's last step may be a part-step)."""
    out: list[Segment] = []
    c = placement.cluster
    for start, end in runs(placement.active()):
        t = start
        while t < end:
            mode = int(placement.mode[t])
            u = t
            while u + 1 < end and placement.mode[u + 1] == mode:
                u += 1
            m = table.modes[mode]
            cap = m.cap_w[c]
            out.append(
                Segment(
                    start=problem.time_at(t),
                    end=problem.time_at(u + float(placement.frac[u])),
                    gpus=m.gpus,
                    power_cap_w=None if np.isnan(cap) else round(float(cap), 1),
                )
            )
            t = u + 1
    return out


def finish_step(placement: Placement) -> float:
    """The (fractional) step at which the job finishes."""
    steps = np.nonzero(placement.active())[0]
    if len(steps) == 0:
        return 0.0
    last = int(steps[-1])
    return last + float(placement.frac[last])


def plan_loss(problem: Problem, placements: dict[int, Placement]) -> tuple[float, ...]:
    """How bad a set of placements is: jobs left out by priority (critical first), then the
    objective. Lower is better; used to keep the better of two plans."""
    left = [t.priority.rank for t in problem.jobs if t.index not in placements]
    cost = sum(objective_value(problem, problem.jobs[j], p) for j, p in placements.items())
    return (*(float(left.count(r)) for r in (3, 2, 1, 0)), cost)
