"""Default power, power-cap and scaling models, from the measurements in POWER-MODELS.md.

Pure functions of numbers. Sources: Zeus NSDI '23 power traces (cap vs throughput, pooled medians
over V100, A40, RTX6000, P100), NVIDIA datasheets and ``nvidia-smi`` readings (limits and idle
draw), and the Horovod scaling points fitted to the Pollux throughput form (elastic scaling).
A site overrides any of them in ``gridshift.yaml``; these are only the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GpuDefaults:
    """Published figures for one GPU type."""

    tdp_w: float  # default = maximum power limit
    min_cap_w: float  # lowest settable limit
    idle_w: float  # idle draw with the driver loaded


GPU_DEFAULTS: dict[str, GpuDefaults] = {
    "H100": GpuDefaults(tdp_w=700.0, min_cap_w=200.0, idle_w=78.8),
    "H200": GpuDefaults(tdp_w=700.0, min_cap_w=200.0, idle_w=80.3),
    "H100-PCIE": GpuDefaults(tdp_w=350.0, min_cap_w=150.0, idle_w=50.0),
    "A100": GpuDefaults(tdp_w=400.0, min_cap_w=100.0, idle_w=55.0),
    "A100-PCIE": GpuDefaults(tdp_w=300.0, min_cap_w=150.0, idle_w=50.0),
    "V100": GpuDefaults(tdp_w=250.0, min_cap_w=100.0, idle_w=40.0),
    "A40": GpuDefaults(tdp_w=300.0, min_cap_w=100.0, idle_w=30.0),
    "B200": GpuDefaults(tdp_w=1000.0, min_cap_w=200.0, idle_w=100.0),
}

# Training draws about 0.85 x TDP when uncapped (Zeus medians 0.81-0.89).
NATURAL_DRAW_FRACTION = 0.85

# Throughput relative to uncapped, as a function of c = cap / natural draw (pooled Zeus medians).
_CAP_C = np.array([0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
_CAP_THR = np.array([0.40, 0.61, 0.71, 0.84, 0.91, 0.94, 0.98, 1.00])
MIN_CAP_RATIO = 0.4  # no extrapolation below c = 0.4: throughput collapses


def capped_throughput(cap_ratio: float) -> float:
    """Relative throughput at ``cap_ratio`` = cap / natural draw (1.0 at and above 1.1)."""
    if cap_ratio < MIN_CAP_RATIO:
        raise ValueError(f"cap ratio {cap_ratio:.2f} is below the modelled range (>= 0.4)")
    return float(np.interp(cap_ratio, _CAP_C, _CAP_THR))


def capped_power_w(cap_w: float, natural_w: float) -> float:
    """Power drawn under a cap: the cap binds only below the natural draw."""
    return min(cap_w, natural_w)


def elastic_speedup(gpus: int, base_gpus: int, gpus_per_node: int = 8) -> float:
    """Throughput at ``gpus`` relative to ``base_gpus`` (data-parallel, compute-heavy default).

    Efficiency is 1 inside one NVLink node and ``0.92 - 0.005 * log2(n / 8)`` across nodes,
    which reproduces Horovod's 90 % at 512 GPUs. Monotone non-decreasing in ``gpus``.
    """

    def throughput(n: int) -> float:
        if n <= gpus_per_node:
            return float(n)
        return n * (0.92 - 0.005 * float(np.log2(n / gpus_per_node)))

    # n * (0.92 - 0.005 log2(n/8)) rises with n for any realistic n, and throughput(9) > 8, so
    # the curve is non-decreasing as it stands; no maximum over smaller counts is needed.
    if gpus <= 0:
        return 0.0
    return throughput(gpus) / throughput(max(base_gpus, 1))
