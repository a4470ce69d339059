"""Forecast benchmarks (pytest-benchmark): ``make bench``. Not part of ``make test``.

Targets (issue: live signals and forecasts): the default model forecasting 20 zones x 48 h in
under 1 s on 2 cores; a year of hourly history per zone backtested in under 10 s.
"""

from __future__ import annotations

from datetime import timedelta

from gridshift.bench.forecasts import AS_OF, bundled_series, forecaster_for
from gridshift.forecasting.backtest import backtest
from gridshift.forecasting.models import DEFAULT_MODEL

HORIZON_S = 48 * 3600


def test_forecast_twenty_zones(benchmark) -> None:  # type: ignore[no-untyped-def]
    series = bundled_series(20)
    forecaster = forecaster_for(series)

    def run():  # type: ignore[no-untyped-def]
        return [forecaster.forecast(s.zone, s.kind, AS_OF, HORIZON_S) for s in series]

    got = benchmark(run)
    assert len(got) == 20
    assert all(f.model == DEFAULT_MODEL and f.quality == "ok" for f in got)
    benchmark.extra_info.update({"zones": 20, "horizon_h": 48, "model": DEFAULT_MODEL})


def test_backtest_a_year(benchmark) -> None:  # type: ignore[no-untyped-def]
    (series,) = bundled_series(1)
    end = series.end - timedelta(seconds=HORIZON_S)
    start = end - timedelta(days=365)
    result = benchmark(backtest, series, DEFAULT_MODEL, HORIZON_S, start, end)
    assert result.forecasts == 365 * 24
    benchmark.extra_info.update({"zone": series.zone, "forecasts": result.forecasts})
