"""Reproducible planning instances built from the bundled real signals (seeded).

Clusters cycle over the bundled zones that have both carbon and price data; the start time is a
seeded hour of 2022; jobs follow simple distributions loosely shaped like GPU cluster traces
(durations log-normal with a median of 3 h, mostly 1-8 GPUs, 40 % interruptible, 15 % elastic,
a few high-priority and critical ones, 30 % restricted to one to three zones). Releases spread
over the horizon and every deadline falls inside it. Cluster sizes are set so that the work would
fill ``load`` (default 50 %) of the GPU-hours of the horizon: capacity binds at times, as in a
real fleet, but every job fits somewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from gridshift.domain import (
    Cluster,
    Elastic,
    Forecast,
    GpuPowerProfile,
    Interruptible,
    Job,
    Objective,
    Priority,
    SignalKind,
    Tariff,
    TariffKind,
)
from gridshift.forecasting.perfect import perfect_forecast
from gridshift.signals.library import SignalLibrary

ZONES = (
    "DE-LU",
    "US-TEX-ERCO",
    "CA-ON",
    "AU-NSW",
    "JP-TK",
    "US-CAL-CISO",
    "SG",
    "US-MIDA-PJM",
    "US-NY-NYIS",
)


@dataclass
class Instance:
    jobs: list[Job]
    clusters: list[Cluster]
    forecasts: dict[tuple[str, SignalKind], Forecast]
    objective: Objective
    now: datetime
    step_s: int
    horizon_s: int


def build_instance(
    n_jobs: int,
    n_clusters: int,
    horizon_s: int,
    step_s: int,
    seed: int = 0,
    library: SignalLibrary | None = None,
    load: float = 0.5,
) -> Instance:
    rng = np.random.default_rng(seed)
    lib = library or SignalLibrary(_nowhere())
    now = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(hours=int(rng.integers(0, 364 * 24 - 200)))
    zones = [ZONES[i % len(ZONES)] for i in range(n_clusters)]
    forecasts: dict[tuple[str, SignalKind], Forecast] = {}
    for zone in set(zones):
        for kind in (SignalKind.CARBON, SignalKind.PRICE):
            forecasts[(zone, kind)] = perfect_forecast(lib.load(zone, kind), now, step_s, horizon_s)

    horizon_h = horizon_s / 3600
    jobs: list[Job] = []
    gpu_hours = 0.0
    for i in range(n_jobs):
        duration_h = float(np.clip(rng.lognormal(math.log(3.0), 0.8), 0.25, horizon_h / 3))
        gpus = int(rng.choice([1, 2, 4, 8, 16], p=[0.25, 0.2, 0.25, 0.25, 0.05]))
        slack_h = float(rng.uniform(0.2, 2.5)) * duration_h + 1.0
        window_h = min(horizon_h, duration_h + slack_h)
        release_h = float(rng.uniform(0, horizon_h - window_h))
        deadline_h = release_h + window_h
        roll = rng.random()
        priority = (
            Priority.CRITICAL
            if roll < 0.01
            else Priority.HIGH
            if roll < 0.06
            else Priority.LOW
            if roll > 0.9
            else Priority.NORMAL
        )
        interruptible = Interruptible(300.0) if rng.random() < 0.4 else None
        elastic = None
        if rng.random() < 0.15 and gpus >= 2:
            elastic = Elastic(max(1, gpus // 2), gpus * 2)
        placement: tuple[str, ...] = ()
        if rng.random() < 0.3:
            k = int(rng.integers(1, 4))
            placement = tuple(sorted(set(rng.choice(sorted(set(zones)), size=k).tolist())))
        release = now + timedelta(hours=release_h)
        jobs.append(
            Job(
                id=f"job-{i:05d}",
                name=f"job-{i:05d}",
                gpus=gpus,
                duration_s=duration_h * 3600,
                submitted_at=release if priority is Priority.CRITICAL else now,
                earliest_start=None if priority is Priority.CRITICAL else release,
                deadline=now + timedelta(hours=deadline_h),
                priority=priority,
                interruptible=interruptible,
                elastic=elastic,
                zones=placement,
            )
        )
        gpu_hours += gpus * duration_h
    per_cluster = max(16, math.ceil(gpu_hours / (load * horizon_h) / n_clusters / 8) * 8)
    clusters = [
        Cluster(
            name=f"c{c:02d}-{zone.lower()}",
            zone=zone,
            executor="fake",
            gpus=per_cluster,
            gpu_type="H100",
            gpu_power=GpuPowerProfile(78.8, 700.0),
            pue=float(rng.uniform(1.1, 1.5)),
            tariff=Tariff(TariffKind.WHOLESALE, adder_usd_per_mwh=float(rng.uniform(10, 40))),
        )
        for c, zone in enumerate(zones)
    ]
    return Instance(jobs, clusters, forecasts, Objective(), now, step_s, horizon_s)


def warm_up(library: SignalLibrary | None = None) -> None:
    """Load the planner's compiled kernels (or compile them, on a fresh install) by planning a
    small instance, so that a benchmark times the planner and not the loading."""
    from gridshift.planner import PlannerOptions
    from gridshift.planner.core import solve
    from gridshift.planner.greedy import Capacity, place, window_place
    from gridshift.planner.model import build_problem
    from gridshift.planner.schedule import tidy

    small = build_instance(40, 2, 12 * 3600, 900, seed=1, library=library)
    options = PlannerOptions(step_s=small.step_s, horizon_s=small.horizon_s)
    problem = build_problem(
        small.jobs, small.clusters, small.forecasts, small.objective, small.now, options
    )
    solve(problem, "fast")
    empty = Capacity(problem)
    for table in problem.jobs[:2]:
        placement = place(problem, table, empty)
        window_place(problem, table, empty)
        if placement is not None:  # as the exact solver tidies its placements
            tidy(problem, table, placement)
    tiny = build_instance(6, 2, 6 * 3600, 3600, seed=2, library=library)
    options = PlannerOptions(step_s=tiny.step_s, horizon_s=tiny.horizon_s, time_limit_s=2.0)
    exact = build_problem(
        tiny.jobs, tiny.clusters, tiny.forecasts, tiny.objective, tiny.now, options
    )
    solve(exact, "exact")


def _nowhere() -> Path:
    """A library root with nothing imported: benchmarks use the bundled data only."""
    return Path("/nonexistent-gridshift-bench")
