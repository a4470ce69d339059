"""Forecast models: what each predicts, and the proof that none of them looks ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gridshift.domain import ConfigError, Quality, Series, SignalDataError, SignalKind
from gridshift.forecasting import models
from gridshift.forecasting.asof import known_before, model_forecast
from gridshift.forecasting.backtest import backtest

DAY = 24
T0 = datetime(2022, 3, 1, tzinfo=UTC)


def series_of(
    values: np.ndarray, step_s: int = 3600, kind: SignalKind = SignalKind.CARBON
) -> Series:
    values = np.asarray(values, dtype=np.float64)
    times = np.datetime64(T0.replace(tzinfo=None), "s") + np.arange(len(values)) * np.timedelta64(
        step_s, "s"
    )
    quality = np.where(np.isnan(values), Quality.MISSING, Quality.OK).astype(np.uint8)
    unit = "usd_per_mwh" if kind is SignalKind.PRICE else "g_per_kwh"
    return Series("DE-LU", kind, unit, times, values, quality, step_s)


def daily_wave(days: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    hours = np.arange(days * DAY)
    rng = np.random.default_rng(seed)
    return 300 + 80 * np.sin(2 * np.pi * hours / DAY) + noise * rng.standard_normal(len(hours))


values_strategy = hnp.arrays(
    np.float64,
    st.integers(2 * DAY, 12 * DAY),
    elements=st.one_of(st.floats(0, 1000), st.just(np.nan)),
)


@pytest.mark.parametrize("name", list(models.MODELS))
@given(y=values_strategy, data=st.data())
def test_no_model_uses_values_at_or_after_its_origin(
    name: str, y: np.ndarray, data: st.DataObject
) -> None:
    origin = data.draw(st.integers(1, len(y)))
    changed = y.copy()
    tail = data.draw(hnp.arrays(np.float64, len(y) - origin, elements=st.floats(-1e6, 1e6)))
    changed[origin:] = tail
    fn = models.MODELS[name]
    origins = np.array([origin], dtype=np.int64)
    before = fn(y, origins, 30, DAY)
    after = fn(changed, origins, 30, DAY)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", list(models.MODELS))
@given(
    as_of_h=st.integers(10 * DAY, 20 * DAY),
    minutes=st.integers(0, 59),
    seed=st.integers(0, 2**32 - 1),
)
def test_changing_data_after_as_of_never_changes_the_forecast(
    name: str, as_of_h: int, minutes: int, seed: int
) -> None:
    y = daily_wave(40, noise=20, seed=seed)
    as_of = T0 + timedelta(hours=as_of_h, minutes=minutes)
    changed = y.copy()
    rng = np.random.default_rng(seed + 1)
    # Everything from the step that holds as_of on is rewritten, including that unfinished step.
    changed[as_of_h:] = rng.uniform(-500, 5000, len(y) - as_of_h)
    changed[rng.random(len(y)) < 0.1] = np.nan
    changed[:as_of_h] = y[:as_of_h]
    a = model_forecast(series_of(y), as_of, 48 * 3600, name)
    b = model_forecast(series_of(changed), as_of, 48 * 3600, name)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.lower is not None
    assert b.lower is not None
    np.testing.assert_array_equal(a.lower, b.lower)
    np.testing.assert_array_equal(a.times, b.times)


def test_a_step_is_known_only_once_it_has_ended() -> None:
    s = series_of(np.arange(48.0) + 1)
    known = known_before(s, T0 + timedelta(hours=10, minutes=30))
    assert known.values[-1] == 10.0  # the 09:00 step; 10:00 is still running
    assert len(known_before(s, T0 + timedelta(hours=10))) == 10


def test_persistence_is_the_last_known_value_even_across_a_gap() -> None:
    y = np.array([1.0, 2.0, 3.0, np.nan, np.nan, 9.0])
    out = models.persistence(y, np.array([5, 6]), 3, DAY)
    np.testing.assert_array_equal(out, [[3.0, 3.0, 3.0], [9.0, 9.0, 9.0]])


def test_seasonal_naive_takes_the_same_hour_one_or_more_days_back() -> None:
    y = np.arange(5 * DAY, dtype=np.float64)
    origin = 3 * DAY + 5
    out = models.seasonal_daily(y, np.array([origin]), 2 * DAY + 1, DAY)[0]
    assert out[0] == y[origin - DAY]
    assert out[DAY - 1] == y[origin - 1]
    assert out[DAY] == y[origin - DAY]  # two days back: the newest known value of that hour
    assert out[2 * DAY] == y[origin - DAY]
    weekly = models.seasonal_weekly(
        np.arange(10 * DAY, dtype=np.float64), np.array([9 * DAY]), 3, DAY
    )
    np.testing.assert_array_equal(weekly[0], [2 * DAY, 2 * DAY + 1, 2 * DAY + 2])


def test_seasonal_naive_fills_a_missing_lag_with_the_last_value_before_it() -> None:
    y = np.arange(3 * DAY, dtype=np.float64)
    y[DAY + 2] = np.nan
    out = models.seasonal_daily(y, np.array([2 * DAY]), 4, DAY)[0]
    assert out[2] == y[DAY + 1]


def test_ets_learns_a_clean_daily_cycle() -> None:
    y = np.concatenate([daily_wave(30), np.full(2 * DAY, np.nan)])
    out = models.ets(y, np.array([30 * DAY]), 2 * DAY, DAY)[0]
    truth = daily_wave(32)[30 * DAY :]
    assert np.abs(out - truth).max() < 5.0


def test_models_return_nan_with_nothing_to_go_on() -> None:
    y = np.full(3 * DAY, np.nan)
    for fn in models.MODELS.values():
        assert np.isnan(fn(y, np.array([2 * DAY]), 5, DAY)).all()


def test_a_forecast_starts_at_the_step_holding_as_of_and_covers_the_horizon() -> None:
    s = series_of(daily_wave(40, noise=10))
    as_of = T0 + timedelta(days=20, minutes=30)
    got = model_forecast(s, as_of, 48 * 3600)
    assert got.times[0] == np.datetime64("2022-03-21T00:00:00")
    assert got.times[-1] + np.timedelta64(3600, "s") >= np.datetime64("2022-03-23T00:30:00")
    assert got.model == models.DEFAULT_MODEL
    assert got.generated_at == as_of
    assert got.lower is not None
    assert got.upper is not None
    assert np.all(got.lower <= got.values)
    assert np.all(got.values <= got.upper)
    assert np.all(got.upper - got.lower > 0)


def test_backtest_of_persistence_has_zero_skill_and_the_contract_keys() -> None:
    s = series_of(daily_wave(60, noise=15))
    result = backtest(s, "persistence", 24 * 3600)
    assert result.skill == pytest.approx(0.0)
    data = result.as_dict()
    for key in (
        "zone",
        "kind",
        "model",
        "horizon_h",
        "by_horizon",
        "mae",
        "persistence_mae",
        "skill",
    ):
        assert key in data
    assert [row["h"] for row in data["by_horizon"]] == list(range(1, 25))
    assert set(data["by_horizon"][0]) >= {"h", "mae", "mape"}


def test_backtest_scores_the_daily_models_above_persistence_on_a_daily_signal() -> None:
    s = series_of(daily_wave(90, noise=15, seed=3))
    for name in ("seasonal-daily", "ets"):
        result = backtest(s, name, 48 * 3600)
        assert result.skill is not None
        assert result.skill > 0.5
        assert result.mae < result.persistence_mae


def test_backtest_band_holds_about_eighty_percent() -> None:
    s = series_of(daily_wave(120, noise=30, seed=5))
    result = backtest(s, "ets", 24 * 3600)
    assert result.band_coverage_pct is not None
    assert 70 < result.band_coverage_pct < 90


def test_backtest_mae_matches_a_direct_computation() -> None:
    y = daily_wave(40, noise=10, seed=9)
    s = series_of(y)
    start = T0 + timedelta(days=30)
    end = start + timedelta(days=2)
    result = backtest(s, "seasonal-daily", 3 * 3600, start, end, every_s=3600)
    errors = []
    for o in range(30 * DAY, 32 * DAY):
        for j in range(3):
            errors.append(abs(y[o + j - DAY] - y[o + j]))
    assert result.mae == pytest.approx(float(np.mean(errors)))
    assert result.forecasts == 2 * DAY


def test_backtest_refuses_bad_requests() -> None:
    s = series_of(daily_wave(40))
    with pytest.raises(ConfigError, match="horizon"):
        backtest(s, "ets", 90 * 60)
    with pytest.raises(ConfigError, match="unknown forecast model"):
        backtest(s, "prophet")
    with pytest.raises(ConfigError, match="empty"):
        backtest(s, "ets", 3600, T0 + timedelta(days=5), T0 + timedelta(days=4))
    with pytest.raises(ConfigError, match="period is empty") as caught:
        backtest(s, "ets", 3600, T0 + timedelta(days=100), T0 + timedelta(days=101))
    assert "the data, which runs 2022-03-01" in caught.value.one_line()
    with pytest.raises(SignalDataError, match="could be scored"):
        backtest(series_of(np.full(40 * DAY, np.nan)), "ets", 3600)


def test_backtest_refuses_a_series_whose_step_does_not_divide_a_day() -> None:
    """Hourly buckets of 7-minute values would let values from after an origin in."""
    with pytest.raises(ConfigError, match="does not divide a day"):
        backtest(series_of(daily_wave(40), step_s=420), "persistence", 3600)


def test_backtest_on_two_hour_steps_scores_every_hour_and_refuses_shorter_horizons() -> None:
    s = series_of(daily_wave(40)[::2], step_s=7200)
    result = backtest(s, "seasonal-daily", 3 * 3600, every_s=7200)
    assert [h.h for h in result.by_horizon] == [1, 2, 3]
    assert all(h.mae is not None and np.isfinite(h.mae) for h in result.by_horizon)
    assert result.by_horizon[0].mae == result.by_horizon[1].mae  # one 2-hour step covers both
    with pytest.raises(ConfigError, match="at least one step"):
        backtest(s, "ets", 3600, every_s=7200)


def test_backtest_reports_only_the_origins_it_could_score() -> None:
    s = series_of(daily_wave(40, noise=5))
    far = datetime(2999, 1, 1, tzinfo=UTC)
    result = backtest(s, "persistence", 3600, T0 + timedelta(days=35), far)
    assert result.end < T0 + timedelta(days=40)
    assert result.forecasts == 5 * DAY  # the last origin forecasts the last stored hour


def test_backtest_of_archived_provider_forecasts_uses_only_what_was_generated_by_then(
    tmp_path: Path,
) -> None:
    from gridshift.domain import Forecast
    from gridshift.signals.archive import ForecastArchive

    y = daily_wave(40, noise=10, seed=4)
    s = series_of(y)
    archive = ForecastArchive(tmp_path)
    base = np.datetime64("2022-03-01T00:00:00", "s")

    def save(generated_h: float, offset: float) -> None:
        start_h = int(np.ceil(generated_h)) - 1
        idx = np.arange(start_h, min(start_h + 30, len(y)))
        generated = T0 + timedelta(hours=generated_h)
        archive.save(
            Forecast(
                zone="DE-LU",
                kind=SignalKind.CARBON,
                unit="g_per_kwh",
                as_of=generated,
                times=base + idx * np.timedelta64(3600, "s"),
                values=y[idx] + offset,
                step_s=3600,
                model="electricitymaps",
            )
        )

    for hour in range(30 * DAY, 33 * DAY):
        save(hour + 0.5, 5.0)  # honest: 5 above what happened
        save(hour + 1 + 1 / 6, 1000.0)  # generated 10 minutes after the next origin: future there
    result = backtest(
        s,
        "provider",
        24 * 3600,
        T0 + timedelta(days=30, hours=1),
        T0 + timedelta(days=32),
        archive=archive,
    )
    assert result.model == "provider"
    assert result.mae == pytest.approx(5.0)
    assert result.targets == (2 * DAY - 1) * DAY
    with pytest.raises(SignalDataError, match="no archived provider forecasts"):
        backtest(s, "provider", 3600, archive=ForecastArchive(tmp_path / "empty"))
