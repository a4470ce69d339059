"""The numbers behind every planned job, for all jobs at once: outcome, run-now counterfactual,
signal means over each run, runs and resumes, the modes used, and the segments.

A plan of 10,000 jobs needs them in one compiled pass over the stacked placements. The
definitions: energy per step = share of the step x facility kW of its mode x step
hours; the run-now counterfactual is the job alone on its planned cluster from its release at
the requested GPUs uncapped, contiguous, cut at the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.planner.flat import arrays_of
from gridshift.planner.kernels import EPS, jit
from gridshift.planner.model import PAUSED, RUNNING, Problem
from gridshift.planner.schedule import Placement

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# Columns of ``Summary.numbers``.
ENERGY, USD, KG, VALUE, NOW_ENERGY, NOW_USD, NOW_KG = range(7)
CARBON, PRICE, NOW_CARBON, NOW_PRICE, FINISH = range(7, 12)
# Columns of ``Summary.counts``.
FIRST, RUNS, RESUMES, MODES, SEG_FROM, SEG_TO = range(6)


@dataclass(frozen=True)
class Summary:
    """Per placed job (rows in the order of ``jobs``) and its segments."""

    jobs: Ints  # [P] job indices
    clusters: Ints  # [P]
    numbers: Floats  # [P, 12] the float columns above
    counts: Ints  # [P, 6] the int columns above (MODES: a bit per mode used)
    seg_start: Ints  # [S] first step of each segment
    seg_end: Floats  # [S] (fractional) end step
    seg_mode: Ints  # [S]
    allowed: Ints  # [P] how many clusters the job may use
    cheapest: npt.NDArray[np.bool_]  # [P] its cluster has the least mean cost over its window
    texts: dict[tuple[int, ...], object] = field(default_factory=dict)  # explain's word cache
    # The same figures as Python numbers (formatting numpy scalars costs ten times more).
    number_rows: list[list[float]] = field(default_factory=list)
    count_rows: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.number_rows.extend(self.numbers.tolist())
        self.count_rows.extend(self.counts.tolist())


@jit
def _summarise(
    jobs: Any,
    clusters: Any,
    frac: Any,
    mode: Any,
    release: Any,
    work: Any,
    rate: Any,
    kw: Any,
    running: Any,
    usd: Any,
    kg: Any,
    carbon: Any,
    cost: Any,
    step_s: float,
    step_h: float,
) -> Any:
    P, T = frac.shape
    numbers = np.zeros((P, 12))
    counts = np.zeros((P, 6), dtype=np.int64)
    seg_start = np.empty(P * T, dtype=np.int64)
    seg_end = np.empty(P * T)
    seg_mode = np.empty(P * T, dtype=np.int64)
    n_seg = 0
    for p in range(P):
        j = jobs[p]
        c = clusters[p]
        energy = usd_sum = kg_sum = value = 0.0
        w_carbon = w_price = w_total = 0.0
        first = -1
        last = -1
        runs = 0
        mask = 0
        counts[p, SEG_FROM] = n_seg
        prev_on = False
        prev_mode = -2
        for t in range(T):
            on = frac[p, t] > EPS
            if on:
                m = mode[p, t]
                e = frac[p, t] * kw[j, m, c] * step_h
                energy += e
                usd_sum += e * usd[c, t]
                kg_sum += e * kg[c, t]
                value += e * cost[c, t]
                w_carbon += frac[p, t] * carbon[c, t]
                w_price += frac[p, t] * usd[c, t] * 1000.0
                w_total += frac[p, t]
                mask |= 1 << m
                if first < 0:
                    first = t
                last = t
                if not prev_on:
                    runs += 1
                if not prev_on or m != prev_mode:
                    seg_start[n_seg] = t
                    seg_mode[n_seg] = m
                    n_seg += 1
                seg_end[n_seg - 1] = t + frac[p, t]
                prev_mode = m
            else:
                prev_mode = -2
            prev_on = on
        counts[p, SEG_TO] = n_seg
        counts[p, FIRST] = first
        counts[p, RUNS] = runs
        restarts = max(0, runs - 1) + (1 if running[j] == RUNNING and first > 0 else 0)
        restarts += 1 if running[j] == PAUSED else 0
        counts[p, RESUMES] = restarts if runs > 0 else 0
        counts[p, MODES] = mask
        numbers[p, ENERGY] = energy
        numbers[p, USD] = usd_sum
        numbers[p, KG] = kg_sum
        numbers[p, VALUE] = value
        numbers[p, CARBON] = w_carbon / w_total if w_total > 0 else np.nan
        numbers[p, PRICE] = w_price / w_total if w_total > 0 else np.nan
        numbers[p, FINISH] = last + frac[p, last] if last >= 0 else 0.0
        # The run-now counterfactual: contiguous from release in mode 0, cut at the horizon.
        length = work[j] / (rate[j, 0] * step_s)
        whole = math.ceil(length - 1e-9)
        s = release[j]
        kw0 = kw[j, 0, c]
        n_energy = n_usd = n_kg = 0.0
        n_carbon = n_price = n_total = 0.0
        for t in range(s, min(T, s + whole)):
            share = length - (whole - 1) if t == s + whole - 1 else 1.0
            e = share * kw0 * step_h
            n_energy += e
            n_usd += e * usd[c, t]
            n_kg += e * kg[c, t]
            n_carbon += share * carbon[c, t]
            n_price += share * usd[c, t] * 1000.0
            n_total += share
        numbers[p, NOW_ENERGY] = n_energy
        numbers[p, NOW_USD] = n_usd
        numbers[p, NOW_KG] = n_kg
        numbers[p, NOW_CARBON] = n_carbon / n_total if n_total > 0 else np.nan
        numbers[p, NOW_PRICE] = n_price / n_total if n_total > 0 else np.nan
    return (
        numbers,
        counts,
        seg_start[:n_seg].copy(),
        seg_end[:n_seg].copy(),
        seg_mode[:n_seg].copy(),
    )


def summarise(problem: Problem, placements: dict[int, Placement]) -> Summary:
    """The figures of every placement, in job order."""
    a = arrays_of(problem)
    jobs = np.array(sorted(placements), dtype=np.int64)
    T = problem.steps
    P = len(jobs)
    clusters = np.array([placements[j].cluster for j in jobs], dtype=np.int64)
    frac = np.zeros((P, T))
    mode = np.full((P, T), -1, dtype=np.int16)  # mode indices are small: an eighth of the copy
    for p, j in enumerate(jobs.tolist()):
        frac[p] = placements[j].frac
        mode[p] = placements[j].mode
    numbers, counts, seg_start, seg_end, seg_mode = _summarise(
        jobs,
        clusters,
        frac,
        mode,
        a.release,
        a.work,
        a.rate,
        a.kw,
        a.running,
        problem.usd_per_kwh,
        problem.kg_per_kwh,
        problem.carbon_g_per_kwh,
        problem.cost,
        float(problem.step_s),
        problem.step_h,
    )
    lo = a.release[jobs]
    hi = np.minimum(T, np.maximum(lo + 1, a.deadline[jobs]))
    prefix = problem.cost_prefix
    # Mean objective per kWh over each job's window, per cluster.
    window_cost = (prefix[:, hi] - prefix[:, lo]).T / np.maximum(hi - lo, 1)[:, None]
    allowed = a.allowed[jobs]
    least = np.where(allowed, window_cost, np.inf).min(axis=1) if P else np.zeros(0)
    cheapest = window_cost[np.arange(P), clusters] <= least + 1e-12
    return Summary(
        jobs,
        clusters,
        numbers,
        counts,
        seg_start,
        seg_end,
        seg_mode,
        allowed.sum(axis=1).astype(np.int64),
        np.asarray(cheapest, dtype=np.bool_),
    )
