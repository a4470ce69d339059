"""The master problem over a pool of schedules: one schedule per job (or left out at its
penalty) under the GPU and site-kW capacity of every cluster and step (``large`` recombines the
schedules of its plans with it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.planner.highs import quiet_highs
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.schedule import Placement, objective_value

Floats = npt.NDArray[np.float64]


@dataclass
class Column:
    placement: Placement
    cost: float
    key: tuple[Any, ...]


def usage(problem: Problem, table: JobTable, p: Placement) -> tuple[Floats, Floats]:
    """GPUs and kW the placement holds in every step of its cluster."""
    active = p.active()
    gpus = np.zeros(problem.steps)
    kw = np.zeros(problem.steps)
    mode_g = np.array([m.gpus for m in table.modes], dtype=np.float64)
    mode_k = np.array([m.kw[p.cluster] for m in table.modes])
    gpus[active] = mode_g[p.mode[active]]
    kw[active] = mode_k[p.mode[active]]
    return gpus, kw


def column_of(problem: Problem, table: JobTable, p: Placement) -> Column:
    active = p.active()
    key = (p.cluster, tuple(np.nonzero(active)[0].tolist()), tuple(p.mode[active].tolist()))
    return Column(p, objective_value(problem, table, p), key)


def solve_master(
    problem: Problem,
    columns: list[list[Column]],
    penalties: Floats,
    integer: bool,
    time_limit: float,
    start: list[int] | None = None,
    fixed: set[int] | None = None,
) -> tuple[Floats, Floats, Floats, Floats, float, str]:
    """Solve the master (LP or MILP). Returns z values (flat), u, lg, lk, objective, status."""
    import highspy

    T = problem.steps
    C = len(problem.clusters)
    flat = [(j, col) for j, cols in enumerate(columns) for col in cols]
    J = len(columns)
    held = [usage(problem, problem.jobs[j], col.placement) for j, col in flat]
    # Capacity rows only where something could exceed the limit.
    g_total = np.zeros((C, T))
    k_total = np.zeros((C, T))
    for (_, col), (g, k) in zip(flat, held, strict=True):
        g_total[col.placement.cluster] += g
        k_total[col.placement.cluster] += k
    g_rows = np.full((C, T), -1)
    k_rows = np.full((C, T), -1)
    n_rows = J
    for c in range(C):
        for t in range(T):
            if g_total[c, t] > problem.gpus[c]:
                g_rows[c, t] = n_rows
                n_rows += 1
            if k_total[c, t] > problem.headroom_kw[c, t]:
                k_rows[c, t] = n_rows
                n_rows += 1
    starts = [0]
    index: list[int] = []
    value: list[float] = []
    cost: list[float] = []
    for (j, col), (g, k) in zip(flat, held, strict=True):
        c = col.placement.cluster
        rows = [j]
        vals = [1.0]
        steps = np.nonzero(g > 0)[0]
        gr = g_rows[c, steps]
        rows += gr[gr >= 0].tolist()
        vals += g[steps][gr >= 0].tolist()
        kr = k_rows[c, steps]
        rows += kr[kr >= 0].tolist()
        vals += k[steps][kr >= 0].tolist()
        index += rows
        value += vals
        starts.append(len(index))
        cost.append(col.cost)
    for j in range(J):
        index.append(j)
        value.append(1.0)
        starts.append(len(index))
        cost.append(float(penalties[j]))
    row_lower = np.concatenate([np.ones(J), np.full(n_rows - J, -np.inf)])
    row_upper = np.ones(n_rows)
    for c in range(C):
        for t in range(T):
            if g_rows[c, t] >= 0:
                row_upper[g_rows[c, t]] = problem.gpus[c]
            if k_rows[c, t] >= 0:
                row_upper[k_rows[c, t]] = problem.headroom_kw[c, t]
    n_col = len(cost)
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_rows
    lp.col_cost_ = np.asarray(cost)
    lower = np.zeros(n_col)
    for i in fixed or ():
        lower[i] = 1.0
    lp.col_lower_ = lower
    lp.col_upper_ = np.ones(n_col)
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(value, dtype=np.float64)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * len(flat) + [
            highspy.HighsVarType.kContinuous
        ] * J
    h = quiet_highs()
    h.setOptionValue("time_limit", max(0.5, time_limit))
    h.setOptionValue("mip_rel_gap", float(problem.options.mip_rel_gap))
    h.passModel(lp)
    if integer and start is not None:
        # The first column of each job in ``start`` (e.g. the fast plan) as the incumbent.
        x0 = np.zeros(n_col)
        chosen = set(start)
        for i in range(len(flat)):
            if i in chosen:
                x0[i] = 1.0
        for j in range(J):
            if not any(flat[i][0] == j for i in chosen):
                x0[len(flat) + j] = 1.0
        initial = highspy.HighsSolution()
        initial.col_value = x0.tolist()
        initial.value_valid = True
        h.setSolution(initial)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    solution = h.getSolution()
    x = np.asarray(solution.col_value)
    lg = np.zeros((C, T))
    lk = np.zeros((C, T))
    if not integer:
        duals = np.asarray(solution.row_dual)
        for c in range(C):
            for t in range(T):
                if g_rows[c, t] >= 0:
                    lg[c, t] = max(0.0, -duals[g_rows[c, t]])
                if k_rows[c, t] >= 0:
                    lk[c, t] = max(0.0, -duals[k_rows[c, t]])
    objective = float(h.getInfo().objective_function_value)
    return x[: len(flat)], x[len(flat) :], lg, lk, objective, status
