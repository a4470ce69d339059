"""Forecast models on a regular grid, vectorised over forecast origins.

Every model answers the same question: given the values ``y`` of one signal on a regular grid (NaN
where missing) and origins ``o_1..o_K``, predict ``y[o_k], ..., y[o_k + H - 1]`` from ``y[:o_k]``
only. Origin ``o`` is "now" at the start of step ``o``: the value of step ``o - 1`` (an average over
that step) has just become known, step ``o`` has not. Indexing only below the origin is what makes a
forecast as-of; ``tests/test_forecast_models.py`` proves it by changing what comes after.

One origin is a live forecast; thousands are a backtest, at the same cost per origin.

Models (``period`` is the number of steps in a day):

- ``persistence``: the last known value, flat.
- ``seasonal-daily`` / ``seasonal-weekly``: the value one day (one week) before the target, or two,
  three... days before when the target is further ahead than that; a missing value there is
  replaced by the last known value before it.
- ``ets``: additive seasonal exponential smoothing (Holt-Winters without trend) with a daily season,
  whose level is damped towards a slow moving baseline as the horizon grows: near steps follow the
  latest level, far steps the baseline plus the daily shape. Parameters are fixed (``EtsParams``),
  chosen by backtests on 2021 data and scored on 2022 (README, "Forecast backtests").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Model = Callable[[FloatArray, IntArray, int, int], FloatArray]

WEEK_DAYS = 7


def ffill(y: FloatArray) -> FloatArray:
    """The last valid value at or before each index (NaN before the first valid one)."""
    valid = ~np.isnan(y)
    idx = np.where(valid, np.arange(len(y)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.full(len(y), np.nan)
    has = idx >= 0
    out[has] = y[idx[has]]
    return out


def last_known(y: FloatArray, origins: IntArray) -> FloatArray:
    """The last valid value before each origin (NaN when there is none)."""
    filled = ffill(y)
    out = np.full(len(origins), np.nan)
    ok = origins > 0
    out[ok] = filled[origins[ok] - 1]
    return out


def seasonal_index(origins: IntArray, horizon: int, lag: int) -> IntArray:
    """For each origin and step j, the index ``o + j - k * lag`` with the smallest k >= 1 that
    lies before the origin."""
    j = np.arange(horizon, dtype=np.int64)
    k = j // lag + 1
    return origins[:, None] + (j - k * lag)[None, :]


def persistence(y: FloatArray, origins: IntArray, horizon: int, period: int) -> FloatArray:
    return np.repeat(last_known(y, origins)[:, None], horizon, axis=1)


def _seasonal(y: FloatArray, origins: IntArray, horizon: int, lag: int) -> FloatArray:
    idx = seasonal_index(origins, horizon, lag)
    filled = ffill(y)
    out = np.repeat(last_known(y, origins)[:, None], horizon, axis=1)
    inside = idx >= 0
    picked = np.where(inside, idx, 0)
    values = np.where(np.isnan(y[picked]), filled[picked], y[picked])
    ok = inside & ~np.isnan(values)
    out[ok] = values[ok]
    return out


def seasonal_daily(y: FloatArray, origins: IntArray, horizon: int, period: int) -> FloatArray:
    return _seasonal(y, origins, horizon, period)


def seasonal_weekly(y: FloatArray, origins: IntArray, horizon: int, period: int) -> FloatArray:
    return _seasonal(y, origins, horizon, WEEK_DAYS * period)


@dataclass(frozen=True)
class EtsParams:
    """Chosen by a grid search on 2021 data (16 series: 8 carbon, 8 price), scored on 2022."""

    alpha: float = 0.1  # level smoothing
    gamma: float = 0.2  # season smoothing
    phi: float = 0.99  # per-step damping of the level's distance from the baseline
    baseline_days: float = 7.0  # time constant of the baseline, in days
    rho: float = 0.95  # per-step decay of the last one-step error carried into the forecast


DEFAULT_ETS = EtsParams()


EtsStates = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


def ets_states(y: FloatArray, period: int, params: EtsParams = DEFAULT_ETS) -> EtsStates:
    """Run the smoothing filter over ``y``; returns, for every index t, the level and the baseline
    after seeing ``y[t]``, the season value of t's phase after seeing it, and what is left of the
    one-step error at t after the level and season took their share (0 where y[t] is missing).

    Until a day has passed since the first valid value everything is NaN (no forecast yet); at the
    end of that day, its mean starts the level and each value's distance from it the season. Only
    values at or before t ever reach the state at t.
    """
    n = len(y)
    level = np.full(n, np.nan)
    base = np.full(n, np.nan)
    written = np.full(n, np.nan)
    resid = np.zeros(n)
    valid = np.flatnonzero(~np.isnan(y))
    if len(valid) == 0:
        return level, base, written, resid
    first = int(valid[0])
    a, g = params.alpha, params.gamma
    beta = 1.0 / max(1.0, params.baseline_days * period)
    values = y.tolist()
    season = [0.0] * period
    l_t = b_t = 0.0
    ready = first + period - 1  # the filter starts once the first day has been seen
    lv, bv, wv, rv = [np.nan] * n, [np.nan] * n, [np.nan] * n, [0.0] * n
    for t in range(first, n):
        p = t % period
        v = values[t]
        if t < ready:
            continue
        if t == ready:
            day = y[first : ready + 1]
            l_t = b_t = float(np.nanmean(day))
            for i, d in enumerate(day.tolist()):
                if d == d:
                    season[(first + i) % period] = d - l_t
        elif v == v:  # not NaN
            s_old = season[p]
            new_level = a * (v - s_old) + (1.0 - a) * l_t
            season[p] = g * (v - new_level) + (1.0 - g) * s_old
            l_t = new_level
            b_t += beta * (l_t - b_t)
            rv[t] = v - l_t - season[p]
        lv[t], bv[t], wv[t] = l_t, b_t, season[p]
    level[:], base[:], written[:], resid[:] = lv, bv, wv, rv
    return level, base, written, resid


def ets_from_states(
    states: EtsStates,
    origins: IntArray,
    horizon: int,
    period: int,
    params: EtsParams = DEFAULT_ETS,
) -> FloatArray:
    """Forecasts from filter states (see ``ets_states``) at the given origins."""
    level, base, written, resid = states
    out = np.full((len(origins), horizon), np.nan)
    ok = origins > 0
    if not ok.any():
        return out
    o = origins[ok]
    l_o = level[o - 1][:, None]
    b_o = base[o - 1][:, None]
    idx = seasonal_index(o, horizon, period)
    s = np.where(idx >= 0, written[np.clip(idx, 0, None)], 0.0)
    s = np.where(np.isnan(s), 0.0, s)
    steps = np.arange(1, horizon + 1, dtype=np.float64)[None, :]
    carry = resid[o - 1][:, None] * params.rho**steps
    out[ok] = b_o + params.phi**steps * (l_o - b_o) + s + carry
    return out


def ets(y: FloatArray, origins: IntArray, horizon: int, period: int) -> FloatArray:
    return ets_from_states(ets_states(y, period), origins, horizon, period)


MODELS: dict[str, Model] = {
    "persistence": persistence,
    "seasonal-daily": seasonal_daily,
    "seasonal-weekly": seasonal_weekly,
    "ets": ets,
}

# The model `signals forecast` and the planner use when none is named: the best mean skill over
# the README's backtest table (four zones x carbon and price, 48 h, 2022).
DEFAULT_MODEL = "ets"

# How much history before "now" each model needs to be itself, in days (the window a live
# forecast reads; a backtest reads from the start of the series).
WARMUP_DAYS: dict[str, int] = {
    "persistence": 1,
    "seasonal-daily": 2,
    "seasonal-weekly": 8,
    "ets": 21,
}

BAND_Z = 1.2815515655446004  # the 10th and 90th percentiles of a normal: an 80 % band
BAND_WINDOW_DAYS = 28


def band_sigma(errors: FloatArray, window: int, gap: int) -> FloatArray:
    """Per row (origin) and step, the root-mean-square error of the same model's forecasts made
    at the ``window`` origins before it whose targets had all been seen by then.

    ``errors`` is [origin, step] for evenly spaced origins; row r may use rows up to ``r - gap``,
    where ``gap`` is the horizon in rows (their targets end before origin r).
    """
    horizon = errors.shape[1]
    sq = np.where(np.isnan(errors), 0.0, errors**2)
    cnt = (~np.isnan(errors)).astype(np.float64)
    zero = np.zeros((1, horizon))
    csq = np.concatenate([zero, np.cumsum(sq, axis=0)])
    ccnt = np.concatenate([zero, np.cumsum(cnt, axis=0)])
    rows = np.arange(len(errors))
    hi = np.clip(rows - gap + 1, 0, None)
    lo = np.clip(hi - window, 0, None)
    total = csq[hi] - csq[lo]
    count = ccnt[hi] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma: FloatArray = np.sqrt(total / count)
    sigma[count < 2] = np.nan
    return sigma
