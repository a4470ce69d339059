"""The fast solver's placement moves, compiled (numba): one job at a time against the capacity
left (``passes`` picks the move by kind and runs the whole ordered pass).

These are the moves ``greedy`` describes, over the flat arrays of ``flat``:
- ``window_place``: the cheapest feasible contiguous window over every allowed cluster, mode and
  start (window sums from the cost prefix; a blocked-step count per cluster);
- ``slots_place``: clusters ranked by the cost of their cheapest free steps at the job's most
  energy-efficient mode, then on the best ones a marginal allocation over the job's efficient
  modes (the lower convex hull of kW against rate), repeated until the count of resumes is
  stable, and ``tidy``;
- ``tidy``: part-steps only at run ends; surplus work trimmed from the dearest run end.

Arguments come as two tuples, in the order ``flat.JobArrays.kernel_tuple`` and
``greedy.problem_tuple`` build them: ``jobs`` = (release, deadline, work, overhead, kind,
running, previous, n_modes, allowed, gpus, rate, kw) and ``problem`` = (cost, prefix, cost_order,
cluster_gpus, step_s, step_h, switch, lg, lk, charged). With ``charged``, every step a job holds
also costs its GPUs x ``lg[c, t]`` + its kW x ``lk[c, t]`` (capacity prices, ``lagrange``): the
moves then avoid crowded steps; ``tidy`` and the reported figures never include the charge.

A placement is a row pair: ``frac[t]`` (share of step t the job runs) and ``mode[t]`` (-1: idle).
Every function writes its answer into the rows it is given and returns the cluster (-1: none,
rows cleared). Ties go to the earliest start and the lowest cluster index, as in numpy's argmin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

from gridshift.planner.model import PAUSED, RUNNING

EPS = 1e-6  # a step share below this is idle
TIE = 1e-9  # prefer earlier starts among equal costs

F = TypeVar("F", bound=Callable[..., Any])


def jit(function: F) -> F:
    """Compile with numba, cached on disk (the first use in a fresh install compiles, in
    seconds; later processes load the machine code)."""
    return cast(F, njit(cache=True, nogil=True)(function))


@jit
def clear(frac: Any, mode: Any) -> None:
    for t in range(frac.shape[0]):
        frac[t] = 0.0
        mode[t] = -1


@jit
def resumes(frac: Any, started: int) -> int:
    """Restarts after a pause. ``started``: ``NEW`` (not started), ``RUNNING`` (running now: paused
    now, it restarts once more) or ``PAUSED`` (started before, not running: every run resumes)."""
    n_runs = 0
    first = -1
    prev = False
    for t in range(frac.shape[0]):
        on = frac[t] > EPS
        if on and not prev:
            n_runs += 1
            if first < 0:
                first = t
        prev = on
    if n_runs == 0:
        return 0
    count = n_runs - 1
    if (started == RUNNING and first > 0) or started == PAUSED:
        count += 1
    return count


@jit
def work_done(
    frac: Any, mode: Any, rate: Any, step_s: float, overhead: float, running: int
) -> float:
    gross = 0.0
    for t in range(frac.shape[0]):
        if frac[t] > EPS:
            gross += frac[t] * rate[mode[t]]
    return gross * step_s - resumes(frac, running) * overhead


@jit
def value(frac: Any, mode: Any, gpus: Any, kw_c: Any, c: int, problem: Any) -> float:
    """The objective of a placement on cluster c, plus its capacity charge when charged."""
    cost, _, _, _, _, step_h, _, lg, lk, charged = problem
    total = 0.0
    held = 0.0
    for t in range(frac.shape[0]):
        if frac[t] > EPS:
            m = mode[t]
            total += frac[t] * kw_c[m] * cost[c, t]
            if charged:
                held += gpus[m] * lg[c, t] + kw_c[m] * lk[c, t]
    return float(total * step_h + held)


@jit
def book(
    c: int, frac: Any, mode: Any, gpus: Any, kw_c: Any, cap_g: Any, cap_k: Any, sign: float
) -> None:
    """Take (sign 1) or give back (sign -1) the capacity a placement holds on cluster c."""
    for t in range(frac.shape[0]):
        if frac[t] > EPS:
            m = mode[t]
            cap_g[c, t] -= sign * gpus[m]
            cap_k[c, t] -= sign * kw_c[m]


@jit
def _span(
    work: float, rate: float, step_s: float, release: int, deadline: int, steps: int, fixed: int
) -> Any:
    length = work / (rate * step_s)
    whole = math.ceil(length - 1e-9)
    last = length - (whole - 1)
    if fixed < 0:
        lo = release
        hi = math.floor(deadline - length + 1e-9)
    else:
        limit = min(steps, deadline)
        lo = fixed
        hi = fixed if fixed + length <= limit + 1e-9 else fixed - 1
    hi = min(hi, steps - whole)
    return length, whole, last, lo, hi


@jit
def window_place(
    j: int, fixed: int, jobs: Any, problem: Any, cap_g: Any, cap_k: Any, frac: Any, mode: Any
) -> int:
    """The cheapest contiguous placement (``fixed`` >= 0 pins the start, mode 0 only)."""
    a_release, a_deadline, a_work, _, _, _, a_previous, a_n_modes, a_allowed = jobs[:9]
    a_gpus, a_rate, a_kw = jobs[9:]
    cost, prefix, _, cluster_gpus, step_s, step_h, switch, lg, lk, charged = problem
    C, T = cost.shape
    clear(frac, mode)
    blocked = np.zeros(T + 1, dtype=np.int64)
    held = np.zeros(T + 1)  # prefix of the capacity charge (charged runs only)
    best_v = np.inf
    best_c, best_m, best_s = -1, -1, -1
    best_len = 0.0
    for m in range(a_n_modes[j]):
        if fixed >= 0 and m != 0:
            break
        g = a_gpus[j, m]
        length, whole, last, lo, hi = _span(
            a_work[j], a_rate[j, m], step_s, a_release[j], a_deadline[j], T, fixed
        )
        if hi < lo or whole == 0:
            continue
        mode_v = np.inf
        mode_c, mode_s = -1, -1
        for c in range(C):
            if not a_allowed[j, c]:
                continue
            kw = a_kw[j, m, c]
            if not np.isfinite(kw) or g > cluster_gpus[c]:
                continue
            top = hi + whole
            blocked[lo] = 0
            held[lo] = 0.0
            for t in range(lo, top):
                short = cap_g[c, t] < g or cap_k[c, t] < kw - 1e-9
                blocked[t + 1] = blocked[t] + (1 if short else 0)
                if charged:
                    held[t + 1] = held[t] + g * lg[c, t] + kw * lk[c, t]
            scale = kw * step_h
            for s in range(lo, hi + 1):
                if blocked[s + whole] != blocked[s]:
                    continue
                e = s + whole - 1
                v = ((prefix[c, e] - prefix[c, s]) + last * cost[c, e]) * scale
                if charged:
                    v += held[s + whole] - held[s]
                if s == a_previous[j]:
                    v *= switch
                v += TIE * s
                if v < mode_v:
                    mode_v, mode_c, mode_s = v, c, s
        if mode_c >= 0 and mode_v < best_v - 1e-12:
            best_v, best_c, best_m, best_s, best_len = mode_v, mode_c, m, mode_s, length
    if best_c < 0:
        return -1
    whole = math.ceil(best_len - 1e-9)
    end = min(T, best_s + whole)
    for t in range(best_s, end):
        frac[t] = 1.0
        mode[t] = best_m
    if best_s + whole <= T:
        frac[best_s + whole - 1] = best_len - (whole - 1)
    return best_c


@jit
def hull(j: int, c: int, a_n_modes: Any, a_rate: Any, a_kw: Any, out: Any) -> int:
    """Modes on the lower convex hull of (rate, kW) from the origin on cluster c, into ``out``;
    returns how many: the efficient upgrades, slowest first."""
    n = 0
    prev_rate, prev_kw, prev_slope = 0.0, 0.0, 0.0
    while True:
        best = -1
        best_slope = np.inf
        for i in range(a_n_modes[j]):
            kw = a_kw[j, i, c]
            rate = a_rate[j, i]
            if not np.isfinite(kw) or rate <= prev_rate + 1e-12:
                continue
            slope = (kw - prev_kw) / (rate - prev_rate)
            if slope < best_slope - 1e-12 or (
                abs(slope - best_slope) <= 1e-12 and best >= 0 and rate > a_rate[j, best]
            ):
                best, best_slope = i, slope
        if best < 0 or best_slope < prev_slope - 1e-12:
            break
        out[n] = best
        n += 1
        prev_rate, prev_kw, prev_slope = a_rate[j, best], a_kw[j, best, c], best_slope
    return n


@jit
def _slots_on(
    j: int,
    c: int,
    work: float,
    jobs: Any,
    problem: Any,
    cap_g: Any,
    cap_k: Any,
    frac: Any,
    mode: Any,
) -> bool:
    """Marginal allocation of ``work`` over the cheapest steps of cluster c (rows written)."""
    a_release, a_deadline, _, _, _, a_running, _, a_n_modes, _, a_gpus, a_rate, a_kw = jobs
    cost, _, _, _, step_s, step_h, switch, lg, lk, charged = problem
    T = frac.shape[0]
    clear(frac, mode)
    idx = np.empty(a_n_modes[j], dtype=np.int64)
    K = hull(j, c, a_n_modes, a_rate, a_kw, idx)
    lo, hi = a_release[j], min(a_deadline[j], T)
    n = hi - lo
    if K == 0 or n <= 0:
        return False
    rates = np.zeros(K + 1)
    kws = np.zeros(K + 1)
    gpus = np.zeros(K + 1)
    for k in range(K):
        rates[k + 1] = a_rate[j, idx[k]]
        kws[k + 1] = a_kw[j, idx[k], c]
        gpus[k + 1] = a_gpus[j, idx[k]]
    price = np.empty(n * K)
    for i in range(n):
        t = lo + i
        step_cost = cost[c, t]
        if a_running[j] == RUNNING and t == 0:
            step_cost *= switch
        fits = True
        for k in range(K):
            fits = fits and cap_g[c, t] >= gpus[k + 1] and cap_k[c, t] >= kws[k + 1] - 1e-9
            slope = (kws[k + 1] - kws[k]) / (rates[k + 1] - rates[k])
            p = step_cost * slope + TIE * t
            if charged:  # the capacity charge of the upgrade, per unit of rate, per step hour
                held = (gpus[k + 1] - gpus[k]) * lg[c, t] + (kws[k + 1] - kws[k]) * lk[c, t]
                p += held / ((rates[k + 1] - rates[k]) * step_h)
            price[i * K + k] = p if fits else np.inf
    order = np.argsort(price, kind="mergesort")
    levels = np.zeros(n, dtype=np.int64)
    gained = 0.0
    part_i = -1
    share = 0.0
    for flat in order:
        if not np.isfinite(price[flat]):
            break
        i = flat // K
        k = flat % K
        if levels[i] != k:
            continue  # a lower level of this step is not taken yet (only on exact ties)
        take = (rates[k + 1] - rates[k]) * step_s
        if gained + take >= work - 1e-9:
            part_i = i
            share = (work - gained) / take
            gained = work
            break
        levels[i] = k + 1
        gained += take
    if gained < work - 1e-6:
        return False
    for i in range(n):
        if levels[i] > 0:
            frac[lo + i] = 1.0
            mode[lo + i] = idx[levels[i] - 1]
    if part_i >= 0:
        k = levels[part_i]
        t = lo + part_i
        if k == 0:
            frac[t] = share
            mode[t] = idx[0]
        else:  # a part-upgrade: the higher mode for the share of the step giving the same work
            low, high = rates[k], rates[k + 1]
            frac[t] = (low + share * (high - low)) / high
            mode[t] = idx[k]
    return True


@jit
def tidy(
    frac: Any,
    mode: Any,
    rate: Any,
    kw_c: Any,
    cost_c: Any,
    work: float,
    overhead: float,
    running: int,
    step_s: float,
) -> None:
    """Part-steps only at run ends (a job cannot stop inside a step and go on in the next
    without a resume), and no work beyond what the job needs: the surplus is trimmed from the
    run end that costs most per unit of work (latest on ties)."""
    T = frac.shape[0]
    for t in range(T):
        on = frac[t] > EPS
        if not on:
            frac[t] = 0.0
            mode[t] = -1
        elif t + 1 < T and frac[t + 1] > EPS:
            frac[t] = 1.0
    scale = max(1.0, work)
    for _ in range(4 * T + 4):
        excess = work_done(frac, mode, rate, step_s, overhead, running) - work
        if excess <= EPS * scale:
            break
        pick = -1
        pick_v = -np.inf
        for t in range(T):
            if frac[t] > EPS and (t + 1 == T or frac[t + 1] <= EPS):
                m = mode[t]
                v = cost_c[t] * kw_c[m] / rate[m] + 1e-12 * t
                if v >= pick_v:  # the latest of equals
                    pick, pick_v = t, v
        if pick < 0:
            break
        per_step = rate[mode[pick]] * step_s * frac[pick]
        if per_step <= excess + EPS:
            frac[pick] = 0.0
            mode[pick] = -1
        else:
            frac[pick] *= 1.0 - excess / per_step
    excess = work_done(frac, mode, rate, step_s, overhead, running) - work
    if excess < -EPS * scale:
        last = -1
        for t in range(T):
            if frac[t] > EPS:
                last = t
        if last >= 0:
            # Dropping a whole lone run saved an overhead and then overshot: give the work back.
            per = rate[mode[last]] * step_s
            frac[last] = min(1.0, frac[last] - excess / per)


@jit
def _slots_estimate(j: int, jobs: Any, problem: Any, cap_g: Any, cap_k: Any) -> Any:
    """Per cluster, the cost of the cheapest free steps at the job's most efficient mode,
    overheads ignored (inf where it does not fit): a quick ranking of clusters."""
    a_release, a_deadline, a_work, _, _, _, _, a_n_modes, a_allowed, a_gpus, a_rate, a_kw = jobs
    cost, _, cost_order, cluster_gpus, step_s = problem[:5]
    C, T = cost.shape
    out = np.full(C, np.inf)
    lo, hi = a_release[j], min(a_deadline[j], T)
    if hi <= lo:
        return out
    for c in range(C):
        if not a_allowed[j, c]:
            continue
        best = -1
        best_pw = np.inf
        for m in range(a_n_modes[j]):
            kw = a_kw[j, m, c]
            if np.isfinite(kw) and a_gpus[j, m] <= cluster_gpus[c]:
                pw = kw / a_rate[j, m]
                if pw < best_pw:
                    best, best_pw = m, pw
        if best < 0:
            continue
        kw = a_kw[j, best, c]
        g = a_gpus[j, best]
        need = a_work[j] / (a_rate[j, best] * step_s)
        whole = math.floor(need)
        total = 0.0
        taken = 0
        done = False
        for r in range(T):  # steps of cluster c from cheapest (kW > 0 keeps the order)
            t = cost_order[c, r]
            if t < lo or t >= hi or cap_g[c, t] < g or cap_k[c, t] < kw - 1e-9:
                continue
            if taken < whole:
                total += cost[c, t] * kw
                taken += 1
            else:
                if need - whole > 1e-9:
                    total += (need - whole) * cost[c, t] * kw
                    taken += 1
                done = True
                break
        if done or (taken == whole and need - whole <= 1e-9):
            out[c] = total
    return out


@jit
def slots_place(
    j: int, jobs: Any, problem: Any, cap_g: Any, cap_k: Any, frac: Any, mode: Any
) -> int:
    """Cheapest slots for an interruptible job: the three best-ranked clusters in turn until
    one holds the work with its overheads."""
    a_work, a_overhead, _, a_running = jobs[2:6]
    a_rate, a_kw = jobs[10:]
    cost, _, _, _, step_s = problem[:5]
    estimate = _slots_estimate(j, jobs, problem, cap_g, cap_k)
    ranked = np.argsort(estimate, kind="mergesort")
    work = a_work[j]
    for r in range(min(3, ranked.shape[0])):
        c = ranked[r]
        if not np.isfinite(estimate[c]):
            break
        need = work
        ok = False
        for _ in range(4):
            ok = _slots_on(j, c, need, jobs, problem, cap_g, cap_k, frac, mode)
            if not ok:
                break
            needed = work + resumes(frac, a_running[j]) * a_overhead[j]
            if needed <= need + 1e-6:
                break
            need = needed
        if not ok:
            continue
        rate = a_rate[j]
        tidy(frac, mode, rate, a_kw[j, :, c], cost[c], work, a_overhead[j], a_running[j], step_s)
        if work_done(frac, mode, rate, step_s, a_overhead[j], a_running[j]) >= work - 1e-3:
            return int(c)
    clear(frac, mode)
    return -1
