"""``simulate(config)``: load the workload and the signals, run every policy, settle each on the
actual values, and report (DESIGN.md §3.5 keys). Policies that plan on forecasts run once per
noise seed and their figures are averaged; ``run-now`` and ``oracle`` do not depend on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gridshift import __version__
from gridshift.domain import Cluster, Job
from gridshift.domain.timeutil import as_np
from gridshift.signals.library import SignalLibrary
from gridshift.simulate.config import SimConfig
from gridshift.simulate.forecasts import relative_error_pct, views
from gridshift.simulate.grid import Signals, grid_for, load_signals
from gridshift.simulate.policies import POLICY, USES_FORECAST
from gridshift.simulate.runs import Run
from gridshift.simulate.settle import JobRecord, Prices, actual_prices, settle
from gridshift.simulate.workload import load_workload_with_stats

COUNTS = ("deadline_misses", "jobs_completed", "jobs")


@dataclass(frozen=True)
class Detail:
    """What the report draws: the grid, the signals, the jobs and each policy's runs (the
    first seed's where a policy runs once per seed)."""

    jobs: list[Job]
    signals: Signals
    clusters: list[Cluster]
    prices: Prices
    runs: dict[str, list[Run]]


def simulate(
    config: SimConfig, library: SignalLibrary
) -> tuple[dict[str, Any], dict[str, list[JobRecord]]]:
    report, records, _ = simulate_detail(config, library)
    return report, records


def simulate_detail(
    config: SimConfig, library: SignalLibrary
) -> tuple[dict[str, Any], dict[str, list[JobRecord]], Detail]:
    jobs, workload = load_workload_with_stats(config)
    grid = grid_for(config, jobs)
    signals = load_signals(config, grid, library)
    clusters = list(config.site.clusters)
    prices = actual_prices(clusters, signals)
    seeds = config.forecast.seeds if config.forecast.kind == "noisy" else (0,)
    told = views(config.forecast, signals.actual, signals.history, as_np(grid.t0), grid.step_s)
    policies: dict[str, dict[str, float]] = {}
    records: dict[str, list[JobRecord]] = {}
    all_runs: dict[str, list[Run]] = {}
    for name in config.policies:
        started = time.perf_counter()
        per_seed = []
        for view in told if name in USES_FORECAST else told[:1]:
            runs = POLICY[name](config, signals, view, jobs)
            metrics, recs = settle(jobs, runs, clusters, signals, prices, config.site.objective)
            per_seed.append(metrics)
            records.setdefault(name, recs)  # the first seed's per-job records
            all_runs.setdefault(name, runs)
        averaged = {k: sum(m[k] for m in per_seed) / len(per_seed) for k in per_seed[0]}
        for key in COUNTS:
            averaged[key] = round(averaged[key], 3)
        averaged["seconds"] = time.perf_counter() - started
        policies[name] = averaged
    base = policies["run-now"]
    savings = {
        name: {
            "carbon_pct": _pct(base["carbon_kg"], m["carbon_kg"]),
            "cost_pct": _pct(base["cost_usd"], m["cost_usd"]),
            "energy_pct": _pct(base["energy_kwh"], m["energy_kwh"]),
        }
        for name, m in policies.items()
        if name != "run-now"
    }
    report = {
        "gridshift_version": __version__,
        "config": config.echo,
        "jobs": len(jobs),
        "workload": workload,
        "clusters": [c.name for c in clusters],
        "grid": {
            "start": grid.t0.isoformat(),
            "end": grid.end.isoformat(),
            "step_s": grid.step_s,
            "steps": grid.steps,
        },
        "forecast": {
            "kind": config.forecast.kind,
            "relative_sd": config.forecast.relative_sd,
            "seeds": list(seeds),
            "model": config.forecast.model or None,
            # Mean absolute error 24 h ahead, % of each series' mean (the first seed's view).
            "error_pct_24h": relative_error_pct(
                told[0], signals.actual, max(1, 86400 // grid.step_s)
            ),
        },
        "policies": policies,
        "savings": savings,
    }
    return report, records, Detail(jobs, signals, clusters, prices, all_runs)


def _pct(base: float, value: float) -> float:
    """Saving in percent of the baseline (positive: less than run-now)."""
    return 100.0 * (base - value) / base if base else 0.0
