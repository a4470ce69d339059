"""The one-job move by kind, and the whole ordered pass, compiled (numba) over the moves of
``kernels``: ``place`` picks the move a job's kind calls for (``flat``: window, slots, critical
at release, running contiguous work from now); ``greedy`` places every job of an order in turn
against the capacity the earlier ones left. Arguments as in ``kernels``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gridshift.planner.flat import CRITICAL, FIXED, SLOTS
from gridshift.planner.kernels import (
    EPS,
    book,
    clear,
    jit,
    slots_place,
    value,
    window_place,
    work_done,
)


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
    if kind == CRITICAL:
        # At its release; where running work holds the room then, at the earliest step with
        # room (reserved before any deferrable job can take it).
        for start in range(a_release[j], frac.shape[0]):
            c = window_place(j, start, jobs, problem, cap_g, cap_k, frac, mode)
            if c >= 0:
                return c
        return -1
    fixed = 0 if kind == FIXED else -1
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


@jit
def fits(
    j: int, c: int, jobs: Any, problem: Any, cap_g: Any, cap_k: Any, frac: Any, mode: Any
) -> bool:
    """Whether a given placement of job j on cluster c is valid against the capacity left:
    an allowed cluster, steps inside its window, modes that may run there, room for them, all
    its work done, and one contiguous run from the right step where its kind needs that."""
    a_release, a_deadline, a_work, a_overhead, a_kind, a_running = jobs[:6]
    a_n_modes, a_allowed, a_gpus, a_rate, a_kw = jobs[7:]
    if c < 0 or not a_allowed[j, c]:
        return False
    kind = a_kind[j]
    first = -1
    last = -1
    runs = 0
    for t in range(frac.shape[0]):
        if frac[t] <= EPS:
            continue
        m = mode[t]
        if m < 0 or m >= a_n_modes[j] or not np.isfinite(a_kw[j, m, c]):
            return False
        if t < a_release[j] or t >= a_deadline[j]:
            return False
        if cap_g[c, t] < a_gpus[j, m] - 1e-9 or cap_k[c, t] < a_kw[j, m, c] - 1e-9:
            return False
        if first < 0:
            first = t
        if last != t - 1:
            runs += 1
        last = t
    if first < 0:
        return False
    if kind != SLOTS and runs != 1:
        return False
    if (kind == CRITICAL and first != a_release[j]) or (kind == FIXED and first != 0):
        return False
    done = work_done(frac, mode, a_rate[j], problem[4], a_overhead[j], a_running[j])
    return bool(done >= a_work[j] - 1e-3)


@jit
def greedy_warm(
    order: Any, cluster: Any, jobs: Any, problem: Any, cap_g: Any, cap_k: Any, frac: Any, mode: Any
) -> Any:
    """``greedy`` from a warm start: each job of ``order`` with a given placement (``cluster[j]
    >= 0``, its rows in ``frac``/``mode``) keeps it if it is still valid against what the
    earlier ones left (``fits``); any other is placed afresh, in its turn. Returns which jobs
    kept theirs; ``cluster`` ends as in ``greedy`` (-1: no room)."""
    a_gpus, _, a_kw = jobs[9:]
    kept = np.zeros(a_gpus.shape[0], dtype=np.bool_)
    for j in order:
        c = cluster[j]
        if c >= 0 and fits(j, c, jobs, problem, cap_g, cap_k, frac[j], mode[j]):
            kept[j] = True
        else:
            c = place(j, jobs, problem, cap_g, cap_k, frac[j], mode[j])
            cluster[j] = c
        if c >= 0:
            book(c, frac[j], mode[j], a_gpus[j], a_kw[j, :, c], cap_g, cap_k, 1.0)
    return kept
