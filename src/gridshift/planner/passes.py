"""The one-job move by kind, and the whole ordered pass, compiled (numba) over the moves of
``kernels``: ``place`` picks the move a job's kind calls for (``flat``: window, slots, critical
at release, running contiguous work from now); ``greedy`` places every job of an order in turn
against the capacity the earlier ones left. Arguments as in ``kernels``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gridshift.planner.flat import CRITICAL, FIXED, SLOTS
from gridshift.planner.kernels import book, clear, jit, slots_place, value, window_place


@jit
def place(j: int, jobs: Any, problem: Any, cap_g: Any, cap_k: Any, frac: Any, mode: Any) -> int:
    """The one-job move for its kind; the cluster, or -1 (rows cleared)."""
    a_release, _, a_work, _, a_kind, a_running = jobs[:6]
    a_kw = jobs[11]
    if a_work[j] <= 0:
        clear(frac, mode)
        return -1
    kind = a_kind[j]
    if kind == SLOTS:
        # The cheapest slots, or one window when that costs less (no resume: no overhead; and
        # where overheads eat what isolated cheap steps would do, the only way).
        c = slots_place(j, jobs, problem, cap_g, cap_k, frac, mode)
        if a_running[j]:
            return c  # a running job resumes on its cluster; a window from step 0 is a slot plan
        w_frac = np.zeros_like(frac)
        w_mode = np.full_like(mode, -1)
        w = window_place(j, -1, jobs, problem, cap_g, cap_k, w_frac, w_mode)
        g = jobs[9][j]
        if w >= 0 and (
            c < 0
            or value(w_frac, w_mode, g, a_kw[j, :, w], w, problem)
            < value(frac, mode, g, a_kw[j, :, c], c, problem) - 1e-9
        ):
            frac[:] = w_frac
            mode[:] = w_mode
            return w
        return c
    fixed = -1
    if kind == CRITICAL:
        fixed = a_release[j]
    elif kind == FIXED:
        fixed = 0
    return window_place(j, fixed, jobs, problem, cap_g, cap_k, frac, mode)


@jit
def greedy(
    order: Any, jobs: Any, problem: Any, cap_g: Any, cap_k: Any, frac: Any, mode: Any
) -> Any:
    """Every job of ``order`` in turn against what the earlier ones left; the cluster of each
    job (-1: no room), its rows in ``frac``/``mode``; capacity booked in ``cap_g``/``cap_k``."""
    a_gpus, _, a_kw = jobs[9:]
    cluster = np.full(a_gpus.shape[0], -1, dtype=np.int64)
    for j in order:
        c = place(j, jobs, problem, cap_g, cap_k, frac[j], mode[j])
        if c >= 0:
            book(c, frac[j], mode[j], a_gpus[j], a_kw[j, :, c], cap_g, cap_k, 1.0)
            cluster[j] = c
    return cluster
