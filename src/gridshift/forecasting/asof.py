"""One forecast of one model, as of a time, from a stored series.

The series is cut at the as-of step *before* anything else happens, so no value that was not known
then can reach the model: a step's value (an average over ``[t, t + step)``) is known once the step
has ended. Forecast times start at the step that holds ``as_of``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from gridshift.domain import ConfigError, Forecast, Quality, Series
from gridshift.domain.signal import FloatArray, TimeArray
from gridshift.domain.timeutil import as_datetime, as_np
from gridshift.forecasting import models
from gridshift.signals.align import align

DAY_S = 86400


def check_model(name: str, field: str = "model", extra: tuple[str, ...] = ()) -> str:
    if name not in models.MODELS and name not in extra:
        raise ConfigError(
            "unknown forecast model",
            field=field,
            value=name,
            accepted=", ".join([*models.MODELS, *extra]),
        )
    return name


def forecast_step(series: Series) -> int:
    """The series' step if a day holds a whole number of them, else an hour."""
    return series.step_s if DAY_S % series.step_s == 0 else 3600


def floor_step(when: datetime, step_s: int) -> np.datetime64:
    t = int(as_np(when).astype(np.int64))
    return np.datetime64(t - t % step_s, "s")


def forecast_times(as_of: datetime, horizon_s: int, step_s: int) -> TimeArray:
    """The steps of a forecast made at ``as_of`` for ``horizon_s``: from the step that holds
    ``as_of`` until ``as_of + horizon_s`` is covered."""
    start = floor_step(as_of, step_s)
    ahead = int(as_np(as_of).astype(np.int64)) + horizon_s - int(start.astype(np.int64))
    return start + np.arange(-(-ahead // step_s), dtype=np.int64) * np.timedelta64(step_s, "s")


def on_grid(
    like: Series | Forecast,
    times: TimeArray,
    values: FloatArray,
    step_s: int,
    start: np.datetime64,
    count: int,
    grid_step: int,
) -> FloatArray:
    """``values`` at ``times`` (steps of ``step_s``; zone, kind and unit those of ``like``) on the
    grid ``start + k * grid_step``, ``k < count``, by the alignment rule (means when coarsening,
    held when refining); NaN where nothing covers a step."""
    order = np.argsort(times, kind="stable")
    ordered = values[order]
    quality = np.where(np.isnan(ordered), Quality.MISSING, Quality.OK).astype(np.uint8)
    points = Series(like.zone, like.kind, like.unit, times[order], ordered, quality, step_s)
    begin = as_datetime(start)
    return align(points, grid_step, begin, begin + timedelta(seconds=count * grid_step)).values


def known_before(series: Series, as_of: datetime) -> Series:
    """The points whose step had ended by ``as_of`` (what anybody could know then)."""
    return series.between(end=as_of - timedelta(seconds=series.step_s - 1))


def last_known_time(series: Series, as_of: datetime) -> datetime | None:
    """The start of the newest valid step known at ``as_of``, if any."""
    known = known_before(series, as_of)
    valid = known.times[known.valid]
    return as_datetime(valid[-1]) if len(valid) else None


def model_forecast(
    series: Series,
    as_of: datetime,
    horizon_s: int,
    model: str = models.DEFAULT_MODEL,
    *,
    band: bool = True,
) -> Forecast:
    """``model``'s forecast of ``series`` made at ``as_of`` for ``horizon_s`` seconds.

    Values are NaN where the model had nothing to go on (no known value in its window); the
    80 % band comes from the same model's errors over the 28 days before ``as_of``.
    """
    check_model(model)
    if horizon_s <= 0:
        raise ConfigError("horizon must be positive", field="horizon", value=horizon_s)
    step = forecast_step(series)
    period = DAY_S // step
    times = forecast_times(as_of, horizon_s, step)
    origin_t = times[0]
    horizon = len(times)
    horizon_days = -(-horizon * step // DAY_S)
    window_days = models.WARMUP_DAYS[model] + (
        models.BAND_WINDOW_DAYS + horizon_days + 1 if band else 0
    )
    start = as_datetime(origin_t) - timedelta(days=window_days)
    known = known_before(series, as_of)
    y = align(known, step, start, as_datetime(origin_t)).values
    n = len(y)
    extended = np.concatenate([y, np.full(horizon, np.nan)])
    fn = models.MODELS[model]
    lower = upper = None
    if band:
        # The band: the same model's errors at origins every hour (every step if coarser) over
        # the window before now, each scored only on targets known by now.
        every = max(1, 3600 // step)
        window = models.BAND_WINDOW_DAYS * period // every
        gap = -(-horizon // every)
        count = max(0, min(window + gap, (n - 1) // every))
        origins = n - every * np.arange(count, -1, -1, dtype=np.int64)
        preds = fn(extended, origins, horizon, period)
        targets = origins[:, None] + np.arange(horizon)[None, :]
        errors = preds - extended[targets]
        sigma = models.band_sigma(errors, window, gap)[-1]
        values = preds[-1]
        lower = values - models.BAND_Z * sigma
        upper = values + models.BAND_Z * sigma
    else:
        values = fn(extended, np.array([n], dtype=np.int64), horizon, period)[0]
    return Forecast(
        zone=series.zone,
        kind=series.kind,
        unit=series.unit,
        as_of=as_of,
        times=times,
        values=values,
        step_s=step,
        model=model,
        lower=lower,
        upper=upper,
    )
