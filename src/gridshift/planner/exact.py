"""The exact solver: a mixed-integer program solved by HiGHS (``highspy``), with a time limit.

Model (same semantics as the fast solver: a job holds its GPUs for every step it touches, and
only its last step may be a part-step):

- non-interruptible job: one binary per *pattern* (cluster, mode, start): it runs contiguously
  from the start for work / rate seconds. Starts kept per (cluster, mode): the cheapest
  ``patterns_per_cluster`` ones, the earliest one and the previous plan's one.
- interruptible job: a binary ``w[c, t, m]`` per allowed cluster, usable step and mode (the job
  runs step t on cluster c in mode m), at most one per step; ``y[c]`` binaries pick one cluster;
  continuous ``s[t] >= run[t] - run[t-1]`` count starts, and each resume costs its checkpoint
  overhead in work: ``sum(w * rate * step) - overhead * (sum(s) - 1) >= work``.
- capacity per cluster and step: GPUs, and site kW above the idle draw.
- every job may stay unplanned (``u``) at a penalty far above any energy cost, weighted by
  priority, so scarcity drops the lowest priority first and never makes the model infeasible.

The objective is the energy cost in the objective's units (with the switching-cost discount for
a job's previous plan). HiGHS reports the incumbent, its dual bound and the MIP gap; the bound is
what ``Plan.lower_bound`` carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gridshift.domain import InternalError, Priority
from gridshift.planner.highs import quiet_highs
from gridshift.planner.model import JobTable, Problem
from gridshift.planner.schedule import Placement, plan_loss, tidy

_PRIORITY_WEIGHT = {
    Priority.LOW: 1.0,
    Priority.NORMAL: 4.0,
    Priority.HIGH: 16.0,
    Priority.CRITICAL: 64.0,
}


@dataclass
class _Builder:
    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    col_rows: list[np.ndarray] = field(default_factory=list)
    col_vals: list[np.ndarray] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)

    def row(self, lo: float, hi: float) -> int:
        self.row_lower.append(lo)
        self.row_upper.append(hi)
        return len(self.row_lower) - 1

    def col(
        self,
        cost: float,
        rows: list[int] | np.ndarray,
        vals: list[float] | np.ndarray,
        *,
        lo: float = 0.0,
        hi: float = 1.0,
        integer: bool = False,
    ) -> int:
        self.cost.append(cost)
        self.lower.append(lo)
        self.upper.append(hi)
        self.integer.append(integer)
        self.col_rows.append(np.asarray(rows, dtype=np.int32))
        self.col_vals.append(np.asarray(vals, dtype=np.float64))
        return len(self.cost) - 1


@dataclass
class _Pattern:
    job: int
    cluster: int
    mode: int
    start: int
    length: float


@dataclass
class _Slot:
    job: int
    cluster: int
    step: int
    mode: int


def full_model_size(problem: Problem) -> int:
    """How many binaries the full MILP would have."""
    size = 0
    for table in problem.jobs:
        clusters = int(table.allowed.sum())
        window = max(0, table.deadline - table.release)
        if table.interruptible:
            size += clusters * window * len(table.modes)
        else:
            size += clusters * len(table.modes) * (problem.options.patterns_per_cluster + 2)
    return size


def _penalty(problem: Problem, table: JobTable, big: float) -> float:
    """The cost of leaving a job out: by priority, and among equals a little more for an
    earlier deadline, so that scarcity drops what the fast solver's order would drop."""
    urgency = 1.0 + 1e-3 * (problem.steps - table.deadline) / max(problem.steps, 1)
    return big * _PRIORITY_WEIGHT[table.priority] * urgency


def _standalone_scale(problem: Problem) -> float:
    """A cost larger than any job's energy cost, for the penalty of leaving a job unplanned."""
    worst = 0.0
    for table in problem.jobs:
        kw = max(
            (float(np.nanmax(m.kw)) for m in table.modes if np.isfinite(m.kw).any()), default=0.0
        )
        hours = table.work_s / 3600 / min(m.rate for m in table.modes) + 24
        worst = max(worst, kw * hours * float(np.max(np.abs(problem.cost))))
    return 10.0 * worst + 1.0


