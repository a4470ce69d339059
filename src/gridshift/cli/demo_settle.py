"""The demo's savings, settled by the simulator's one rule (``simulate.settle``) on the actual
signals: what the control plane really ran (its attempts' start and end times on the demo's
clock, at their GPUs) against ``run-now`` (energy-blind first come, first served on the same
capacity, simulated) for the same jobs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gridshift.config.site import SiteConfig
from gridshift.domain import Job
from gridshift.domain.power import NATURAL_DRAW_FRACTION
from gridshift.signals.library import SignalLibrary
from gridshift.simulate.config import Defaults, ForecastSpec, SimConfig
from gridshift.simulate.forecasts import SeriesView
from gridshift.simulate.grid import SimGrid, load_signals
from gridshift.simulate.policies import run_now
from gridshift.simulate.runs import NEVER, Run
from gridshift.simulate.settle import actual_prices, settle
from gridshift.store import AttemptRow

STEP_S = 900
KEYS = ("energy_kwh", "cost_usd", "carbon_kg", "deadline_misses", "jobs_completed")


def _run(job: Job, attempts: Sequence[AttemptRow], site: SiteConfig, grid: SimGrid) -> Run:
    index = {c.name: i for i, c in enumerate(site.clusters)}
    steps: dict[tuple[int, int], tuple[float, float, float]] = {}
    for a in attempts:
        if a.started_at is None or a.ended_at is None:
            continue
        c = index[a.cluster]
        cluster = site.clusters[c]
        watts = job.watts_per_gpu or NATURAL_DRAW_FRACTION * cluster.gpu_power.max_w
        kw = a.gpus * watts * cluster.pue / 1000.0
        start, end = grid.step_of(a.started_at), grid.step_of(a.ended_at)
        for k in range(max(0, math.floor(start)), min(grid.steps, math.ceil(end))):
            share = min(end, k + 1) - max(start, k)
            if share > 1e-9:
                old = steps.get((k, c), (0.0, kw, float(a.gpus)))
                steps[(k, c)] = (old[0] + share, kw, float(a.gpus))
    if not steps:
        return NEVER
    keys = sorted(steps)
    where = np.array([c for _, c in keys], dtype=np.int64)
    return Run(
        int(where[0]),
        np.array([k for k, _ in keys], dtype=np.int64),
        np.array([min(1.0, steps[key][0]) for key in keys]),
        np.array([steps[key][1] for key in keys]),
        np.array([steps[key][2] for key in keys]),
        where if (where != where[0]).any() else None,
    )


def settle_demo(
    site: SiteConfig,
    jobs: Sequence[Job],
    attempts: Sequence[AttemptRow],
    start: datetime,
    library: SignalLibrary,
) -> dict[str, Any]:
    latest = max([j.deadline for j in jobs] + [a.ended_at for a in attempts if a.ended_at])
    t0 = start - timedelta(seconds=start.timestamp() % STEP_S)
    steps = math.ceil((latest - t0).total_seconds() / STEP_S) + 96  # a day to drain run-now
    grid = SimGrid(t0, STEP_S, steps)
    config = SimConfig(
        site=site,
        start=t0,
        end=grid.end,
        step_s=STEP_S,
        workload=Path("demo"),
        workload_format="demo",
        workload_offset_s=0.0,
        defaults=Defaults(),
        forecast=ForecastSpec(),
        policies=("run-now",),
        replan_s=STEP_S,
        horizon_s=48 * 3600,
        seed=0,
        source="gridshift demo",
    )
    signals = load_signals(config, grid, library)
    prices = actual_prices(list(site.clusters), signals)
    by_job: dict[str, list[AttemptRow]] = {}
    for a in attempts:
        by_job.setdefault(a.job_id, []).append(a)
    ran = [_run(j, by_job.get(j.id, []), site, grid) for j in jobs]
    ours, _ = settle(list(jobs), ran, list(site.clusters), signals, prices, site.objective)
    now_runs = run_now(config, signals, SeriesView(signals.actual), list(jobs))
    base, _ = settle(list(jobs), now_runs, list(site.clusters), signals, prices, site.objective)

    def pct(key: str) -> float:
        return 100.0 * (base[key] - ours[key]) / base[key] if base[key] else 0.0

    return {
        "gridshift": {k: ours[k] for k in KEYS},
        "run_now": {k: base[k] for k in KEYS},
        "savings_pct": {k: pct(k) for k in ("energy_kwh", "cost_usd", "carbon_kg")},
        "signals": "average carbon intensity (direct) and wholesale prices, actual values",
        "period": {"start": t0.isoformat(), "end": latest.isoformat()},
    }
