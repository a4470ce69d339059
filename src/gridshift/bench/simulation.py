"""The simulator benchmark's workload and fleet: a seeded trace shaped like the Alibaba GPU trace,
on clusters in the bundled zones, over a stretch of 2021 (the bundled signals run 2021-2022,
so a year from 2021-01-01 still has its drain and its deadlines covered).

Jobs: arrivals uniform over the window; durations log-normal with a median of 11 minutes and
a mean of about an hour (sigma 1.9, like ``openb_pod_list_default``: median 656 s, mean 3,520 s),
clipped to 1 minute .. 3 days; 96 % one GPU, 1 % two, 1 % four, 2 % eight; all interruptible
(5 minutes per resume) with ``within`` of slack after their duration. Clusters get
``gpus_per_cluster`` GPUs each (8 by default: capacity binds, as in the README's runs).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gridshift.simulate.config import SimConfig, sim_from_data

ZONES = ("DE-LU", "US-TEX-ERCO", "CA-ON", "US-CAL-CISO", "JP-TK")
START = datetime(2021, 1, 1, tzinfo=UTC)
MEDIAN_S = 656.0
SIGMA = 1.9
GPU_CHOICES = (1, 2, 4, 8)
GPU_SHARES = (0.96, 0.01, 0.01, 0.02)


def write_jobs(path: Path, jobs: int, days: float, within_s: float, seed: int) -> None:
    """The jobs CSV (gridshift format), sorted by submission."""
    rng = np.random.default_rng(seed)
    submit = np.sort(rng.uniform(0, days * 86400, jobs))
    duration = np.clip(
        np.round(rng.lognormal(math.log(MEDIAN_S), SIGMA, jobs)), 60, 3 * 86400
    ).astype(np.int64)
    gpus = rng.choice(GPU_CHOICES, size=jobs, p=GPU_SHARES)
    lines = ["id,submit_time,duration_s,gpus,deadline,interruptible"]
    for i in range(jobs):
        at = START + timedelta(seconds=float(submit[i]))
        due = at + timedelta(seconds=int(duration[i]) + within_s)
        lines.append(
            f"b{i:06d},{at:%Y-%m-%dT%H:%M:%S}Z,{int(duration[i])},{int(gpus[i])},"
            f"{due:%Y-%m-%dT%H:%M:%S}Z,true"
        )
    path.write_text("\n".join(lines) + "\n")


def bench_config(
    folder: Path,
    clusters: int,
    gpus_per_cluster: int,
    days: float,
    step: str,
    policies: list[str],
) -> SimConfig:
    zones = [ZONES[i % len(ZONES)] for i in range(clusters)]
    data: dict[str, Any] = {
        "clusters": [
            {
                "name": f"c{i}-{zone.lower()}",
                "zone": zone,
                "gpus": gpus_per_cluster,
                "gpu_type": "H100",
                "pue": 1.2,
                "tariff": {"kind": "wholesale", "adder_usd_per_mwh": 20},
            }
            for i, zone in enumerate(zones)
        ],
        "signals": [
            {"zone": zone, "kind": kind, "source": "bundled"}
            for zone in sorted(set(zones))
            for kind in ("carbon", "price")
        ],
        "objective": {"mode": "combined", "carbon_price_usd_per_tonne": 100},
        "start": START.isoformat(),
        "end": (START + timedelta(days=days)).isoformat(),
        "step": step,
        "workload": {"file": "jobs.csv", "format": "gridshift"},
        "forecast": "perfect",
        "policies": policies,
    }
    return sim_from_data(data, "bench simulate", folder)