def solve_exact(
    problem: Problem, warm: dict[int, Placement] | None = None
) -> tuple[dict[int, Placement], list[int], float, str]:
    """Solve the MILP; ``warm`` (the fast solver's plan) is handed to HiGHS as its first
    incumbent, and is returned as it is if HiGHS finds nothing better within the time limit."""
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is a dependency
        raise InternalError("the exact solver needs highspy: pip install highspy") from None

    T, C = problem.steps, len(problem.clusters)
    opts = problem.options
    big = _standalone_scale(problem)
    if full_model_size(problem) > opts.full_model_limit:
        from gridshift.planner.large import solve_large

        penalties = np.array([_penalty(problem, t, big) for t in problem.jobs])
        return solve_large(problem, warm or {}, penalties)
    b = _Builder()
    # Shared rows: GPU and kW capacity per (cluster, step).
    gpu_row = np.full((C, T), -1, dtype=np.int64)
    kw_row = np.full((C, T), -1, dtype=np.int64)
    for c in range(C):
        if problem.clusters[c].gpus is not None:
            for t in range(T):
                gpu_row[c, t] = b.row(-np.inf, float(problem.gpus[c]))
        for t in range(T):
            if np.isfinite(problem.headroom_kw[c, t]):
                kw_row[c, t] = b.row(-np.inf, float(problem.headroom_kw[c, t]))

    patterns: dict[int, _Pattern] = {}
    slots: dict[int, _Slot] = {}
    cluster_cols: dict[int, tuple[int, int]] = {}
    unplanned: dict[int, int] = {}
    start_cols: dict[tuple[int, int], int] = {}
    shares: dict[int, int] = {}
    warm = warm or {}
    pruned = False
    for table in problem.jobs:
        penalty = _penalty(problem, table, big)
        if table.interruptible:
            _add_interruptible(
                problem,
                table,
                b,
                gpu_row,
                kw_row,
                slots,
                cluster_cols,
                unplanned,
                penalty,
                start_cols,
                shares,
            )
        else:
            pruned |= _add_contiguous(
                problem,
                table,
                b,
                gpu_row,
                kw_row,
                patterns,
                unplanned,
                penalty,
                warm.get(table.index),
            )

    # Hand the model to HiGHS, column-wise.
    n_col, n_row = len(b.cost), len(b.row_lower)
    lengths = np.array([len(r) for r in b.col_rows], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    index = np.concatenate(b.col_rows) if n_col else np.empty(0, dtype=np.int32)
    value = np.concatenate(b.col_vals) if n_col else np.empty(0)
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    lp.col_cost_ = np.asarray(b.cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(b.lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(b.upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(b.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(b.row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = value
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in b.integer
    ]
    h = quiet_highs()
    h.setOptionValue("time_limit", float(opts.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(opts.mip_rel_gap))
    if opts.mip_max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(opts.mip_max_nodes))
    h.setOptionValue("random_seed", int(opts.seed))
    # No MIP start: with one, HiGHS 1.16 was seen to declare a wrong optimum and keep the start.
    # The fast plan is compared afterwards instead, and the better one is returned.
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if info.primal_solution_status != 2:  # no feasible solution (kSolutionStatusFeasible = 2)
        if warm:
            failed = [t.index for t in problem.jobs if t.index not in warm]
            return dict(warm), failed, -np.inf, f"HiGHS: {status}; the fast plan stands"
        raise InternalError(f"HiGHS found no solution ({status})")
    x = np.asarray(h.getSolution().col_value)
    dual_bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else -np.inf
    note = f"HiGHS: {status}, MIP gap {100 * info.mip_gap:.2f} %"

    placements: dict[int, Placement] = {}
    for col, pat in patterns.items():
        if x[col] > 0.5:
            table = problem.jobs[pat.job]
            frac = np.zeros(T)
            mode = np.full(T, -1, dtype=np.int64)
            whole = math.ceil(pat.length - 1e-9)
            frac[pat.start : pat.start + whole] = 1.0
            frac[pat.start + whole - 1] = pat.length - (whole - 1)
            mode[pat.start : pat.start + whole] = pat.mode
            placements[pat.job] = Placement(pat.job, pat.cluster, frac, mode)
    chosen: dict[int, int] = {}
    for j, (col_base, count) in cluster_cols.items():
        values = x[col_base : col_base + count]
        chosen[j] = int(np.argmax(values))
    cells: dict[int, list[tuple[int, _Slot]]] = {}
    for col, slot in slots.items():
        if x[col] > 0.5 and x[unplanned[slot.job]] < 0.5:
            cells.setdefault(slot.job, []).append((col, slot))
    for j, taken in cells.items():
        table = problem.jobs[j]
        clusters = {cell.cluster for _, cell in taken}
        c = clusters.pop() if len(clusters) == 1 else chosen.get(j, min(clusters))
        frac = np.zeros(T)
        mode = np.full(T, -1, dtype=np.int64)
        for col, cell in taken:
            if cell.cluster == c:
                frac[cell.step] = min(1.0, max(float(x[shares[col]]), 1e-6))
                mode[cell.step] = cell.mode
        placement = Placement(j, c, frac, mode)
        tidy(problem, table, placement)
        placements[j] = placement
    from gridshift.planner.repair import polish

    polish(problem, placements)
    if warm and plan_loss(problem, warm) < plan_loss(problem, placements):
        placements = dict(warm)
        note += "; the fast plan was better and stands"
    failed = [t.index for t in problem.jobs if t.index not in placements]
    # The dual bound includes the penalty of unplanned jobs; take it out.
    paid = float(sum(float(x[col]) * b.cost[col] for col in unplanned.values()))
    bound = float(dual_bound - paid if failed else dual_bound)
    if pruned:
        # Only the cheapest starts of some contiguous jobs were in the model: its bound holds
        # for that restriction, not for the whole problem, so it is not reported.
        bound = -math.inf
        note += "; some start times pruned, so the MILP bound is not a bound of the whole problem"
    return placements, failed, bound, note


def _add_contiguous(
    problem: Problem,
    table: JobTable,
    b: _Builder,
    gpu_row: np.ndarray,
    kw_row: np.ndarray,
    patterns: dict[int, _Pattern],
    unplanned: dict[int, int],
    penalty: float,
    hint: Placement | None = None,
) -> bool:
    """Add the job's start patterns; True when some starts were left out (pruned)."""
    T = problem.steps
    opts = problem.options
    pruned = False
    assign = b.row(1.0, 1.0)
    fixed = None
    if table.priority is Priority.CRITICAL:
        fixed = table.release
    elif table.running_on is not None:
        fixed = 0
    for c in (int(i) for i in np.nonzero(table.allowed)[0]):
        csum = np.concatenate([[0.0], np.cumsum(problem.cost[c])])
        for m, mode in enumerate(table.modes):
            if fixed is not None and m != 0:
                break
            kw = float(mode.kw[c])
            if not np.isfinite(kw) or mode.gpus > problem.gpus[c]:
                continue
            length = table.work_s / (mode.rate * problem.step_s)
            whole = math.ceil(length - 1e-9)
            last = length - (whole - 1)
            lo = table.release if fixed is None else fixed
            hi = math.floor(table.deadline - length + 1e-9)
            if fixed is not None:
                hi = fixed if fixed + length <= min(T, table.deadline) + 1e-9 else -1
            if hi < lo or whole == 0:
                continue
            starts = np.arange(lo, hi + 1)
            sums = (
                csum[starts + whole - 1] - csum[starts] + last * problem.cost[c, starts + whole - 1]
            )
            value = sums * kw * problem.step_h
            keep = set(np.argsort(value, kind="stable")[: opts.patterns_per_cluster].tolist())
            pruned |= len(value) > len(keep)
            keep.add(0)
            if hint is not None and hint.cluster == c and hint.active().any():
                first = int(np.nonzero(hint.active())[0][0])
                if int(hint.mode[first]) == m and lo <= first <= hi:
                    keep.add(first - lo)
            if table.previous_start is not None and lo <= table.previous_start <= hi:
                keep.add(table.previous_start - lo)
            for i in sorted(keep):
                s = int(starts[i])
                steps = np.arange(s, s + whole)
                rows = [assign]
                vals = [1.0]
                g = gpu_row[c, steps]
                rows += g[g >= 0].tolist()
                vals += [float(mode.gpus)] * int((g >= 0).sum())
                k = kw_row[c, steps]
                rows += k[k >= 0].tolist()
                vals += [kw] * int((k >= 0).sum())
                cost = float(value[i])
                if table.previous_start == s:
                    cost *= 1 - opts.switching_cost_pct / 100
                col = b.col(cost + 1e-9 * s, rows, vals, integer=True)
                patterns[col] = _Pattern(table.index, int(c), m, s, length)
    unplanned[table.index] = b.col(penalty, [assign], [1.0])
    return pruned


def _add_interruptible(
    problem: Problem,
    table: JobTable,
    b: _Builder,
    gpu_row: np.ndarray,
    kw_row: np.ndarray,
    slots: dict[int, _Slot],
    cluster_cols: dict[int, tuple[int, int]],
    unplanned: dict[int, int],
    penalty: float,
    start_cols: dict[tuple[int, int], int],
    shares: dict[int, int],
) -> None:
    """Binary ``w[c, t, m]`` (runs on c in step t in mode m); ``run[t] = sum_{c,m} w <= 1``;
    starts ``s[t]`` tied to the runs by ``s[t] >= run[t] - run[t-1]``, ``s[t] <= run[t]`` and
    ``s[t] + run[t-1] <= 1`` (tight for binary runs); ``w[c, ., .] <= y[c]`` for one cluster;
    a continuous share ``q <= w`` does the work and pays the energy, and may be below 1 only at
    the end of a run; a binary ``u`` leaves the job out whole (never part of it)."""
    opts = problem.options
    steps = list(range(table.release, table.deadline))
    overhead_work = table.overhead_work_s
    started = table.running_on is not None
    running = 1.0 if started and not table.paused else 0.0  # running now: step 0 is no start
    # work: sum(w*rate*step) - overhead_work*sum(s) + W*u >= W - overhead_work*(first start
    # free: a job not started yet; a running or paused one pays every start as a resume)
    work_row = b.row(table.work_s - overhead_work * (0.0 if started else 1.0), np.inf)
    step_rows = {t: b.row(-np.inf, 1.0) for t in steps}  # run[t] <= 1
    start_lo = {t: b.row(-running if t == 0 else 0.0, np.inf) for t in steps}  # s - run + prev
    start_hi = {t: b.row(0.0, np.inf) for t in steps}  # run[t] - s[t] >= 0
    start_prev = {t: b.row(-np.inf, 1.0 - (running if t == 0 else 0.0)) for t in steps}
    allowed = [int(i) for i in np.nonzero(table.allowed)[0]]
    multi = len(allowed) > 1
    pick: dict[tuple[int, int], int] = {}
    if multi:
        choose_row = b.row(-np.inf, 1.0)
        base = len(b.cost)
        y_rows = {(c, t): b.row(0.0, np.inf) for c in allowed for t in steps}  # y - run_c >= 0
        for c in allowed:
            b.col(
                0.0,
                [choose_row] + [y_rows[(c, t)] for t in steps],
                [1.0] * (1 + len(steps)),
                integer=True,
            )
        cluster_cols[table.index] = (base, len(allowed))
        pick = y_rows
    # A step may be a part-step only at the end of a run: share[t] >= run[t] + run[t+1] - 1.
    end_rows = {t: b.row(-1.0, np.inf) for t in steps}
    for c in allowed:
        for m, mode in enumerate(table.modes):
            kw = float(mode.kw[c])
            if not np.isfinite(kw) or mode.gpus > problem.gpus[c]:
                continue
            for t in steps:
                # The continuous share q <= w does the work and pays for the energy.
                link = b.row(-np.inf, 0.0)  # q - w <= 0
                energy = float(problem.cost[c, t]) * kw * problem.step_h
                if running and t == 0:
                    energy *= 1 - opts.switching_cost_pct / 100
                b.col(energy, [link, work_row, end_rows[t]], [1.0, mode.rate * problem.step_s, 1.0])
                rows = [link, step_rows[t], start_lo[t], start_hi[t], end_rows[t]]
                vals = [-1.0, 1.0, -1.0, 1.0, -1.0]
                if t - 1 in end_rows:
                    rows.append(end_rows[t - 1])
                    vals.append(-1.0)
                if t + 1 in start_lo:
                    rows += [start_lo[t + 1], start_prev[t + 1]]
                    vals += [1.0, 1.0]
                if multi:
                    rows.append(pick[(c, t)])
                    vals.append(-1.0)
                if gpu_row[c, t] >= 0:
                    rows.append(int(gpu_row[c, t]))
                    vals.append(float(mode.gpus))
                if kw_row[c, t] >= 0:
                    rows.append(int(kw_row[c, t]))
                    vals.append(kw)
                col = b.col(1e-9 * t, rows, vals, integer=True)
                slots[col] = _Slot(table.index, c, t, m)
                shares[col] = col - 1  # the q column added just before
    for t in steps:
        start_cols[(table.index, t)] = b.col(
            0.0,
            [start_lo[t], start_hi[t], start_prev[t], work_row],
            [1.0, -1.0, 1.0, -overhead_work],
            hi=1.0,
        )
    unplanned[table.index] = b.col(penalty, [work_row], [table.work_s], integer=True)
