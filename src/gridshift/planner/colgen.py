"""Column generation: the exact solver's method for instances too large for the full MILP.

A *column* is one complete schedule for one job (cluster, steps, modes). The master problem
chooses one column per job (or leaves the job unplanned at a penalty) under the GPU and site-kW
capacity of every cluster and step:

    min  sum_p cost_p z_p + sum_j pen_j u_j
    s.t. sum_{p of j} z_p + u_j = 1                 (one schedule per job)        dual pi_j
         sum_p gpus_p[c,t] z_p <= G_c               (GPUs held)                    dual -lg[c,t]
         sum_p kw_p[c,t] z_p   <= H[c,t]            (site kW above idle)           dual -lk[c,t]

1. Start from the fast plan's columns and every job's own cheapest schedule.
2. Solve the master LP; read the capacity prices ``lg, lk >= 0``.
3. *Price*: for every job find schedules whose cost, with capacity charged at those prices, is
   below ``pi_j`` (contiguous jobs: every cluster, mode and start, exactly; interruptible jobs:
   the cheapest slots per cluster and mode, overheads included). Add them; repeat until none
   prices out, or the iteration or time budget is spent.
4. Solve the master as a MILP over the columns found (HiGHS, time-limited).

Lower bound (Lagrangian, valid for any prices): ``sum_j min(pen_j, best_j(l)) - l . capacity``,
where ``best_j`` is exact for contiguous jobs and a relaxation for interruptible ones (no
overheads, per-step best cost per unit of work, fractional steps), so it never overstates.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.domain import Priority
from gridshift.planner.greedy import Capacity, place
from gridshift.planner.master import Column, MasterLP, column_of, solve_master, usage
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.repair import EJECT_MAX_JOBS, eject, polish, repair
from gridshift.planner.schedule import (
    Placement,
    cheapest_steps,
    contiguous,
    plan_loss,
    tidy,
    window,
    work_done,
)

Floats = npt.NDArray[np.float64]
MAX_ITERATIONS = 60
PRICING_SHARE = 0.4  # of the time budget, for column generation; the rest for the MILP
PER_CLUSTER_COLUMNS = 3  # columns a contiguous job adds per pricing round


def _step_costs(
    problem: Problem, table: JobTable, c: int, lg: Floats, lk: Floats
) -> tuple[Floats, Floats]:
    """Per mode and step: energy cost of a full step, and the capacity charge of holding it."""
    kw = np.array([m.kw[c] for m in table.modes])
    gpus = np.array([m.gpus for m in table.modes], dtype=np.float64)
    ok = np.isfinite(kw) & (gpus <= problem.gpus[c])
    kw = np.where(ok, kw, np.inf)
    energy = kw[:, None] * problem.step_h * problem.cost[c][None, :]
    charge = gpus[:, None] * lg[c][None, :] + np.where(ok, kw, 0.0)[:, None] * lk[c][None, :]
    return energy, charge


def _price_contiguous(
    problem: Problem, table: JobTable, lg: Floats, lk: Floats
) -> tuple[float, list[Placement]]:
    """The exact cheapest contiguous schedule with capacity charged at the prices (its value is
    the job's term of the Lagrangian bound), and the best schedule on each cluster as columns."""
    best_value = math.inf
    per_cluster: list[tuple[float, Placement]] = []
    fixed = table.release if table.priority is Priority.CRITICAL else None
    if table.running_on is not None:
        fixed = 0
    for c in np.nonzero(table.allowed)[0]:
        energy, charge = _step_costs(problem, table, int(c), lg, lk)
        here: tuple[float, Placement] | None = None
        for m in range(len(table.modes)):
            if fixed is not None and m != 0:
                break
            if not np.isfinite(energy[m]).all():
                continue
            span = window(problem, table, m, fixed)
            length, whole, last, lo, hi = span.length, span.whole, span.last, span.lo, span.hi
            if hi < lo:
                continue
            starts = np.arange(lo, hi + 1)
            e = np.concatenate([[0.0], np.cumsum(energy[m])])
            k = np.concatenate([[0.0], np.cumsum(charge[m])])
            value = (
                e[starts + whole - 1]
                - e[starts]
                + last * energy[m][starts + whole - 1]
                + k[starts + whole]
                - k[starts]
            )
            i = int(np.argmin(value))
            if here is None or value[i] < here[0]:
                placement = contiguous(problem, table, int(c), m, int(starts[i]), length)
                here = (float(value[i]), placement)
        if here is not None:
            per_cluster.append(here)
            best_value = min(best_value, here[0])
    per_cluster.sort(key=lambda x: x[0])
    return best_value, [p for _, p in per_cluster[:PER_CLUSTER_COLUMNS]]


def _price_slots(
    problem: Problem, table: JobTable, lg: Floats, lk: Floats
) -> tuple[float, list[Placement]]:
    """A lower bound on the job's best charged cost, and good slot schedules (one per cluster
    and mode) to add as columns."""
    lo, hi = table.release, table.deadline
    bound = math.inf
    found: list[tuple[float, tuple[int, int, npt.NDArray[np.int64]]]] = []
    for c in np.nonzero(table.allowed)[0]:
        energy, charge = _step_costs(problem, table, int(c), lg, lk)
        full = (energy + charge)[:, lo:hi]  # [M, W]
        rates = np.array([m.rate for m in table.modes])
        per_work = full / (rates[:, None] * problem.step_s)
        # Relaxation: each step at its best cost per unit of work, up to the fastest rate.
        best_per_work = per_work.min(axis=0)
        r_max = float(rates[np.isfinite(full).all(axis=1)].max(initial=0.0))
        if r_max > 0:
            order = np.sort(best_per_work)
            per_step = r_max * problem.step_s
            n = table.work_s / per_step
            whole = int(n)
            if n <= len(order) + 1e-9 and np.isfinite(order[: math.ceil(n - 1e-9)]).all():
                part = (n - whole) * order[whole] if whole < len(order) else 0.0
                bound = min(bound, float((order[:whole].sum() + part) * per_step))
        # Columns: for each mode alone, the cheapest steps, with overheads.
        for m in range(len(table.modes)):
            if not np.isfinite(full[m]).all():
                continue
            per_step_work = rates[m] * problem.step_s
            ranked = lo + np.argsort(full[m], kind="stable")
            usable = int(np.isfinite(full[m]).sum())
            chosen = cheapest_steps(table, ranked, usable, per_step_work)
            if chosen is None:
                continue
            # Rank by the whole steps' charged cost; only the best few are tidied below.
            found.append((float(full[m][chosen - lo].sum()), (int(c), m, chosen)))
    found.sort(key=lambda x: x[0])
    out: list[Placement] = []
    for _, (cluster, m, steps) in found[:2]:
        frac = np.zeros(problem.steps)
        modes = np.full(problem.steps, -1, dtype=np.int64)
        frac[steps] = 1.0
        modes[steps] = m
        placement = Placement(table.index, cluster, frac, modes)
        tidy(problem, table, placement)
        if work_done(problem, table, placement) >= table.work_s - 1e-3:
            out.append(placement)
    return bound, out


def _better(
    problem: Problem, a: dict[int, Placement], b: dict[int, Placement]
) -> dict[int, Placement]:
    return dict(a) if plan_loss(problem, a) <= plan_loss(problem, b) else dict(b)


def _round(problem: Problem, columns: list[list[Column]], z: Floats) -> dict[int, Placement]:
    """An integer plan from LP values: most-used schedules first, as long as they fit."""
    cap = Capacity(problem)
    offsets = np.cumsum([0] + [len(c) for c in columns])
    weight = [float(z[offsets[j] : offsets[j + 1]].max(initial=0.0)) for j in range(len(columns))]
    order = sorted(
        range(len(columns)), key=lambda j: (-problem.jobs[j].priority.rank, -weight[j], j)
    )
    out: dict[int, Placement] = {}
    for j in order:
        table = problem.jobs[j]
        ranked = sorted(range(len(columns[j])), key=lambda i: -float(z[offsets[j] + i]))
        chosen = None
        for i in ranked:
            p = columns[j][i].placement
            g, k = usage(problem, table, p)
            c = p.cluster
            if np.all(cap.gpus[c] >= g - 1e-9) and np.all(cap.kw[c] >= k - 1e-9):
                chosen = p
                break
        if chosen is None:
            chosen = place(problem, table, cap)
        if chosen is not None:
            cap.book(table, chosen)
            out[j] = chosen
    return out


def solve_colgen(
    problem: Problem, warm: dict[int, Placement], penalties: Floats
) -> tuple[dict[int, Placement], list[int], float, str]:
    started = time.perf_counter()
    budget = problem.options.time_limit_s
    J = len(problem.jobs)
    columns: list[list[Column]] = [[] for _ in range(J)]
    keys: list[set[tuple[Any, ...]]] = [set() for _ in range(J)]

    master = MasterLP(problem, penalties)
    order: list[tuple[int, int]] = []  # (job, index in columns[job]) in the master's order

    def add(j: int, p: Placement | None) -> bool:
        if p is None:
            return False
        col = column_of(problem, problem.jobs[j], p)
        if col.key in keys[j]:
            return False
        keys[j].add(col.key)
        columns[j].append(col)
        master.add(j, col)
        order.append((j, len(columns[j]) - 1))
        return True

    def lp(time_left: float) -> tuple[Floats, Floats, Floats]:
        """Solve the master LP; column values come back in ``columns`` order."""
        x, lg, lk = master.solve(time_left)
        offsets = np.cumsum([0] + [len(c) for c in columns])
        z = np.zeros(int(offsets[-1]))
        for (j, i), value in zip(order, x, strict=True):
            z[offsets[j] + i] = value
        return z, lg, lk

    for j, p in warm.items():
        add(j, p)
    empty = Capacity(problem)
    for table in problem.jobs:
        add(table.index, place(problem, table, empty))

    C, T = len(problem.clusters), problem.steps
    lg = np.zeros((C, T))
    lk = np.zeros((C, T))
    bound = -math.inf
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007 - reported below
        spent = time.perf_counter() - started
        if spent > PRICING_SHARE * budget:
            break
        _, lg, lk = lp(budget - spent)
        limited = problem.gpus[:, None] < 10**8
        capacity = float(
            np.sum(np.where(limited, lg, 0.0) * np.where(limited, problem.gpus[:, None], 0))
        )
        finite_k = np.isfinite(problem.headroom_kw)
        capacity += float(
            np.sum(np.where(finite_k, lk, 0.0) * np.where(finite_k, problem.headroom_kw, 0.0))
        )
        total = 0.0
        added = 0
        for table in problem.jobs:
            j = table.index
            if table.interruptible:
                best, new = _price_slots(problem, table, lg, lk)
                for p in new:
                    added += add(j, p)
            else:
                best, found = _price_contiguous(problem, table, lg, lk)
                for cand in found:
                    added += add(j, cand)
            total += min(float(penalties[j]), best)
        bound = max(bound, total - capacity)
        if added == 0:
            break
    spent = time.perf_counter() - started
    # Round the final LP: each job takes its most-used schedule that still fits, else the fast
    # solver's best placement against what is left; then the MILP over the columns, started
    # from the better of that and the fast plan, for the rest of the time budget.
    z_lp, _, _ = lp(budget - spent)
    rounded = _round(problem, columns, z_lp)
    missing = [t.index for t in problem.jobs if t.index not in rounded]
    if missing:
        cap = Capacity(problem)
        for j, p in rounded.items():
            cap.book(problem.jobs[j], p)
        repair(problem, cap, rounded, missing)
    if len(problem.jobs) <= EJECT_MAX_JOBS:
        eject(problem, rounded)
    polish(problem, rounded)
    chosen = _better(problem, rounded, warm)
    for j, p in chosen.items():
        add(j, p)
    flat_index = {}
    i = 0
    for j, cols in enumerate(columns):
        for col in cols:
            flat_index[(j, col.key)] = i
            i += 1
    start = [flat_index[(j, column_of(problem, problem.jobs[j], p).key)] for j, p in chosen.items()]
    spent = time.perf_counter() - started
    z, _, _, _, _, status = solve_master(
        problem, columns, penalties, True, max(0.5, budget - spent), start
    )
    placements: dict[int, Placement] = {}
    flat = [(j, col) for j, cols in enumerate(columns) for col in cols]
    for (j, col), taken in zip(flat, z, strict=True):
        if taken > 0.5:
            placements[j] = col.placement
    placements = _better(problem, placements, chosen)
    failed = [j for j in range(J) if j not in placements]
    note = (
        f"column generation: {sum(len(c) for c in columns)} schedules, {iterations} pricing "
        f"round(s); master MILP {status}"
    )
    # With jobs left out, the Lagrangian bound mixes in their penalties: not reported then.
    return placements, failed, (bound if not failed else -math.inf), note
