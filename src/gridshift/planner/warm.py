"""Carrying a plan forward: the previous plan's placements, moved onto a later problem's steps,
as the warm start of a re-plan (``fast.solve_fast(problem, warm=...)``).

Jobs are matched by id and clusters by name; the placement is shifted by the whole steps
between the two problems' starts (what was planned before the new start has happened, or not,
and is dropped). The solver checks every carried placement against the new problem (window,
capacity, work left) and places afresh what no longer holds, so carrying never makes a plan
wrong, only faster and steadier.
"""

from __future__ import annotations

import numpy as np

from gridshift.planner.model import Problem
from gridshift.planner.schedule import EPS, Placement


def carry(
    previous: Problem, placements: dict[int, Placement], problem: Problem
) -> dict[int, Placement]:
    """The previous plan's placements on ``problem``'s steps, by its job indices."""
    shift_s = (problem.t0 - previous.t0).total_seconds()
    if shift_s < 0 or shift_s % problem.step_s or previous.step_s != problem.step_s:
        return {}  # not on the same step grid: nothing to carry
    shift = int(shift_s // problem.step_s)
    index = {t.job.id: t.index for t in problem.jobs}
    cluster = {c.name: i for i, c in enumerate(problem.clusters)}
    T = problem.steps
    out: dict[int, Placement] = {}
    for j, p in placements.items():
        new = index.get(previous.jobs[j].job.id)
        c = cluster.get(previous.clusters[p.cluster].name)
        if new is None or c is None:
            continue
        frac = np.zeros(T)
        mode = np.full(T, -1, dtype=np.int64)
        tail_f, tail_m = p.frac[shift : shift + T], p.mode[shift : shift + T]
        frac[: len(tail_f)] = tail_f
        mode[: len(tail_m)] = tail_m
        if not (frac > EPS).any():
            continue
        out[new] = Placement(new, c, frac, mode)
    return out
