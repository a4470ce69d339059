"""A Lagrangian bound: capacity priced instead of enforced, the prices found by subgradient steps.

Relax the GPU and site-kW capacity of every cluster and step with prices ``lg, lk >= 0``. Each
job then plans alone against its energy cost plus the capacity it holds at those prices, and

    L(l) = sum_j best_j(l) - sum_{c,t} (lg[c,t] * GPUs_c + lk[c,t] * headroom_kW[c,t])

is a lower bound on the objective of every plan that places every job, for any ``l >= 0``.
``best_j`` is exact for contiguous jobs (every allowed cluster, mode and start) and a relaxation
for interruptible ones (each step at its best charged cost per unit of work up to the fastest
rate, fractional steps, no checkpoint overheads), so it never overstates. The prices climb where
the jobs' own best schedules overbook capacity (Polyak steps towards the best plan's objective),
which lifts the bound from the capacity-free one towards the LP bound of the time-indexed model.

The same prices also guide a heuristic: the greedy of the fast solver with every step charged at
its capacity price places jobs where they crowd others least (``kernels`` take the prices).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.planner.flat import CRITICAL, FIXED, SLOTS, arrays_of
from gridshift.planner.kernels import jit
from gridshift.planner.model import UNLIMITED_GPUS, Problem

Floats = npt.NDArray[np.float64]
# Price steps a plan can afford where time is not given (the fast solver, every plan's bound):
# up to 100, as many as fit in about a quarter second (a step prices every job, cluster, mode
# and step: ~0.7 ns each on the reference machine); fewer than 10 are not worth it.
MAX_STEPS = 100
MIN_STEPS = 10
AFFORDABLE_OPS = 3.5e8
STALL = 20  # price steps without a better bound before the step size halves
SNAPSHOT_AT = frozenset({10, 25, 50, 100, 200})  # price steps whose best prices are kept


@jit
def _price(
    jobs: Any,
    cost: Any,
    cluster_gpus: Any,
    lg: Any,
    lk: Any,
    step_s: float,
    step_h: float,
    use_g: Any,
    use_k: Any,
) -> Any:
    """Each job's best charged cost alone (``inf`` where it has no schedule at all), and the
    capacity its best schedule would hold, added into ``use_g``/``use_k``."""
    release, deadline, work, _, kind, _, _, n_modes, allowed, gpus, rate, kw = jobs
    C, T = cost.shape
    P = np.zeros((C, T + 1))  # energy cost prefix per kWh-hour
    LG = np.zeros((C, T + 1))
    LK = np.zeros((C, T + 1))
    for c in range(C):
        for t in range(T):
            P[c, t + 1] = P[c, t] + cost[c, t]
            LG[c, t + 1] = LG[c, t] + lg[c, t]
            LK[c, t + 1] = LK[c, t] + lk[c, t]
    J = work.shape[0]
    out = np.full(J, np.inf)
    per = np.empty(T)
    best_order = np.empty(T, dtype=np.int64)
    for j in range(J):
        if work[j] <= 0:
            out[j] = 0.0
            continue
        lo, hi = release[j], min(deadline[j], T)
        best = np.inf
        if kind[j] == SLOTS:
            bc = -1
            for c in range(C):
                if not allowed[j, c]:
                    continue
                fastest = 0.0
                for m in range(n_modes[j]):
                    if np.isfinite(kw[j, m, c]) and gpus[j, m] <= cluster_gpus[c]:
                        fastest = max(fastest, rate[j, m])
                if fastest <= 0 or hi <= lo:
                    continue
                for t in range(lo, hi):
                    p = np.inf
                    for m in range(n_modes[j]):
                        k = kw[j, m, c]
                        if np.isfinite(k) and gpus[j, m] <= cluster_gpus[c]:
                            charged = k * (cost[c, t] * step_h + lk[c, t]) + gpus[j, m] * lg[c, t]
                            p = min(p, charged / (rate[j, m] * step_s))
                    per[t - lo] = p
                n = hi - lo
                order = np.argsort(per[:n])
                cap = fastest * step_s  # work a step can do
                left = work[j]
                total = 0.0
                for r in range(n):
                    i = order[r]
                    if left <= 1e-9 and per[i] >= 0:
                        break
                    take = cap if per[i] < 0 else min(cap, left)
                    total += take * per[i]
                    left -= take
                if left > 1e-9:
                    continue
                if total < best:
                    best, bc = total, c
                    best_order[:n] = order
            if bc >= 0:
                out[j] = best
                # Usage for the price update: the steps the relaxation fills, at the job's
                # requested GPUs and its first mode's kW (a direction, not part of the bound).
                c = bc
                order = best_order[: hi - lo]
                need = math.ceil(work[j] / (rate[j, 0] * step_s) - 1e-9)
                k0 = kw[j, 0, c] if np.isfinite(kw[j, 0, c]) else 0.0
                for r in range(min(need, hi - lo)):
                    t = lo + order[r]
                    use_g[c, t] += gpus[j, 0]
                    use_k[c, t] += k0
            continue
        fixed = -1
        if kind[j] == CRITICAL:
            fixed = release[j]
        elif kind[j] == FIXED:
            fixed = 0
        bc, bs, bw = -1, -1, 0
        bg, bk = 0.0, 0.0
        for m in range(n_modes[j]):
            if fixed >= 0 and m != 0:
                break
            length = work[j] / (rate[j, m] * step_s)
            whole = math.ceil(length - 1e-9)
            last = length - (whole - 1)
            if fixed < 0:
                s_lo, s_hi = release[j], math.floor(deadline[j] - length + 1e-9)
            else:
                s_lo = fixed
                s_hi = fixed if fixed + length <= min(T, deadline[j]) + 1e-9 else fixed - 1
            s_hi = min(s_hi, T - whole)
            if s_hi < s_lo or whole == 0:
                continue
            g = gpus[j, m]
            for c in range(C):
                k = kw[j, m, c]
                if not allowed[j, c] or not np.isfinite(k) or g > cluster_gpus[c]:
                    continue
                for s in range(s_lo, s_hi + 1):
                    e = s + whole - 1
                    v = k * step_h * (P[c, e] - P[c, s] + last * cost[c, e])
                    v += g * (LG[c, s + whole] - LG[c, s]) + k * (LK[c, s + whole] - LK[c, s])
                    if v < best:
                        best, bc, bs, bw, bg, bk = v, c, s, whole, g, k
        if bc >= 0:
            out[j] = best
            for t in range(bs, bs + bw):
                use_g[bc, t] += bg
                use_k[bc, t] += bk
    return out


def affordable_steps(problem: Problem, jobs: int) -> int:
    """How many price steps to take over ``jobs`` jobs (0: none), by size alone, so that the
    result stays deterministic."""
    modes = max(1, arrays_of(problem).rate.shape[1])
    ops = jobs * len(problem.clusters) * problem.steps * modes
    steps = min(MAX_STEPS, int(AFFORDABLE_OPS / max(ops, 1)))
    return steps if steps >= MIN_STEPS else 0


@dataclass
class Snapshot:
    """Capacity prices and the bound they give."""

    gpus: Floats  # [C, T] per GPU held for a step
    kw: Floats  # [C, T] per kW held for a step
    bound: float


@dataclass
class Prices:
    """The best bound found, and price snapshots along the way (first to best)."""

    bound: float
    iterations: int
    snapshots: list[Snapshot]


def lagrangian(
    problem: Problem, jobs: list[int] | None, upper: float, seconds: float, iterations: int = 400
) -> Prices:
    """Subgradient ascent on the capacity prices for ``seconds`` (or ``iterations``); the best
    bound seen and its prices. ``upper`` is the objective of a plan placing the same jobs (the
    Polyak target). ``jobs`` restricts the bound to those jobs (None: all)."""
    a = arrays_of(problem)
    tuple_ = a.kernel_tuple()
    if jobs is not None:
        rows = np.asarray(jobs, dtype=np.int64)
        tuple_ = tuple(x[rows] for x in tuple_)
    C, T = problem.cost.shape
    G = problem.gpus.astype(np.float64)
    limited_g = (problem.gpus < UNLIMITED_GPUS)[:, None] & np.ones((1, T), dtype=bool)
    H = problem.headroom_kw
    limited_k = np.isfinite(H)
    cap_g = np.where(limited_g, G[:, None], 0.0)
    cap_k = np.where(limited_k, H, 0.0)
    lg = np.zeros((C, T))
    lk = np.zeros((C, T))
    best = Snapshot(lg, lk, -math.inf)
    snapshots: list[Snapshot] = []
    theta = 1.0
    stall = 0
    started = time.perf_counter()
    step_s, step_h = float(problem.step_s), problem.step_h
    k = 0
    for k in range(1, iterations + 1):
        use_g = np.zeros((C, T))
        use_k = np.zeros((C, T))
        values = _price(tuple_, problem.cost, G, lg, lk, step_s, step_h, use_g, use_k)
        if not np.all(np.isfinite(values)):
            break  # some job has no schedule at all: no bound over every job
        bound = float(values.sum() - np.sum(lg * cap_g) - np.sum(lk * cap_k))
        if bound > best.bound + 1e-9 * max(1.0, abs(bound)):
            best = Snapshot(lg, lk, bound)
            stall = 0
        else:
            stall += 1
            if stall >= STALL:
                theta, stall = theta / 2, 0
        if k in SNAPSHOT_AT:
            snapshots.append(best)
        sub_g = np.where(limited_g, use_g - cap_g, 0.0)
        sub_k = np.where(limited_k, use_k - cap_k, 0.0)
        # A price already at zero with spare capacity has no direction.
        sub_g[(lg <= 0) & (sub_g < 0)] = 0.0
        sub_k[(lk <= 0) & (sub_k < 0)] = 0.0
        norm = float(np.sum(sub_g**2) + np.sum(sub_k**2))
        if norm <= 0 or theta < 1e-4 or upper <= bound:
            break
        alpha = theta * (upper - bound) / norm
        lg = np.maximum(0.0, lg + alpha * sub_g)  # new arrays: snapshots keep theirs
        lk = np.maximum(0.0, lk + alpha * sub_k)
        if time.perf_counter() - started > seconds:
            break
    if np.isfinite(best.bound) and (not snapshots or snapshots[-1] is not best):
        snapshots.append(best)
    return Prices(best.bound, k, snapshots)
