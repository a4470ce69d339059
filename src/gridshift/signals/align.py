"""Alignment: put a series on a regular grid of ``step_s`` seconds.

The rule, stated once:

- **coarsening** (grid step > series step): each grid step takes the *mean* of the valid points
  whose times fall in ``[t, t + step)``; its quality is the worst of those points'; a step with no
  valid point is missing.
- **refining** (grid step < series step): ``hold`` (the default) gives each grid time the value
  of the point whose interval ``[t_i, t_i + series step)`` contains it, which is right for
  market prices and hourly averages; ``interpolate`` draws a straight line between neighbouring
  points, and the points it creates are marked ``estimated``.
- **equal steps**: the points are placed on the grid as they are.

Grid times that no point covers are missing (NaN, quality ``missing``): alignment never fills a
gap. Filling, if any, is the forecaster's decision, and it marks what it filled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np

from gridshift.domain import ConfigError, Quality, Series
from gridshift.domain.timeutil import as_np

Refine = Literal["hold", "interpolate"]


def grid(start: datetime, end: datetime, step_s: int) -> np.ndarray:
    """Grid times ``start, start + step, ...`` before ``end``."""
    first = as_np(start)
    count = max(0, -(-int((as_np(end) - first).astype(np.int64)) // step_s))
    return first + np.arange(count, dtype=np.int64) * np.timedelta64(step_s, "s")


def align(
    series: Series,
    step_s: int,
    start: datetime | None = None,
    end: datetime | None = None,
    refine: Refine = "hold",
) -> Series:
    """The series on the grid ``[start, end)`` at ``step_s`` (defaults: the series' own span)."""
    if step_s <= 0:
        raise ConfigError("step must be positive", field="step", value=step_s, accepted="> 0 s")
    if refine not in ("hold", "interpolate"):
        raise ConfigError(
            "unknown refinement rule", field="refine", value=refine, accepted="hold, interpolate"
        )
    times = grid(start or series.start, end or series.end, step_s)
    t_grid = times.astype(np.int64)
    t_src = series.times.astype(np.int64)
    values = np.full(len(times), np.nan)
    quality = np.full(len(times), Quality.MISSING, dtype=np.uint8)
    if len(times) == 0 or len(t_src) == 0:
        return series.with_points(times, values, quality, step_s=step_s)

    if step_s > series.step_s:
        # Coarsening: bucket every valid source point into its grid step; mean, worst quality.
        valid = series.valid
        bucket = (t_src[valid] - t_grid[0]) // step_s
        inside = (bucket >= 0) & (bucket < len(times))
        bucket = bucket[inside]
        src_values = series.values[valid][inside]
        sums = np.bincount(bucket, weights=src_values, minlength=len(times))
        counts = np.bincount(bucket, minlength=len(times))
        has = counts > 0
        values[has] = sums[has] / counts[has]
        worst = np.zeros(len(times), dtype=np.uint8)
        np.maximum.at(worst, bucket, series.quality[valid][inside])
        quality[has] = worst[has]
        return series.with_points(times, values, quality, step_s=step_s)

    # Equal or refining: find the source point whose interval holds each grid time.
    idx = np.searchsorted(t_src, t_grid, side="right") - 1
    held = (idx >= 0) & (t_grid < t_src[np.clip(idx, 0, None)] + series.step_s)
    values[held] = series.values[idx[held]]
    quality[held] = series.quality[idx[held]]
    if refine == "interpolate" and step_s < series.step_s and len(t_src) > 1:
        # Only between two neighbouring points that are both valid: never across a hole.
        i = np.clip(idx, 0, len(t_src) - 2)
        nxt_ok = (
            held
            & (idx >= 0)
            & (idx < len(t_src) - 1)
            & (t_src[i + 1] - t_src[i] == series.step_s)
            & ~np.isnan(series.values[i])
            & ~np.isnan(series.values[i + 1])
        )
        share = (t_grid - t_src[i]) / series.step_s
        lines = series.values[i] + share * (series.values[i + 1] - series.values[i])
        made = nxt_ok & (t_grid != t_src[i])
        values[made] = lines[made]
        quality[made & (quality == Quality.OK)] = Quality.ESTIMATED
    quality[np.isnan(values)] = Quality.MISSING
    return series.with_points(times, values, quality, step_s=step_s)
