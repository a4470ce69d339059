"""What a stored series holds: coverage, quality report, statistics and the daily profile.

The quality report of a stored series is found again by the same validation that imports use
(``validate.build_series`` over its points), so ``show`` and ``import`` can never disagree about
what counts as a gap or a daylight-saving artefact.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridshift.domain import Quality, Series
from gridshift.domain.signal import zone_timezone
from gridshift.domain.timeutil import to_iso
from gridshift.signals.validate import Issue, RawPoints, build_series, coverage_pct


def inspect(series: Series) -> list[Issue]:
    """The quality report of a series as it is now."""
    raw = RawPoints(
        times=pd.Series(series.times.astype(np.int64)),
        values=pd.Series(series.values),
        rows=np.arange(1, len(series) + 1, dtype=np.int64),
        unit=series.unit,
        naive_times="utc",
        estimated=series.quality == Quality.ESTIMATED,
    )
    _, issues = build_series(raw, zone=series.zone, kind=series.kind, source=series.source)
    return issues


def daily_profile(series: Series) -> tuple[str, npt.NDArray[np.float64]]:
    """Mean value by local hour of day (0..23) in the zone's time zone."""
    tz = zone_timezone(series.zone)
    valid = series.valid
    stamps = pd.DatetimeIndex(pd.to_datetime(series.times[valid].astype(np.int64), unit="s"))
    hours = stamps.tz_localize("UTC").tz_convert(ZoneInfo(tz)).hour.to_numpy()
    sums = np.bincount(hours, weights=series.values[valid], minlength=24)
    counts = np.bincount(hours, minlength=24)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return tz, profile


def summarize(series: Series, issues: list[Issue] | None = None) -> dict[str, Any]:
    """The JSON summary (keys of DESIGN.md §3.2 plus the daily profile and quality counts)."""
    if issues is None:
        issues = inspect(series)
    values = series.values[series.valid]
    tz, profile = daily_profile(series)
    quality_counts = {
        q.name.lower(): int(np.count_nonzero(series.quality == q))
        for q in Quality
        if np.any(series.quality == q)
    }
    return {
        "zone": series.zone,
        "kind": series.kind.value,
        "unit": series.unit,
        "start": to_iso(series.start),
        "end": to_iso(series.end),
        "step_s": series.step_s,
        "points": len(series),
        "coverage_pct": round(coverage_pct(series), 3),
        "min": float(values.min()),
        "mean": float(values.mean()),
        "max": float(values.max()),
        "issues": [i.as_dict() for i in issues],
        "quality": quality_counts,
        "daily_profile": {
            "timezone": tz,
            "mean_by_hour": [None if np.isnan(v) else round(float(v), 3) for v in profile],
        },
        "source": series.source,
    }
