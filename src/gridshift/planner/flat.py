"""The jobs of a problem as flat arrays: what the compiled kernels (``kernels``) read.

``JobTable`` and ``Mode`` are the readable form of a job's candidates; the kernels need plain
arrays indexed ``[job]``, ``[job, mode]`` and ``[job, mode, cluster]``. They are built once per
problem (``arrays_of``) and cached on it.

Kinds (how a job is placed):
- ``WINDOW``: one contiguous run anywhere in its window (any mode);
- ``SLOTS``: interruptible, any steps of its window (resumes cost their overhead);
- ``CRITICAL``: contiguous from its release, requested GPUs uncapped;
- ``FIXED``: running, not interruptible: contiguous from now on its cluster, mode 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner.model import JobTable, Mode, Problem

WINDOW, SLOTS, CRITICAL, FIXED = 0, 1, 2, 3
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def kind_of(table: JobTable) -> int:
    if table.priority is Priority.CRITICAL:
        return CRITICAL
    if table.running_on is not None and not table.interruptible:
        return FIXED
    return SLOTS if table.interruptible else WINDOW


@dataclass(frozen=True)
class JobArrays:
    """Every job's numbers, padded to the largest mode count (padding: NaN kW)."""

    release: Ints  # [J]
    deadline: Ints  # [J]
    work: Floats  # [J] work seconds
    overhead: Floats  # [J] work seconds one resume costs
    kind: Ints  # [J] WINDOW | SLOTS | CRITICAL | FIXED
    running: Ints  # [J] NEW, RUNNING (paused now, it resumes later) or PAUSED (every run resumes)
    previous: Ints  # [J] previous plan's start step, -1 when none
    n_modes: Ints  # [J]
    allowed: npt.NDArray[np.bool_]  # [J, C]
    gpus: Floats  # [J, M]
    rate: Floats  # [J, M] (1 in padding, never read)
    kw: Floats  # [J, M, C] facility kW (NaN where the mode may not run)

    def kernel_tuple(self) -> tuple[npt.NDArray[Any], ...]:
        """The arrays in the order the kernels unpack them (``kernels`` docstring)."""
        return (
            self.release,
            self.deadline,
            self.work,
            self.overhead,
            self.kind,
            self.running,
            self.previous,
            self.n_modes,
            self.allowed,
            self.gpus,
            self.rate,
            self.kw,
        )


def build_arrays(problem: Problem) -> JobArrays:
    tables = problem.jobs
    J, C = len(tables), len(problem.clusters)
    M = max((len(t.modes) for t in tables), default=1)
    # Jobs share their lists of modes (``model.build_problem``): stack each distinct list once.
    which: dict[int, int] = {}
    distinct: list[list[Mode]] = []
    index = np.empty(J, dtype=np.int64)
    for j, table in enumerate(tables):
        u = which.get(id(table.modes))
        if u is None:
            u = which[id(table.modes)] = len(distinct)
            distinct.append(table.modes)
        index[j] = u
    U = len(distinct)
    gpus = np.zeros((U, M))
    rate = np.ones((U, M))
    kw = np.full((U, M, C), np.nan)
    n_modes = np.zeros(U, dtype=np.int64)
    for u, modes in enumerate(distinct):
        n = n_modes[u] = len(modes)
        gpus[u, :n] = [m.gpus for m in modes]
        rate[u, :n] = [m.rate for m in modes]
        kw[u, :n] = [m.kw for m in modes]
    return JobArrays(
        release=np.array([t.release for t in tables], dtype=np.int64),
        deadline=np.array([t.deadline for t in tables], dtype=np.int64),
        work=np.array([t.work_s for t in tables], dtype=np.float64),
        overhead=np.array([t.overhead_work_s for t in tables], dtype=np.float64),
        kind=np.array([kind_of(t) for t in tables], dtype=np.int64),
        running=np.array([t.started for t in tables], dtype=np.int64),
        previous=np.array(
            [-1 if t.previous_start is None else t.previous_start for t in tables], dtype=np.int64
        ),
        n_modes=n_modes[index],
        allowed=np.array([t.allowed for t in tables], dtype=np.bool_).reshape(J, C),
        gpus=gpus[index],
        rate=rate[index],
        kw=kw[index],
    )


def take(arrays: JobArrays, keep: list[int]) -> JobArrays:
    """The arrays of a subset of jobs, in the order of ``keep``."""
    rows = np.asarray(keep, dtype=np.int64)
    return JobArrays(**{name: value[rows] for name, value in arrays.__dict__.items()})


def arrays_of(problem: Problem) -> JobArrays:
    """The problem's job arrays, built on first use."""
    cached = problem.arrays
    if not isinstance(cached, JobArrays):
        cached = build_arrays(problem)
        problem.arrays = cached
    return cached
