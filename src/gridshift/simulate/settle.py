"""Settlement: what each policy's runs cost, on the **actual** signal values, by one rule.

Energy per step = share of the step run x facility kW x step hours (the jobs' energy: the pool's
idle draw is the same under every policy and is reported apart). Cost at the cluster's tariff on
the actual price, carbon at the actual intensity. Peak kW: the most facility power drawn in any
step, jobs running in it at full power plus every cluster's idle draw. A job misses its deadline
when it finishes after it or never runs; delay is its first start minus its release.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridshift.domain import Cluster, Job, Objective, ObjectiveMode, SignalKind
from gridshift.simulate.grid import Floats, Signals
from gridshift.simulate.runs import Run


@dataclass(frozen=True)
class Prices:
    """Per cluster and step: USD and kg CO2 per kWh, actual."""

    usd: Floats
    kg: Floats


def actual_prices(clusters: list[Cluster], signals: Signals) -> Prices:
    T = signals.grid.steps
    usd = np.zeros((len(clusters), T))
    kg = np.zeros((len(clusters), T))
    for c, cluster in enumerate(clusters):
        wholesale = np.zeros(T)
        if cluster.tariff.needs_price_signal:
            wholesale = signals.actual[(cluster.zone, SignalKind.PRICE)]
        usd[c] = cluster.tariff.price_usd_per_mwh(wholesale) / 1000.0
        carbon = signals.actual.get((cluster.zone, SignalKind.CARBON))
        if carbon is not None:
            kg[c] = carbon / 1000.0
    return Prices(usd, kg)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    cluster: str
    submitted: float  # seconds from the grid start
    started: float  # inf: never
    finished: float  # inf: never
    deadline: float
    energy_kwh: float
    cost_usd: float
    carbon_kg: float

    @property
    def missed(self) -> bool:
        return self.finished > self.deadline + 1e-6

    @property
    def delay_s(self) -> float:
        return self.started - self.submitted


def settle(
    jobs: list[Job],
    runs: list[Run],
    clusters: list[Cluster],
    signals: Signals,
    prices: Prices,
    objective: Objective,
) -> tuple[dict[str, float], list[JobRecord]]:
    grid = signals.grid
    step_s, step_h = grid.step_s, grid.step_h
    power = np.zeros(grid.steps)
    records = []
    for job, run in zip(jobs, runs, strict=True):
        used = run.frac * run.kw * step_h
        where = run.clusters
        cost = float(np.sum(used * prices.usd[where, run.steps])) if run.ran else 0.0
        carbon = float(np.sum(used * prices.kg[where, run.steps])) if run.ran else 0.0
        np.add.at(power, run.steps, run.kw)
        names = [clusters[c].name for c in dict.fromkeys(where.tolist())] if run.ran else []
        records.append(
            JobRecord(
                job_id=job.id,
                cluster="+".join(names),
                submitted=(job.release - grid.t0).total_seconds(),
                started=run.start_step * step_s,
                finished=run.finish_step * step_s,
                deadline=(job.deadline - grid.t0).total_seconds(),
                energy_kwh=float(used.sum()),
                cost_usd=cost,
                carbon_kg=carbon,
            )
        )
    idle_kw = np.array([c.idle_kw() for c in clusters])
    idle_kwh = float(idle_kw.sum()) * grid.steps * step_h
    started = [r for r in records if math.isfinite(r.started)]
    delays = np.array([max(0.0, r.delay_s) for r in started]) if started else np.zeros(1)
    energy = float(sum(r.energy_kwh for r in records))
    cost = float(sum(r.cost_usd for r in records))
    carbon = float(sum(r.carbon_kg for r in records))
    if objective.mode is ObjectiveMode.COST:
        value = cost
    elif objective.mode is ObjectiveMode.CARBON:
        value = carbon
    else:
        value = cost + carbon / 1000.0 * objective.carbon_price_usd_per_tonne
    metrics: dict[str, float] = {
        "energy_kwh": energy,
        "cost_usd": cost,
        "carbon_kg": carbon,
        "objective": value,
        "deadline_misses": float(sum(r.missed for r in records)),
        "jobs_completed": float(sum(math.isfinite(r.finished) for r in records)),
        "jobs": float(len(records)),
        "mean_delay_s": float(delays.mean()),
        "p95_delay_s": float(np.percentile(delays, 95)),
        "peak_kw": float(power.max(initial=0.0) + idle_kw.sum()),
        "idle_kwh": idle_kwh,
    }
    return metrics, records
