"""One job at a time: the placement moves of the fast solver.

- contiguous jobs: the cheapest feasible window over every allowed cluster and mode (GPU count x
  power cap), evaluated for all start steps at once with window sums;
- interruptible jobs: the cheapest steps on their best cluster, by marginal allocation over the
  job's efficient modes (the lower convex hull of kW against rate): a step first gets the most
  energy-efficient mode and is upgraded to faster modes (more GPUs, higher caps) only where the
  marginal cost per unit of work is lowest; each resume adds its checkpoint overhead and the
  allocation repeats until the count of resumes is stable;
- critical jobs: at their release, on the cluster where that is cheapest, uncapped, never paused.

Stability: a job whose previous plan started at the same step gets that option discounted by the
switching cost (``PlannerOptions.switching_cost_pct``), so it moves only when the saving is larger.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.schedule import (
    Placement,
    contiguous,
    resumes,
    tidy,
    window,
    work_done,
)

Floats = npt.NDArray[np.float64]
TIE = 1e-9  # prefer earlier starts among equal costs


def _cost_prefix(problem: Problem) -> Floats:
    """Prefix sums of the cost table along the steps (computed with the problem)."""
    return problem.cost_prefix


class Capacity:
    """GPUs and site kW left per cluster and step."""

    def __init__(self, problem: Problem) -> None:
        self.gpus = np.repeat(problem.gpus[:, None].astype(np.float64), problem.steps, axis=1)
        self.kw = problem.headroom_kw.copy()
        self.capped = np.isfinite(self.kw).any(axis=1)  # clusters with a site limit

    def book(self, table: JobTable, placement: Placement, sign: float = 1.0) -> None:
        """Take (or with ``sign=-1`` give back) the capacity a placement holds."""
        c = placement.cluster
        active = placement.active()
        gpus = np.array([m.gpus for m in table.modes], dtype=np.float64)
        kw = np.array([m.kw[c] for m in table.modes])
        # A part-step still holds its GPUs for that step.
        self.gpus[c, active] -= sign * gpus[placement.mode[active]]
        self.kw[c, active] -= sign * kw[placement.mode[active]]


def window_place(
    problem: Problem, table: JobTable, cap: Capacity, fixed_start: int | None
) -> Placement | None:
    """The cheapest contiguous placement over allowed clusters, modes and starts."""
    clusters = np.nonzero(table.allowed)[0]
    if len(clusters) == 0:
        return None
    cost = problem.cost[clusters]
    csum = _cost_prefix(problem)[clusters]
    best: tuple[float, int, int, int, float] | None = None  # (value, cluster, mode, start, steps)
    for m, mode in enumerate(table.modes):
        if fixed_start is not None and m != 0:
            break  # critical and running work: requested GPUs, uncapped
        kw = mode.kw[clusters]
        ok = np.isfinite(kw) & (mode.gpus <= problem.gpus[clusters])
        if not ok.any():
            continue
        span = window(problem, table, m, fixed_start)
        length, whole, last, lo, hi = span.length, span.whole, span.last, span.lo, span.hi
        if hi < lo or whole == 0:
            continue
        starts = np.arange(lo, hi + 1)
        sums = (csum[:, starts + whole - 1] - csum[:, starts]) + last * cost[:, starts + whole - 1]
        value = sums * (kw[:, None] * problem.step_h)
        blocked = (cap.gpus[clusters] < mode.gpus) | (cap.kw[clusters] < kw[:, None] - 1e-9)
        bsum = np.concatenate([np.zeros((len(clusters), 1)), np.cumsum(blocked, axis=1)], axis=1)
        free = (bsum[:, starts + whole] - bsum[:, starts]) == 0
        value = np.where(free & ok[:, None], value, np.inf)
        if table.previous_start is not None and lo <= table.previous_start <= hi:
            value[:, table.previous_start - lo] *= 1 - problem.options.switching_cost_pct / 100
        value = value + TIE * starts[None, :]
        flat = int(np.argmin(value))
        row, col = divmod(flat, len(starts))
        if not np.isfinite(value[row, col]):
            continue
        if best is None or value[row, col] < best[0] - 1e-12:
            best = (float(value[row, col]), int(clusters[row]), m, int(starts[col]), length)
    if best is None:
        return None
    _, c, m, start, length = best
    return contiguous(problem, table, c, m, start, length)


def _hull(table: JobTable, c: int) -> list[int]:
    """Modes on the lower convex hull of (rate, kW) from the origin: the efficient upgrades."""
    points = sorted(
        (m.rate, float(m.kw[c]), i) for i, m in enumerate(table.modes) if np.isfinite(m.kw[c])
    )
    hull: list[int] = []
    prev_rate, prev_kw, prev_slope = 0.0, 0.0, 0.0
    while True:
        best, best_slope = None, np.inf
        for rate, kw, i in points:
            if rate <= prev_rate + 1e-12:
                continue
            slope = (kw - prev_kw) / (rate - prev_rate)
            if slope < best_slope - 1e-12 or (
                abs(slope - best_slope) <= 1e-12
                and best is not None
                and rate > table.modes[best].rate
            ):
                best, best_slope = i, slope
        if best is None or best_slope < prev_slope - 1e-12:
            break
        hull.append(best)
        prev_rate, prev_kw, prev_slope = (
            table.modes[best].rate,
            float(table.modes[best].kw[c]),
            best_slope,
        )
    return hull


def _slots_on(
    problem: Problem, table: JobTable, cap: Capacity, c: int, work: float
) -> Placement | None:
    """Marginal allocation of ``work`` over the cheapest steps of cluster ``c``."""
    T = problem.steps
    hull = _hull(table, c)
    if not hull:
        return None
    window = np.zeros(T, dtype=bool)
    window[table.release : table.deadline] = True
    rates = np.array([0.0] + [table.modes[i].rate for i in hull])
    kws = np.array([0.0] + [float(table.modes[i].kw[c]) for i in hull])
    gpus = np.array([0] + [table.modes[i].gpus for i in hull])
    d_rate = np.diff(rates) * problem.step_s  # work per step of each upgrade
    slope = np.diff(kws) / np.diff(rates)  # kW per unit rate of each upgrade
    steps = np.nonzero(window)[0]
    if len(steps) == 0:
        return None
    cost = problem.cost[c, steps].copy()
    if table.running_on is not None:
        cost[steps == 0] *= 1 - problem.options.switching_cost_pct / 100
    # Items: (step, level); level k needs the GPUs and kW of hull mode k.
    fits = (cap.gpus[c, steps][:, None] >= gpus[None, 1:]) & (
        cap.kw[c, steps][:, None] >= kws[None, 1:] - 1e-9
    )
    # Once a level does not fit, higher ones are not offered (levels are taken in order).
    fits = np.cumprod(fits, axis=1).astype(bool)
    price = cost[:, None] * slope[None, :] + TIE * steps[:, None]
    price = np.where(fits, price, np.inf)
    flat_order = np.argsort(price, axis=None, kind="stable")
    levels = np.zeros(len(steps), dtype=np.int64)
    gained = 0.0
    partial: tuple[int, float] | None = None
    n_levels = len(hull)
    for flat in flat_order:
        i, k = divmod(int(flat), n_levels)
        if not np.isfinite(price[i, k]):
            break
        if levels[i] != k:
            continue  # a lower level of this step is not taken yet (only on exact ties)
        take = d_rate[k]
        if gained + take >= work - 1e-9:
            partial = (i, (work - gained) / take)
            gained = work
            break
        levels[i] = k + 1
        gained += take
    if gained < work - 1e-6:
        return None
    frac = np.zeros(T)
    mode = np.full(T, -1, dtype=np.int64)
    taken = levels > 0
    frac[steps[taken]] = 1.0
    mode[steps[taken]] = np.array(hull)[levels[taken] - 1]
    if partial is not None:
        i, share = partial
        k = levels[i]
        t = steps[i]
        if k == 0:
            frac[t] = share
            mode[t] = hull[0]
        else:  # a part-upgrade: run the higher mode for the share of the step giving the same work
            low, high = rates[k], rates[k + 1]
            frac[t] = (low + share * (high - low)) / high
            mode[t] = hull[k]
    return Placement(table.index, c, frac, mode)


def _slots_estimate(problem: Problem, table: JobTable, cap: Capacity) -> Floats:
    """Per cluster, the cost of the cheapest free steps at the job's most efficient mode,
    ignoring overheads (``inf`` where it does not fit): a cheap way to rank clusters."""
    C = len(problem.clusters)
    estimate = np.full(C, np.inf)
    lo, hi = table.release, table.deadline
    if hi <= lo:
        return estimate
    kw = np.array([m.kw for m in table.modes])  # [M, C]
    rate = np.array([m.rate for m in table.modes])[:, None]
    gpus = np.array([m.gpus for m in table.modes])[:, None]
    per_work = np.where(np.isfinite(kw) & (gpus <= problem.gpus[None, :]), kw / rate, np.inf)
    best = np.argmin(per_work, axis=0)  # [C]
    cols = np.arange(C)
    ok = table.allowed & np.isfinite(per_work[best, cols])
    if not ok.any():
        return estimate
    cs = cols[ok]
    m = best[cs]
    kw_c = kw[m, cs]
    need = table.work_s / (rate[m, 0] * problem.step_s)  # [A]
    price = problem.cost[cs, lo:hi] * kw_c[:, None]
    free = (cap.gpus[cs, lo:hi] >= gpus[m, 0][:, None]) & (
        cap.kw[cs, lo:hi] >= kw_c[:, None] - 1e-9
    )
    price = np.where(free, price, np.inf)
    ordered = np.sort(price, axis=1)
    csum = np.concatenate([np.zeros((len(cs), 1)), np.cumsum(ordered, axis=1)], axis=1)
    whole = np.floor(need).astype(np.int64)
    fits = need <= free.sum(axis=1) + 1e-9
    whole = np.minimum(whole, hi - lo)
    nxt = ordered[np.arange(len(cs)), np.minimum(whole, hi - lo - 1)]
    with np.errstate(invalid="ignore"):
        part = np.where(need - whole > 1e-9, (need - whole) * nxt, 0.0)
    estimate[cs] = np.where(fits, csum[np.arange(len(cs)), whole] + part, np.inf)
    return estimate


def slots_place(problem: Problem, table: JobTable, cap: Capacity) -> Placement | None:
    """Cheapest slots for an interruptible job: rank the allowed clusters by a quick estimate,
    then allocate for real on the best ones until one fits (overheads included)."""
    estimate = _slots_estimate(problem, table, cap)
    for c in np.argsort(estimate)[:3]:
        if not np.isfinite(estimate[c]):
            break
        work = table.work_s
        placement = None
        for _ in range(4):
            placement = _slots_on(problem, table, cap, int(c), work)
            if placement is None:
                break
            needed = table.work_s + resumes(table, placement) * table.overhead_work_s
            if needed <= work + 1e-6:
                break
            work = needed
        if placement is None:
            continue
        tidy(problem, table, placement)
        if work_done(problem, table, placement) >= table.work_s - 1e-3:
            return placement
    return None


def place(problem: Problem, table: JobTable, cap: Capacity) -> Placement | None:
    if table.work_s <= 0:
        return None
    if table.priority is Priority.CRITICAL:
        return window_place(problem, table, cap, fixed_start=table.release)
    if table.running_on is not None and not table.interruptible:
        return window_place(problem, table, cap, fixed_start=0)
    if table.interruptible:
        return slots_place(problem, table, cap)
    return window_place(problem, table, cap, fixed_start=None)
