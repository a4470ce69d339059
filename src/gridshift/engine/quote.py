"""The quote a submission gets at once: where and when the job would run alone on the current
forecast, with its expected energy, cost and carbon, and the run-now counterfactual.

It uses the planner's own cost tables (``planner.model.cost_tables``: the same tariff, carbon
and objective per kWh) and power (the natural draw at the requested GPUs, uncapped), and picks
the cheapest contiguous window on an allowed cluster between release and deadline. The tables
are built once per forecast snapshot, so a quote is a few vectorised operations, not a plan:
the next re-plan (at once: a submission is an event) places the job among the others, with the
levers a quote leaves out (power caps, elastic sizes, pauses), and may move it.
The run-now counterfactual is the planner's: the same cluster, contiguous from release.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from gridshift.config.site import SiteConfig
from gridshift.domain import Forecast, Job, Priority, SignalKind
from gridshift.domain.power import NATURAL_DRAW_FRACTION
from gridshift.domain.timeutil import as_np, to_iso
from gridshift.planner.model import cost_tables

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class QuoteTables:
    t0: datetime
    step_s: int
    usd: Floats  # [cluster, step] USD per kWh
    kg: Floats  # [cluster, step] kg CO2 per kWh
    cost: Floats  # [cluster, step] the objective per kWh


def quote_tables(
    site: SiteConfig,
    forecasts: Mapping[tuple[str, SignalKind], Forecast],
    t0: datetime,
    step_s: int,
    steps: int,
) -> QuoteTables:
    times = as_np(t0) + np.arange(steps, dtype=np.int64) * np.timedelta64(step_s, "s")
    usd, carbon, cost, _ = cost_tables(site.clusters, forecasts, site.objective, times)
    return QuoteTables(t0, step_s, usd, carbon / 1000.0, cost)


def _allowed(job: Job, site: SiteConfig) -> list[int]:
    need = job.gpus
    return [
        c
        for c, cl in enumerate(site.clusters)
        if (not job.zones or cl.zone in job.zones)
        and (job.gpu_type is None or cl.gpu_type.upper() == job.gpu_type.upper())
        and (cl.gpus is None or cl.gpus >= need)
    ]


def _sums(kwh_per_step: Floats, rate: Floats, start: int, n_full: int, part: float) -> Floats:
    """Totals of ``kwh x rate`` for a run of ``n_full`` steps and ``part`` of one, from each
    start in ``start..``: prefix sums."""
    per = kwh_per_step[:, None] * rate
    prefix = np.concatenate([np.zeros((per.shape[0], 1)), np.cumsum(per, axis=1)], axis=1)
    T = per.shape[1]
    last = T - n_full - (1 if part > 0 else 0)
    if last < start:
        return np.zeros((per.shape[0], 0))
    ks = np.arange(start, last + 1)
    total = prefix[:, ks + n_full] - prefix[:, ks]
    if part > 0:
        total = total + part * per[:, ks + n_full]
    return np.asarray(total, dtype=np.float64)


def quote(job: Job, site: SiteConfig, tables: QuoteTables) -> dict[str, Any]:
    """The plan columns of ``job`` quoted alone (see the module docstring)."""
    allowed = _allowed(job, site)
    step_s = tables.step_s
    T = tables.cost.shape[1]
    release = max(0, math.ceil((job.release - tables.t0).total_seconds() / step_s - 1e-9))
    due = (job.deadline - tables.t0).total_seconds() / step_s
    n_exact = job.duration_s / step_s
    n_full, part = int(n_exact), n_exact - int(n_exact)
    if not allowed or release + n_exact > min(due, T):
        return {"plan_reason": "quote: no window inside the forecast horizon yet; the next "
                "plan places it"}  # fmt: skip
    step_h = step_s / 3600.0
    kw = np.array(
        [
            job.gpus
            * (job.watts_per_gpu or NATURAL_DRAW_FRACTION * site.clusters[c].gpu_power.max_w)
            * site.clusters[c].pue
            / 1000.0
            for c in allowed
        ]
    )
    kwh = kw * step_h
    rows = np.array(allowed)
    objective = _sums(kwh, tables.cost[rows], release, n_full, part)
    latest = math.floor(due - n_exact + 1e-9) - release  # starts that end by the due step
    objective = objective[:, : max(0, latest + 1)]
    if objective.size == 0:
        return {"plan_reason": "quote: no window before the deadline inside the forecast "
                "horizon; the next plan places it"}  # fmt: skip
    if job.priority is Priority.CRITICAL:  # never deferred: at release, the cheapest cluster
        ci, ki = int(np.argmin(objective[:, 0])), 0
    else:
        best = np.unravel_index(int(np.argmin(objective)), objective.shape)
        ci, ki = int(best[0]), int(best[1])
    c, start = int(rows[ci]), release + ki

    def outcome(first: int) -> dict[str, float]:
        one = np.array([kwh[ci]])
        return {
            "energy_kwh": round(float(kw[ci] * job.duration_s / 3600.0), 4),
            "cost_usd": round(
                float(_sums(one, tables.usd[c : c + 1], first, n_full, part)[0, 0]), 4
            ),
            "carbon_kg": round(
                float(_sums(one, tables.kg[c : c + 1], first, n_full, part)[0, 0]), 4
            ),
        }

    begin = tables.t0 + timedelta(seconds=start * step_s)
    end = begin + timedelta(seconds=job.duration_s)
    return {
        "cluster": site.clusters[c].name,
        "planned_start": begin,
        "planned_end": end,
        "plan_reason": f"quote: the cheapest window for this job alone on the current forecast "
        f"is {site.clusters[c].name} from {to_iso(begin)}; the next plan places it among the "
        "others",
        "expected": outcome(start),
        "run_now": outcome(release),
    }
