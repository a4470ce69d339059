"""Forecasting benchmarks on the bundled real signals: many zones at once, and year-long backtests.

Twenty zones: the 16 bundled carbon zones and the four zones that only have prices (BE, ES, FR, NL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gridshift.domain import Series, SignalKind
from gridshift.forecasting.backtest import BacktestResult, backtest
from gridshift.forecasting.models import DEFAULT_MODEL
from gridshift.forecasting.service import Feed, Forecaster
from gridshift.signals.library import SignalLibrary, bundled_entries

AS_OF = datetime.fromisoformat("2022-06-15T10:20:00+00:00")


def bundled_series(count: int) -> list[Series]:
    """``count`` series of distinct zones (carbon first, then price where a zone has no carbon)."""
    library = SignalLibrary(Path("/nonexistent-gridshift-bench"), bundled=True)
    entries = bundled_entries()
    carbon = [e for e in entries if e.kind is SignalKind.CARBON]
    zones = {e.zone for e in carbon}
    price_only = [e for e in entries if e.kind is SignalKind.PRICE and e.zone not in zones]
    picked = (carbon + price_only)[:count]
    return [library.load(e.zone, e.kind) for e in picked]


def _const(series: Series) -> Callable[[], Series]:
    return lambda: series


def forecaster_for(series: list[Series], model: str = DEFAULT_MODEL) -> Forecaster:
    """A forecaster over loaded series, with no staleness limit (the bundled data is old)."""
    feeds = {
        (s.zone, s.kind): Feed(s.zone, s.kind, _const(s), staleness_s=86400 * 365) for s in series
    }
    return Forecaster(feeds, model=model)


@dataclass(frozen=True)
class ForecastRun:
    series: int
    load_seconds: float
    forecast_seconds: float
    steps: int


def forecast_many(count: int, model: str, horizon_s: int, as_of: datetime = AS_OF) -> ForecastRun:
    started = time.perf_counter()
    series = bundled_series(count)
    loaded = time.perf_counter() - started
    forecaster = forecaster_for(series, model)
    started = time.perf_counter()
    steps = 0
    for s in series:
        steps += len(forecaster.forecast(s.zone, s.kind, as_of, horizon_s).times)
    return ForecastRun(len(series), loaded, time.perf_counter() - started, steps)


def backtest_many(
    count: int, model: str, horizon_s: int, days: int = 365
) -> list[tuple[BacktestResult, float]]:
    out = []
    for s in bundled_series(count):
        end = s.end - timedelta(seconds=horizon_s)
        start = end - timedelta(days=days)
        started = time.perf_counter()
        result = backtest(s, model, horizon_s, start, end)
        out.append((result, time.perf_counter() - started))
    return out
