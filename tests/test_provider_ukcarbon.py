"""The Carbon Intensity API (Great Britain) live provider against recorded payloads shaped like
the API docs, national and regional.

Requests go to the fakes of ``provider_fakes`` (no key is sent: the API needs none); the HTTP
failure rules are checked on the latest, forecast and history paths. The history and forecast
parse functions are property-tested apart from HTTP, with national and both regional envelopes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import strategies as st
from provider_fakes import (
    JSON_BODIES,
    ODD_SCALARS,
    Endpoint,
    assert_merged_span,
    assert_valid_result,
    at,
    check_refusal_is_an_auth_error,
    check_short_retry_after_is_waited_for,
    codes,
    fixture_loader,
    long_retry_after_test,
    odd_times,
    parser_property,
    rig,
    serve,
    server_errors_test,
    unusable_answers_test,
)

from gridshift.domain import (
    ConfigError,
    Forecast,
    Quality,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.signals.providers import ProviderOptions
from gridshift.signals.providers._json import windows
from gridshift.signals.providers.ukcarbon import (
    REGIONS,
    UkCarbonIntensity,
    new_years,
    parse_forecast,
    parse_history,
)

fixture = fixture_loader("ukcarbon")
C = SignalKind.CARBON
LONDON = ProviderOptions(region="13")
NOW = datetime(2018, 1, 20, 12, 10, 42, tzinfo=UTC)
provider = partial(rig, UkCarbonIntensity, now=NOW)
SPAN = (at("2018-01-20T12:00"), at("2018-01-20T14:30"))  # of the recorded range answer
LATEST = Endpoint(provider, lambda made: made.latest("GB", C))
FORECAST = Endpoint(provider, lambda made: made.forecast("GB", C))
HISTORY = Endpoint(
    provider,
    lambda made: made.history("GB", C, *SPAN),
    where="uk-carbon-intensity /intensity/{from}/{to}",
)


def times_of(series: Series | Forecast) -> list[str]:
    return [str(t)[:16] for t in series.times.astype("datetime64[s]")]


# --- happy paths: national ---------------------------------------------------------------------


def test_latest_national_prefers_actual() -> None:
    made, server, _ = provider(serve(fixture("intensity.json")))
    series = made.latest("GB", C)
    assert server.paths == ["/intensity"]
    assert dict(server.requests[0].url.params) == {}
    assert "auth-token" not in server.requests[0].headers
    assert times_of(series) == ["2018-01-20T12:00"]
    assert series.values.tolist() == [263.0]
    assert series.quality.tolist() == [Quality.OK]
    assert series.step_s == 1800
    assert series.source == "uk-carbon-intensity api"
    assert series.as_of == NOW
    assert series.attrs["region"] == "national"


def test_history_national_keeps_the_range_and_falls_back_to_forecast() -> None:
    made, server, _ = provider(serve(fixture("intensity_range.json")))
    series = made.history("GB", C, *SPAN)
    assert server.paths == ["/intensity/2018-01-20T12:00Z/2018-01-20T14:30Z"]
    # the period ending at 12:00 that the API adds is dropped
    assert times_of(series) == [
        "2018-01-20T12:00",
        "2018-01-20T12:30",
        "2018-01-20T13:00",
        "2018-01-20T13:30",
        "2018-01-20T14:00",
    ]
    assert series.values.tolist() == [263.0, 262.0, 250.0, 247.0, 249.0]  # last: no actual yet
    assert series.quality.tolist() == [Quality.OK] * 4 + [Quality.ESTIMATED]
    assert codes(series)["estimated"]["count"] == 1


def half_hourly(request: httpx.Request) -> httpx.Response:
    """A national range answer for the path's from..to, with the period ending at from and the
    one starting at to (as the API includes both ends)."""
    _, _, start_text, end_text = request.url.path.split("/")
    start = datetime.strptime(start_text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    end = datetime.strptime(end_text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    data, t = [], start - timedelta(minutes=30)
    while t <= end:
        value = 150 + t.hour
        data.append(
            {
                "from": t.strftime("%Y-%m-%dT%H:%MZ"),
                "to": (t + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                "intensity": {"forecast": value + 3, "actual": value, "index": "moderate"},
            }
        )
        t += timedelta(minutes=30)
    return httpx.Response(200, json={"data": data})


def test_a_long_history_is_split_into_fourteen_day_requests_and_merged() -> None:
    made, server, _ = provider(half_hourly)
    start = at("2022-01-01T00:00")
    series = made.history("GB", C, start, start + timedelta(days=30))
    assert server.paths == [
        "/intensity/2022-01-01T00:00Z/2022-01-15T00:00Z",
        "/intensity/2022-01-15T00:00Z/2022-01-29T00:00Z",
        "/intensity/2022-01-29T00:00Z/2022-01-31T00:00Z",
    ]
    assert_merged_span(series, start, timedelta(days=30), 30 * 48, [150.0, 150.0, 151.0])


def new_year_bug(request: httpx.Request) -> httpx.Response:
    """``half_hourly``, with the API's bug: a range that crosses 1 January 00:00Z returns
    nothing after 31 December (carbon-intensity/api-definitions issue 12)."""
    _, _, start_text, end_text = request.url.path.split("/")
    start = datetime.strptime(start_text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    end = datetime.strptime(end_text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    answer = json.loads(half_hourly(request).content)
    crossed = [
        y
        for y in range(start.year + 1, end.year + 1)
        if start < datetime(y, 1, 1, tzinfo=UTC) < end
    ]
    if crossed:
        cut = f"{crossed[0]}-01-01T00:00Z"
        answer["data"] = [p for p in answer["data"] if p["from"] < cut]
    return httpx.Response(200, json=answer)


def test_a_history_across_new_year_is_cut_there_and_loses_nothing() -> None:
    made, server, _ = provider(new_year_bug, now=at("2024-02-01T00:00"))
    start = at("2023-12-25T00:00")
    series = made.history("GB", C, start, at("2024-01-05T00:00"))
    assert server.paths == [
        "/intensity/2023-12-25T00:00Z/2024-01-01T00:00Z",
        "/intensity/2024-01-01T00:00Z/2024-01-05T00:00Z",
    ]
    assert_merged_span(series, start, timedelta(days=11), 11 * 48, [150.0, 150.0, 151.0])
    assert "2024-01-01T00:00" in times_of(series)


def test_a_history_over_years_is_cut_at_each_new_year_and_every_fourteen_days() -> None:
    made, server, _ = provider(new_year_bug, now=at("2024-02-01T00:00"))
    start, end = at("2022-12-20T00:00"), at("2024-01-20T00:00")
    series = made.history("GB", C, start, end)
    bounds = [tuple(p.split("/")[2:4]) for p in server.paths]
    assert bounds[0] == ("2022-12-20T00:00Z", "2023-01-01T00:00Z")
    assert bounds[1] == ("2023-01-01T00:00Z", "2023-01-15T00:00Z")
    assert ("2023-12-31T00:00Z", "2024-01-01T00:00Z") in bounds  # cut short at New Year
    assert bounds[-1] == ("2024-01-15T00:00Z", "2024-01-20T00:00Z")
    assert_merged_span(series, start, end - start, (end - start).days * 48, [150.0])


def test_windows_end_at_the_cuts_given_and_only_there() -> None:
    lo, hi = at("2023-12-20T00:00"), at("2024-01-20T00:00")
    assert new_years(lo, hi) == [at("2024-01-01T00:00")]
    assert new_years(at("2024-01-01T00:00"), at("2025-01-01T00:00")) == []  # at the ends
    assert windows(lo, hi, 14, new_years(lo, hi)) == [
        (lo, at("2024-01-01T00:00")),
        (at("2024-01-01T00:00"), at("2024-01-15T00:00")),
        (at("2024-01-15T00:00"), hi),
    ]
    # without cuts (as the other providers call it), the windows are as before
    assert windows(lo, hi, 14) == [
        (lo, at("2024-01-03T00:00")),
        (at("2024-01-03T00:00"), at("2024-01-17T00:00")),
        (at("2024-01-17T00:00"), hi),
    ]
    assert windows(lo, hi, 14, [at("2020-01-01T00:00"), hi, lo]) == windows(lo, hi, 14)


def test_forecast_national_is_generated_at_the_request_half_hour() -> None:
    made, server, _ = provider(serve(fixture("intensity_fw48h.json")))
    forecast = made.forecast("GB", C)
    assert server.paths == ["/intensity/2018-01-20T12:00Z/fw48h"]
    assert forecast.generated_at == at("2018-01-20T12:00")
    assert forecast.as_of == forecast.generated_at
    assert forecast.step_s == 1800
    assert forecast.model == "uk-carbon-intensity"
    assert forecast.unit == "g_per_kwh"
    assert times_of(forecast)[0] == "2018-01-20T12:00"  # the 11:30 period is dropped
    assert forecast.values.tolist() == [262.0, 258.0, 251.0, 247.0, 240.0, 238.0, 244.0]
    assert "request time" in forecast.note


# --- happy paths: regional ---------------------------------------------------------------------


def test_latest_regional() -> None:
    made, server, _ = provider(serve(fixture("regional_regionid.json")), options=LONDON)
    series = made.latest("GB", C)
    assert server.paths == ["/regional/regionid/13"]
    assert series.values.tolist() == [224.0]
    assert series.quality.tolist() == [Quality.ESTIMATED]  # regions have forecasts only
    assert series.attrs["region"] == "13 London"


def test_history_regional_uses_forecasts_marked_estimated() -> None:
    made, server, _ = provider(serve(fixture("regional_range.json")), options=LONDON)
    series = made.history("GB", C, at("2018-05-15T12:00"), at("2018-05-15T14:00"))
    assert server.paths == ["/regional/intensity/2018-05-15T12:00Z/2018-05-15T14:00Z/regionid/13"]
    assert series.values.tolist() == [224.0, 219.0, 214.0, 220.0]
    assert bool(np.all(series.quality == Quality.ESTIMATED))


def test_forecast_regional() -> None:
    now = at("2018-05-15T12:29")
    made, server, _ = provider(serve(fixture("regional_fw48h.json")), options=LONDON, now=now)
    forecast = made.forecast("GB", C)
    assert server.paths == ["/regional/intensity/2018-05-15T12:00Z/fw48h/regionid/13"]
    assert forecast.generated_at == at("2018-05-15T12:00")
    assert forecast.values.tolist() == [219.0, 214.0, 220.0, 228.0, 236.0]


# --- clock changes -----------------------------------------------------------------------------


def test_clock_change_duplicate_kept_once_and_gap_left() -> None:
    made, _, _ = provider(serve(fixture("intensity_dst.json")))
    series = made.history("GB", C, at("2022-10-30T00:00"), at("2022-10-30T03:00"))
    assert times_of(series) == [
        "2022-10-30T00:00",
        "2022-10-30T00:30",
        "2022-10-30T01:00",
        "2022-10-30T02:00",
        "2022-10-30T02:30",
    ]
    found = codes(series)
    assert found["duplicate"]["count"] == 1
    assert found["gap"]["locations"] == ["2022-10-30T01:30:00Z (1 step(s))"]
    assert found["dst"]["count"] == 2


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refusals_are_auth_errors(status: int) -> None:
    error = check_refusal_is_an_auth_error(
        LATEST, status, b'{"error": {"code": "403", "message": "no"}}'
    )
    assert error.provider == "uk-carbon-intensity"


def test_429_with_short_retry_after_is_waited_for() -> None:
    series = check_short_retry_after_is_waited_for(LATEST, fixture("intensity.json"))
    assert series.values.tolist() == [263.0]


test_429_with_long_retry_after_gives_up_at_once = long_retry_after_test(FORECAST)
test_server_errors_are_retried_then_unavailable = server_errors_test(HISTORY)


def with_intensity(name: str, **intensity: Any) -> bytes:
    payload = json.loads(fixture(name))
    for period in payload["data"]:
        period["intensity"].update(intensity)
    return json.dumps(payload).encode()


test_unusable_answers_are_signal_data_errors = unusable_answers_test(
    HISTORY,
    fixture("intensity_range.json")[:200],
    (with_intensity("intensity_range.json", actual=0, forecast=0), "values are 0"),
    (with_intensity("intensity_range.json", actual=None, forecast=None), "no value"),
    (b'{"data": [{"from": "2018-01-20T12:00Z"}]}', "has no 'intensity'"),
    (b'{"error": {"code": "400", "message": "Invalid"}}', "has no 'data'"),
    (b'{"data": [{"from": "2018-01-20T12:00", "intensity": {"actual": 5}}]}', "no zone"),
)


def test_a_forecast_entirely_in_the_past_is_refused() -> None:
    with pytest.raises(SignalDataError, match="no forecast point is after"):
        parse_forecast(fixture("intensity_fw48h.json"), "GB", C, "uk fw48h", at("2018-01-21T00:00"))


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["0", "18", "london", "1.5", "", "١٣"])
def test_check_refuses_unknown_regions_listing_them(region: str) -> None:
    with pytest.raises(ConfigError) as caught:
        UkCarbonIntensity.check("GB", C, ProviderOptions(region=region))
    assert caught.value.field == "region"
    assert "13 London" in (caught.value.accepted or "")
    assert "1 North Scotland" in (caught.value.accepted or "")


def test_check_refuses_other_zones_and_kinds() -> None:
    with pytest.raises(ConfigError) as caught:
        UkCarbonIntensity.check("DE", C, ProviderOptions())
    assert caught.value.field == "zone"
    with pytest.raises(ConfigError) as caught:
        UkCarbonIntensity.check("GB", SignalKind.PRICE, ProviderOptions())
    assert caught.value.field == "kind"


def test_check_accepts_national_and_every_region() -> None:
    UkCarbonIntensity.check("GB", C, ProviderOptions())
    for region in REGIONS:
        UkCarbonIntensity.check("GB", C, ProviderOptions(region=str(region)))
    assert len(REGIONS) == 17


# --- properties --------------------------------------------------------------------------------

GENERATED = at("2018-01-20T12:00")


def assert_valid(result: Series | Forecast) -> None:
    assert result.zone == "GB"
    assert_valid_result(result, "g_per_kwh")
    if isinstance(result, Forecast):
        assert result.as_of == GENERATED


PARSERS: dict[str, Callable[[bytes], Series | Forecast]] = {
    "history": lambda body: parse_history(body, "GB", C, "uk history"),
    "forecast": lambda body: parse_forecast(body, "GB", C, "uk forecast", GENERATED),
}

ODD_TIMES = odd_times("2018-01-20T12:00", "2018-01-20 12:00Z", "1850-01-01T00:00Z", "2018-01-20")
ODD_VALUES = ODD_SCALARS | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
SHAPES = ("national", "regional-list", "regional-object")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A documented payload (national, regional list or regional object) with fields replaced,
    dropped, duplicated or shuffled."""
    start = GENERATED + timedelta(minutes=30 * draw(st.integers(-4, 4)))
    n = draw(st.integers(1, 40))
    periods: list[dict[str, Any]] = []
    for i in range(n):
        t = start + timedelta(minutes=30 * i)
        periods.append(
            {
                "from": t.strftime("%Y-%m-%dT%H:%MZ"),
                "to": (t + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                "intensity": {
                    "forecast": draw(st.integers(0, 500)),
                    "actual": draw(st.one_of(st.none(), st.integers(0, 500))),
                    "index": "moderate",
                },
            }
        )
    for _ in range(draw(st.integers(0, 4))):
        period = periods[draw(st.integers(0, n - 1))]
        key = draw(st.sampled_from(["from", "intensity", "forecast", "actual", "dup"]))
        target = period if key in ("from", "intensity") else period.get("intensity")
        if key == "dup":
            periods.insert(draw(st.integers(0, len(periods))), json.loads(json.dumps(period)))
        elif not isinstance(target, dict) or draw(st.booleans()):
            if isinstance(target, dict):
                target.pop(key, None)
        else:
            target[key] = draw(ODD_TIMES if key == "from" else ODD_VALUES)
    if draw(st.booleans()):
        draw(st.randoms()).shuffle(periods)
    region = {"regionid": 13, "dnoregion": "UKPN London", "shortname": "London", "data": periods}
    shape = draw(st.sampled_from(SHAPES))
    envelopes: dict[str, dict[str, Any]] = {
        "national": {"data": periods},
        "regional-list": {"data": [region]},
        "regional-object": {"data": region},
    }
    top = envelopes[shape]
    return json.dumps(top).encode()


per_parser = partial(parser_property, PARSERS, assert_valid)
test_any_bytes_give_a_result_or_a_gridshift_error = per_parser(st.binary(max_size=300))
test_any_json_gives_a_result_or_a_gridshift_error = per_parser(JSON_BODIES)
test_mutated_payloads_give_a_result_or_a_gridshift_error = per_parser(mutated())


@pytest.mark.parametrize("shape", ["regional_regionid.json", "regional_range.json"])
def test_both_regional_envelopes_read_the_same_way(shape: str) -> None:
    series = parse_history(fixture(shape), "GB", C, "uk")
    assert series.values[0] in (224.0, 231.0)
    assert series.attrs["region"] == "13 London"


def test_current_marks_a_value_past_the_staleness_limit_stale() -> None:
    made, _, _ = provider(serve(fixture("intensity.json")))
    fresh = made.current("GB", C, datetime(2018, 1, 20, 12, 45, tzinfo=UTC))
    assert fresh.quality.tolist() == [Quality.OK]
    late = datetime(2018, 1, 20, 12, 30, tzinfo=UTC) + timedelta(hours=3, minutes=1)
    stale = made.current("GB", C, late)
    assert stale.quality.tolist() == [Quality.STALE]
    assert stale.values.tolist() == [263.0]
