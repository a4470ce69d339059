"""The forecast a decision gets: provider, model on history, seasonal, flat — and never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from gridshift.config.site import site_from_data
from gridshift.domain import (
    ConfigError,
    Forecast,
    NotFoundError,
    ProviderUnavailableError,
    Quality,
    Series,
    SignalKind,
)
from gridshift.forecasting.feeds import site_feeds
from gridshift.forecasting.service import FLAT_DEFAULTS, Feed, Forecaster
from gridshift.signals.archive import ForecastArchive
from gridshift.signals.library import SignalLibrary

T0 = datetime(2022, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30, minutes=20)
HORIZON = 48 * 3600


def history(days: int = 40, zone: str = "GB") -> Series:
    hours = np.arange(days * 24)
    values = 200 + 60 * np.sin(2 * np.pi * hours / 24)
    times = np.datetime64("2022-03-01T00:00:00") + hours * np.timedelta64(3600, "s")
    quality = np.zeros(len(hours), dtype=np.uint8)
    return Series(zone, SignalKind.CARBON, "g_per_kwh", times, values, quality, 3600)


def provider_forecast(generated: datetime, hours: int = 24, value: float = 123.0) -> Forecast:
    start = np.datetime64(generated.replace(tzinfo=None, minute=0, second=0), "s")
    times = start + np.arange(hours) * np.timedelta64(3600, "s")
    return Forecast(
        zone="GB",
        kind=SignalKind.CARBON,
        unit="g_per_kwh",
        as_of=generated,
        generated_at=generated,
        times=times,
        values=np.full(hours, value),
        step_s=3600,
        model="uk-carbon-intensity",
    )


def forecaster(feed: Feed, now: datetime = NOW) -> Forecaster:
    return Forecaster({(feed.zone, feed.kind): feed}, now=lambda: now)


def failing() -> Forecast:
    raise ProviderUnavailableError("HTTP 503 Service Unavailable", provider="uk-carbon-intensity")


def assert_usable(got: Forecast, as_of: datetime = NOW) -> None:
    assert np.isfinite(got.values).all()
    assert got.as_of == as_of
    assert got.times[0] <= np.datetime64(as_of.replace(tzinfo=None), "s")
    assert got.horizon_s >= HORIZON


def test_a_live_provider_forecast_is_used_and_archived(tmp_path: Path) -> None:
    archive = ForecastArchive(tmp_path)
    generated = NOW - timedelta(minutes=10)
    feed = Feed(
        "GB",
        SignalKind.CARBON,
        history,
        live=lambda: provider_forecast(generated, hours=60),
        archive=archive,
        source="uk-carbon-intensity",
    )
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert_usable(got)
    assert got.model == "uk-carbon-intensity"
    assert got.quality == "ok"
    assert got.generated_at == generated
    assert (got.values == 123.0).all()
    stored = archive.latest("GB", SignalKind.CARBON, NOW)
    assert stored is not None
    assert stored.generated_at == generated


def test_a_short_provider_forecast_is_continued_by_the_model() -> None:
    feed = Feed(
        "GB",
        SignalKind.CARBON,
        history,
        live=lambda: provider_forecast(NOW - timedelta(minutes=5), hours=12),
        source="uk-carbon-intensity",
    )
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert_usable(got)
    assert got.model == "uk-carbon-intensity+ets"
    assert got.quality == "ok"
    assert (got.values[:12] == 123.0).all()
    assert not (got.values[12:] == 123.0).any()
    assert "on history after it" in got.note


def test_provider_down_falls_back_to_the_model_on_history_and_says_so() -> None:
    feed = Feed("GB", SignalKind.CARBON, history, live=failing, source="uk-carbon-intensity")
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert_usable(got)
    assert got.model == "ets"
    assert got.quality == "fallback"
    assert "HTTP 503" in got.note


def test_a_provider_bug_never_reaches_the_caller() -> None:
    def broken() -> Forecast:
        raise KeyError("data")

    feed = Feed("GB", SignalKind.CARBON, history, live=broken, source="uk-carbon-intensity")
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert got.quality == "fallback"
    assert "KeyError" in got.note


def test_an_archived_forecast_is_used_only_as_of_its_generation(tmp_path: Path) -> None:
    archive = ForecastArchive(tmp_path)
    early = NOW - timedelta(hours=1)
    late = NOW + timedelta(hours=1)
    archive.save(provider_forecast(early, hours=60, value=111.0))
    archive.save(provider_forecast(late, hours=60, value=999.0))
    feed = Feed("GB", SignalKind.CARBON, history, archive=archive, source="uk-carbon-intensity")
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert got.generated_at == early
    assert (got.values == 111.0).all()
    later = forecaster(feed).forecast("GB", SignalKind.CARBON, late, HORIZON)
    assert (later.values == 999.0).all()


def test_a_stale_provider_forecast_is_not_used(tmp_path: Path) -> None:
    archive = ForecastArchive(tmp_path)
    archive.save(provider_forecast(NOW - timedelta(hours=5), hours=80))
    feed = Feed("GB", SignalKind.CARBON, history, archive=archive, source="uk-carbon-intensity")
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert got.model == "ets"
    assert got.quality == "fallback"
    assert "stale" in got.note


def test_stale_history_falls_back_to_repeating_the_last_week() -> None:
    feed = Feed("GB", SignalKind.CARBON, lambda: history(days=20))
    as_of = T0 + timedelta(days=45)
    got = forecaster(feed, as_of).forecast("GB", SignalKind.CARBON, as_of, HORIZON)
    assert_usable(got, as_of)
    assert got.model == "seasonal-fallback"
    assert got.quality == "fallback"
    assert "history is stale" in got.note
    # The daily wave survives: the same hour of two days matches.
    assert got.values[0] == pytest.approx(got.values[24])


def test_no_history_and_no_provider_is_flat_at_the_stated_default() -> None:
    def nothing() -> Series:
        raise NotFoundError("no carbon data for zone GB")

    feed = Feed("GB", SignalKind.CARBON, nothing, live=failing, source="uk-carbon-intensity")
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert_usable(got)
    assert got.model == "flat"
    assert (got.values == FLAT_DEFAULTS[SignalKind.CARBON]).all()
    assert "no history" in got.note
    assert "HTTP 503" in got.note


def test_a_live_forecast_is_not_fetched_for_a_past_as_of() -> None:
    calls = []

    def live() -> Forecast:
        calls.append(1)
        return provider_forecast(NOW)

    feed = Feed("GB", SignalKind.CARBON, history, live=live, source="uk-carbon-intensity")
    past = NOW - timedelta(days=2)
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, past, HORIZON)
    assert calls == []
    assert got.model == "ets"


def test_unknown_zone_and_model_are_user_errors() -> None:
    fc = forecaster(Feed("GB", SignalKind.CARBON, history))
    with pytest.raises(ConfigError, match="no price signal"):
        fc.forecast("GB", SignalKind.PRICE, NOW, HORIZON)
    with pytest.raises(ConfigError, match="unknown forecast model"):
        fc.forecast("GB", SignalKind.CARBON, NOW, HORIZON, model="prophet")


def test_history_with_missing_points_still_gives_finite_values() -> None:
    def holey() -> Series:
        s = history()
        values = s.values.copy()
        values[-30:] = np.nan
        values[100:400] = np.nan
        quality = np.where(np.isnan(values), Quality.MISSING, Quality.OK).astype(np.uint8)
        return s.with_points(s.times, values, quality)

    feed = Feed("GB", SignalKind.CARBON, holey, staleness_s=2 * 86400)
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW + timedelta(days=9), HORIZON)
    assert np.isfinite(got.values).all()


def test_site_feeds_degrade_when_the_real_provider_refuses(tmp_path: Path) -> None:
    """A live source whose provider answers 429 with a long Retry-After: no wait, a fallback."""
    site = site_from_data(
        {
            "clusters": [
                {
                    "name": "lon",
                    "zone": "GB",
                    "gpus": 8,
                    "tariff": {"kind": "fixed", "usd_per_mwh": 90},
                }
            ],
            "signals": [{"zone": "GB", "kind": "carbon", "source": "uk-carbon-intensity"}],
        },
        "gridshift.yaml",
        tmp_path,
    )
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "3600"})

    lib = SignalLibrary(tmp_path)
    feeds = site_feeds(site, lib, transport=httpx.MockTransport(handler))
    as_of = datetime(2022, 6, 1, 12, tzinfo=UTC)
    got = Forecaster(feeds, now=lambda: as_of).forecast("GB", SignalKind.CARBON, as_of, HORIZON)
    assert seen, "the provider was asked"
    assert got.quality == "fallback"
    assert "3600" in got.note
    assert got.model == "ets"  # the bundled GB history is fresh at this as-of
    assert np.isfinite(got.values).all()


def test_flat_uses_only_what_was_known_at_as_of() -> None:
    """Before the history starts, the flat value is the stated default, not the future's mean."""
    feed = Feed("GB", SignalKind.CARBON, history)
    before = T0 - timedelta(days=3)
    got = forecaster(feed, before).forecast("GB", SignalKind.CARBON, before, HORIZON)
    assert got.model == "flat"
    assert (got.values == FLAT_DEFAULTS[SignalKind.CARBON]).all()


