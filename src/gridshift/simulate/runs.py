"""What a policy did with each job: the steps it ran, the share of each, its facility kW there.

Every policy ends in ``Run``s on the simulation grid, and settlement reads nothing else, so
all policies are settled by one rule. Capacity (GPUs and site kW per cluster and step) is booked
in the planner's own ``Capacity`` by every policy alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridshift.planner.greedy import Capacity
from gridshift.planner.kernels import jit
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.schedule import EPS, Placement, contiguous, window

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Run:
    cluster: int  # where it first ran; -1: never ran
    steps: Ints  # grid steps it ran in
    frac: Floats  # share of each
    kw: Floats  # facility kW while running there
    gpus: Floats  # GPUs held there
    where: Ints | None = None  # the cluster of each step, where it moved (a paused job resumed
    # elsewhere); None: all on ``cluster``

    @property
    def ran(self) -> bool:
        return self.cluster >= 0 and len(self.steps) > 0

    @property
    def clusters(self) -> Ints:
        """The cluster of each step it ran."""
        if self.where is not None:
            return self.where
        return np.full(len(self.steps), self.cluster, dtype=np.int64)

    @property
    def start_step(self) -> float:
        return float(self.steps[0]) if self.ran else math.inf

    @property
    def finish_step(self) -> float:
        return float(self.steps[-1] + self.frac[-1]) if self.ran else math.inf


NEVER = Run(-1, np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))


def run_of(table: JobTable, placement: Placement, offset: int = 0) -> Run:
    """A placement (on a problem whose step 0 is grid step ``offset``) as a run."""
    active = np.nonzero(placement.frac > EPS)[0]
    modes = placement.mode[active]
    c = placement.cluster
    kw = np.array([m.kw[c] for m in table.modes])[modes]
    gpus = np.array([m.gpus for m in table.modes], dtype=np.float64)[modes]
    return Run(c, active + offset, placement.frac[active].copy(), kw, gpus)


@jit
def _first_room(
    cap_g: Floats, cap_k: Floats, release: int, whole: int, gpus: float, kw: float
) -> int:
    """The first start from ``release`` with ``whole`` steps of room in a row (-1: none)."""
    run = 0
    for t in range(release, cap_g.shape[0]):
        if cap_g[t] < gpus or cap_k[t] < kw - 1e-9:
            run = 0
        else:
            run += 1
            if run == whole:
                return t - whole + 1
    return -1


def earliest(problem: Problem, table: JobTable, cap: Capacity) -> Placement | None:
    """The job at its requested GPUs uncapped, contiguous, at the earliest start from its
    release where some allowed cluster has room, whatever its deadline (run-now, and the
    fallback of every policy for work it could not place in time: late work still runs).
    Among clusters where it can start as early, round robin by job index."""
    T = problem.steps
    starts_at: dict[int, int] = {}  # cluster -> its earliest start
    mode = table.modes[0]
    span = window(problem, table, 0, fixed_start=None)
    whole = span.whole
    for c in np.nonzero(table.allowed)[0].tolist():
        kw = float(mode.kw[c])
        if not math.isfinite(kw) or mode.gpus > problem.gpus[c] or whole > T:
            continue
        start = _first_room(cap.gpus[c], cap.kw[c], table.release, whole, mode.gpus, kw)
        if start >= 0:
            starts_at[c] = start
    if not starts_at:
        return None
    # Energy-blind: the earliest start; among clusters where it is as early, round robin by
    # job (load spread, as a scheduler unaware of energy would).
    first = min(starts_at.values())
    tied = sorted(c for c, s in starts_at.items() if s == first)
    return contiguous(problem, table, tied[table.index % len(tied)], 0, first, span.length)
