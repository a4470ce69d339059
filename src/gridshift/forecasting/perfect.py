"""Perfect foresight: the recorded values as the forecast. For what-if planning and oracles only."""

from __future__ import annotations

from datetime import datetime, timedelta

from gridshift.domain import Forecast, Series
from gridshift.signals.align import align

MODEL = "perfect"


def perfect_forecast(series: Series, as_of: datetime, step_s: int, horizon_s: int) -> Forecast:
    """The series on the grid ``[as_of, as_of + horizon)``; steps it does not cover are NaN."""
    grid = align(series, step_s, as_of, as_of + timedelta(seconds=horizon_s))
    return Forecast(
        zone=series.zone,
        kind=series.kind,
        unit=series.unit,
        as_of=as_of,
        times=grid.times,
        values=grid.values,
        step_s=step_s,
        model=MODEL,
    )