def test_provider_model_without_a_provider_is_a_user_error() -> None:
    fc = forecaster(Feed("GB", SignalKind.CARBON, history))
    with pytest.raises(ConfigError, match="no live provider source"):
        fc.forecast("GB", SignalKind.CARBON, NOW, HORIZON, model="provider")


def test_an_unreadable_archive_is_a_fallback_not_a_crash(tmp_path: Path) -> None:
    archive = ForecastArchive(tmp_path)
    path = archive.path("GB", SignalKind.CARBON)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet at all")
    feed = Feed("GB", SignalKind.CARBON, history, archive=archive, source="uk-carbon-intensity")
    got = forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON)
    assert got.quality == "fallback"
    assert "archive unreadable" in got.note
    assert np.isfinite(got.values).all()


def test_an_archived_forecast_counts_from_when_it_was_fetched(tmp_path: Path) -> None:
    """A forecast the provider dates 11:30 but we fetched at 11:55 was not ours at 11:35."""
    archive = ForecastArchive(tmp_path)
    generated = NOW - timedelta(minutes=20)
    archive.save(provider_forecast(generated, hours=60), fetched_at=NOW + timedelta(minutes=5))
    feed = Feed("GB", SignalKind.CARBON, history, archive=archive, source="uk-carbon-intensity")
    assert forecaster(feed).forecast("GB", SignalKind.CARBON, NOW, HORIZON).model == "ets"
    later = NOW + timedelta(minutes=6)
    got = forecaster(feed, later).forecast("GB", SignalKind.CARBON, later, HORIZON)
    assert got.model == "uk-carbon-intensity"
    assert got.generated_at == generated
