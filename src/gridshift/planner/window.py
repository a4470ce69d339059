"""Cheapest contiguous window: the per-job baseline that carbon-aware SDKs offer.

Pure numpy over a cost per step. The planner builds on it; the demo and the ``lowest-window``
simulation policy use it as it is.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def window_sums(cost: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """Sum of ``cost[s:s+length]`` for every start ``s`` (NaN where any step is NaN)."""
    if length <= 0:
        raise ValueError("length must be positive")
    if len(cost) < length:
        return np.empty(0)
    nan = np.isnan(cost)
    csum = np.concatenate([[0.0], np.cumsum(np.where(nan, 0.0, cost))])
    nsum = np.concatenate([[0], np.cumsum(nan)])
    sums = csum[length:] - csum[:-length]
    sums[(nsum[length:] - nsum[:-length]) > 0] = np.nan
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
    if np.all(np.isnan(candidates)):
        return None
    return earliest + int(np.nanargmin(candidates))
