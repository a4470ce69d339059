"""Cheapest contiguous window: the per-job baseline that carbon-aware SDKs offer.

Pure numpy over a cost per step. The planner builds on it; the demo and the ``lowest-window``
simulation policy use it as it is.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def window_sums(cost: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """Sum of ``cost[s:s+length]`` for every start ``s``: NaN where a step is unknown (NaN),
    +inf where a step is forbidden (+inf)."""
    if length <= 0:
        raise ValueError("length must be positive")
    cost = np.asarray(cost, dtype=np.float64)
    if len(cost) < length:
        return np.empty(0)
    # Exact sums per window (no prefix-sum cancellation); +inf rules a window out, NaN unknown.
    windows = np.lib.stride_tricks.sliding_window_view(cost, length)
    with np.errstate(invalid="ignore"):
        sums = windows.sum(axis=1)
    sums[np.isinf(windows).any(axis=1)] = np.inf
    sums[np.isnan(windows).any(axis=1)] = np.nan
    return np.asarray(sums, dtype=np.float64)


def cheapest_window(
    cost: npt.NDArray[np.float64], length: int, earliest: int = 0, latest_start: int | None = None
) -> int | None:
    """The start in ``[earliest, latest_start]`` with the lowest window sum (earliest on ties).

    ``None`` when no window in that range has a known cost.
    """
    sums = window_sums(cost, length)
    last = len(sums) - 1 if latest_start is None else min(latest_start, len(sums) - 1)
    if last < earliest or earliest < 0:
        return None
    candidates = sums[earliest : last + 1]
    if not np.any(np.isfinite(candidates)):
        return None
    return earliest + int(np.nanargmin(candidates))
