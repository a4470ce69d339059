"""Backtests: score a model's as-of forecasts against what happened.

Over a period of stored history, a forecast is made at every origin (every hour by default) from
the values known then, for each step of the horizon. The scores, by horizon hour:

- **MAE**: mean absolute error, in the signal's unit;
- **MAPE**: mean absolute percentage error over the targets whose actual value is at least 10 % of
  the period's mean absolute value (prices cross zero; a percentage of almost nothing says nothing);
- **skill** against persistence on the same origins and targets: ``1 - mae / persistence_mae``
  (above 0 beats "tomorrow is like now");
- **band coverage**: the share of actuals inside the model's 80 % band (well calibrated: ~80 %).

Every model sees the whole series but indexes only below each origin (``models``), so a backtest
is exactly a sequence of live forecasts, made in one vectorised pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from gridshift.domain import ConfigError, Series, SignalDataError
from gridshift.domain.timeutil import as_datetime, as_np, to_iso
from gridshift.forecasting import models
from gridshift.forecasting.asof import DAY_S, check_model, on_grid
from gridshift.signals.align import align
from gridshift.signals.archive import ForecastArchive
from gridshift.signals.providers.base import DEFAULT_STALENESS_S

PROVIDER = "provider"

HOUR_S = 3600
MAPE_FLOOR = 0.1  # share of the mean absolute actual below which a target is left out of MAPE
MAX_ORIGINS_X_STEPS = 30_000_000  # memory guard: about 240 MB per float matrix


@dataclass(frozen=True)
class HorizonScore:
    h: int  # horizon hour, 1 = the hour that starts at the origin
    mae: float
    mape: float | None
    persistence_mae: float
    skill: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "h": self.h,
            "mae": _round(self.mae),
            "mape": _round(self.mape),
            "persistence_mae": _round(self.persistence_mae),
            "skill": _round(self.skill, 4),
        }


@dataclass(frozen=True)
class BacktestResult:
    zone: str
    kind: str
    unit: str
    model: str
    horizon_h: int
    start: datetime
    end: datetime
    step_s: int
    forecasts: int
    targets: int
    mae: float
    mape: float | None
    persistence_mae: float
    skill: float | None
    band_coverage_pct: float | None
    by_horizon: list[HorizonScore] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "kind": self.kind,
            "unit": self.unit,
            "model": self.model,
            "horizon_h": self.horizon_h,
            "from": to_iso(self.start),
            "to": to_iso(self.end),
            "step_s": self.step_s,
            "forecasts": self.forecasts,
            "targets": self.targets,
            "mae": _round(self.mae),
            "mape": _round(self.mape),
            "persistence_mae": _round(self.persistence_mae),
            "skill": _round(self.skill, 4),
            "band_coverage_pct": _round(self.band_coverage_pct, 1),
            "by_horizon": [s.as_dict() for s in self.by_horizon],
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def default_period(series: Series, horizon_s: int) -> tuple[datetime, datetime]:
    """The last year of the series that leaves 28 days of warm-up before and a horizon after."""
    last = as_datetime(series.times[series.valid][-1]) if series.valid.any() else series.end
    # The last origin whose whole horizon is stored starts at last + step - horizon.
    end = last + timedelta(seconds=2 * series.step_s - horizon_s)
    start = max(series.start + timedelta(days=models.BAND_WINDOW_DAYS), end - timedelta(days=365))
    return start, end


def backtest(
    series: Series,
    model: str = models.DEFAULT_MODEL,
    horizon_s: int = 48 * HOUR_S,
    start: datetime | None = None,
    end: datetime | None = None,
    every_s: int = HOUR_S,
    archive: ForecastArchive | None = None,
    staleness_s: int = DEFAULT_STALENESS_S,
) -> BacktestResult:
    """Score ``model`` on ``series`` with origins every ``every_s`` in ``[start, end)``.

    ``model="provider"`` scores the provider forecasts in ``archive``: at each origin, the newest
    one generated at or before it and no older than ``staleness_s``.
    """
    check_model(model, extra=(PROVIDER,))
    if model == PROVIDER and archive is None:
        raise ConfigError(
            "backtesting provider forecasts needs the forecast archive", field="model"
        )
    if DAY_S % series.step_s:
        # Coarsening such a series to hours would put values from after an origin into the
        # hour before it: a backtest must see exactly what a live forecast would.
        raise ConfigError(
            f"the series' step of {series.step_s} s does not divide a day",
            field="zone",
            value=series.zone,
            accepted="a series whose step divides a day (1 h, 30 min, 5 min, ...); import it "
            "at such a step",
        )
    step = series.step_s
    if horizon_s < max(HOUR_S, step) or horizon_s % HOUR_S:
        raise ConfigError(
            "horizon must be a whole number of hours, and at least one step of the series",
            field="horizon",
            value=f"{horizon_s}s",
            accepted=f"e.g. 48h (the series' step is {step} s)",
        )
    if every_s < step or every_s % step:
        raise ConfigError(
            f"origins must be a whole number of the series' {step} s steps apart",
            field="every",
            value=f"{every_s}s",
        )
    d_start, d_end = default_period(series, horizon_s)
    start = max(start or d_start, series.start + timedelta(seconds=step))
    end = min(end or d_end, series.end)
    if end <= start:
        raise ConfigError(
            "the backtest period is empty",
            field="from/to",
            value=f"{to_iso(start)} .. {to_iso(end)}",
            accepted=f"a period inside the data, which runs {to_iso(series.start)} to "
            f"{to_iso(series.end)}",
        )
    period = DAY_S // step
    horizon = -(-horizon_s // step)
    every = every_s // step
    grid = align(series, step, series.start, series.end + timedelta(seconds=horizon_s))
    y = grid.values
    first = -(-int((as_np(start) - grid.times[0]).astype(np.int64)) // step)
    last = -(-int((as_np(end) - grid.times[0]).astype(np.int64)) // step)
    origins = np.arange(max(1, first), last, every, dtype=np.int64)
    if len(origins) * horizon > MAX_ORIGINS_X_STEPS:
        raise ConfigError(
            f"{len(origins)} forecasts x {horizon} steps is more than a backtest holds",
            field="every",
            value=f"{every_s}s",
            accepted="origins further apart (--every 6h) or a shorter period (--from/--to)",
        )
    if len(origins) == 0:
        raise SignalDataError(
            "no forecast origin in the period", source=f"{series.zone} {series.kind.value}"
        )
    targets = origins[:, None] + np.arange(horizon)[None, :]
    padded = np.concatenate([y, np.full(max(0, int(targets.max()) + 1 - len(y)), np.nan)])
    actual = padded[targets]
    if model == PROVIDER:
        assert archive is not None
        origin_times = grid.times[0] + origins * np.timedelta64(step, "s")
        predicted = archived_predictions(archive, series, origin_times, horizon, step, staleness_s)
    else:
        predicted = models.MODELS[model](padded, origins, horizon, period)
    baseline = models.persistence(padded, origins, horizon, period)
    err = predicted - actual
    base_err = baseline - actual
    scored = ~np.isnan(err) & ~np.isnan(base_err)
    if not scored.any():
        raise SignalDataError(
            "no forecast in the period could be scored (no data, or no data before it)",
            source=f"{series.zone} {series.kind.value}",
            hint="pick a period with stored history before and after it (--from/--to)",
        )
    used = origins[scored.any(axis=1)]
    abs_err = np.where(scored, np.abs(err), np.nan)
    abs_base = np.where(scored, np.abs(base_err), np.nan)
    floor = MAPE_FLOOR * float(np.nanmean(np.abs(np.where(scored, actual, np.nan))))
    in_mape = scored & (np.abs(actual) >= max(floor, 1e-9))
    ape = np.where(in_mape, abs_err / np.where(in_mape, np.abs(actual), 1.0), np.nan)

    sigma = models.band_sigma(
        np.where(scored, err, np.nan),
        models.BAND_WINDOW_DAYS * period // every,
        -(-horizon // every),
    )
    half = models.BAND_Z * sigma
    banded = scored & ~np.isnan(half)
    inside = banded & (np.abs(err) <= np.where(banded, half, 0.0))
    coverage = 100.0 * inside.sum() / banded.sum() if banded.any() else None

    lo = np.arange(horizon) * step
    by_horizon = []
    for h in range(horizon_s // HOUR_S):
        cols = (lo < (h + 1) * HOUR_S) & (lo + step > h * HOUR_S)  # the steps that cover hour h
        mae_h = _mean(abs_err[:, cols])
        base_h = _mean(abs_base[:, cols])
        by_horizon.append(
            HorizonScore(h + 1, mae_h, _pct(ape[:, cols]), base_h, _skill(mae_h, base_h))
        )
    mae = _mean(abs_err)
    base = _mean(abs_base)
    return BacktestResult(
        zone=series.zone,
        kind=series.kind.value,
        unit=series.unit,
        model=model,
        horizon_h=horizon_s // HOUR_S,
        start=as_datetime(grid.times[0] + np.timedelta64(int(used[0]) * step, "s")),
        end=as_datetime(grid.times[0] + np.timedelta64(int(used[-1]) * step, "s")),
        step_s=step,
        forecasts=len(used),
        targets=int(scored.sum()),
        mae=mae,
        mape=_pct(ape),
        persistence_mae=base,
        skill=_skill(mae, base),
        band_coverage_pct=coverage,
        by_horizon=by_horizon,
    )


def archived_predictions(
    archive: ForecastArchive,
    series: Series,
    origin_times: np.ndarray,
    horizon: int,
    step: int,
    staleness_s: int,
) -> np.ndarray:
    """[origin, step] predictions from the archived provider forecasts: at each origin, the
    newest one known then (generated and fetched), no older than ``staleness_s``, put on the
    series' grid as the service does (step means); NaN where there is none."""
    rows = archive.table(series.zone, series.kind)
    if rows is None:
        raise SignalDataError(
            f"no archived provider forecasts for {series.zone} {series.kind.value}",
            source="forecast archive",
            hint="'gridshift signals fetch' archives one each time it runs; run it regularly",
        )
    out = np.full((len(origin_times), horizon), np.nan)
    gens, first = np.unique(rows.generated_at, return_index=True)
    known = rows.known_at[first]
    # For each origin, the newest generation known by then (known_at grows with generated_at
    # for real fetches; taking the running maximum keeps the choice monotone anyway).
    order = np.argsort(known, kind="stable")
    best = np.maximum.accumulate(order)
    pick_known = np.searchsorted(known[order], origin_times, side="right") - 1
    pick = np.where(pick_known >= 0, best[np.clip(pick_known, 0, None)], -1)
    has = pick >= 0
    fresh = np.zeros(len(origin_times), dtype=bool)
    fresh[has] = origin_times[has] - gens[pick[has]] <= np.timedelta64(staleness_s, "s")
    steps = np.arange(horizon, dtype=np.int64)
    for g in np.unique(pick[fresh]):
        mine = rows.generated_at == gens[g]
        times = rows.times[mine]
        # The generation on the series' grid (phase taken from the origins), once.
        start = origin_times[0] + ((times.min() - origin_times[0]) // step) * step
        span = times.max() + np.timedelta64(int(rows.step_s[mine][0]), "s") - start
        count = -(-int(span.astype(np.int64)) // step)
        values = on_grid(
            series, times, rows.values[mine], int(rows.step_s[mine][0]), start, count, step
        )
        users = np.flatnonzero(fresh & (pick == g))
        idx = ((origin_times[users] - start).astype(np.int64) // step)[:, None] + steps[None, :]
        inside = (idx >= 0) & (idx < count)
        out[users] = np.where(inside, values[np.clip(idx, 0, count - 1)], np.nan)
    return out


def _mean(values: np.ndarray) -> float:
    valid = ~np.isnan(values)
    return float(values[valid].mean()) if valid.any() else float("nan")


def _pct(ape: np.ndarray) -> float | None:
    valid = ~np.isnan(ape)
    return 100.0 * float(ape[valid].mean()) if valid.any() else None


def _skill(mae: float, base: float) -> float | None:
    if not np.isfinite(mae) or not np.isfinite(base) or base <= 0:
        return None
    return 1.0 - mae / base
