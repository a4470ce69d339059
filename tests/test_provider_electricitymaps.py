"""The Electricity Maps live provider against recorded payloads shaped like the API docs.

Requests go to the fakes of ``provider_fakes`` (the ``auth-token`` header and
``shouldUseFallbackCallerLookup=false`` on every one); an answer for another zone than the one
asked for is refused. The HTTP failure rules are checked on the latest and forecast endpoints,
unusable answers on past-range. The three parse functions (latest, history, forecast) are
property-tested apart from HTTP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
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
    ProviderAuthError,
    Quality,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.signals.providers import ProviderOptions
from gridshift.signals.providers.electricitymaps import (
    ElectricityMaps,
    parse_forecast,
    parse_history,
    parse_latest,
)

fixture = fixture_loader("electricitymaps")
TOKEN = "test-token-123"
ENV = {"ELECTRICITYMAPS_API_TOKEN": TOKEN}
C = SignalKind.CARBON
BASE = "/v3/carbon-intensity"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
provider = partial(rig, ElectricityMaps, now=NOW, environ=ENV)
# The span of the recorded past-range answer, and the parameters that ask for it.
PAST = (at("2019-05-21T21:00:00"), at("2019-05-22T00:00:00"))
PAST_PARAMS = {"zone": "DE", "start": "2019-05-21T21:00:00Z", "end": "2019-05-22T00:00:00Z"}
LATEST = Endpoint(provider, lambda made: made.latest("DE", C))
HISTORY = Endpoint(
    provider,
    lambda made: made.history("DE", C, *PAST),
    where="electricitymaps carbon-intensity/past-range",
)
FORECAST = Endpoint(provider, lambda made: made.forecast("DE", C))


def times_of(series: Series | Forecast) -> list[str]:
    return [str(t) for t in series.times.astype("datetime64[s]")]


def check_request(request: httpx.Request, path: str, **params: str) -> None:
    """``request`` went to ``path`` with ``params``, the token, and the caller-location fallback
    turned off."""
    assert request.url.path == f"{BASE}/{path}"
    assert dict(request.url.params) == {**params, "shouldUseFallbackCallerLookup": "false"}
    assert request.headers["auth-token"] == TOKEN


# --- happy paths -------------------------------------------------------------------------------


def test_latest_is_one_estimated_point_known_at_updated_at() -> None:
    made, server, _ = provider(serve(fixture("latest.json")))
    series = made.latest("DE", C)
    check_request(server.requests[0], "latest", zone="DE")
    assert times_of(series) == ["2018-04-25T18:00:00"]
    assert series.values.tolist() == [302.0]
    assert series.quality.tolist() == [Quality.ESTIMATED]
    assert series.unit == "g_per_kwh"
    assert series.step_s == 3600
    assert series.source == "electricitymaps api"
    assert series.as_of == at("2018-04-25T18:07:01")
    assert series.attrs["emission_factor_type"] == "lifecycle"
    assert "estimated" in codes(series)


def test_history_within_the_last_day_uses_the_history_endpoint() -> None:
    now = at("2021-08-19T14:30:00")
    made, server, _ = provider(serve(fixture("history.json")), now=now)
    series = made.history("DE", C, at("2021-08-19T09:00:00"), at("2021-08-19T14:00:00"))
    assert len(server.requests) == 1
    check_request(server.requests[0], "history", zone="DE")
    assert times_of(series) == [f"2021-08-19T{h:02d}:00:00" for h in range(9, 14)]
    assert series.values.tolist() == [402.0, 388.0, 371.0, 359.0, 338.0]
    assert series.quality.tolist() == [Quality.OK] * 4 + [Quality.ESTIMATED]


def test_history_in_the_past_uses_past_range() -> None:
    made, server, _ = provider(serve(fixture("past_range.json")))
    series = made.history("DE", C, *PAST)
    check_request(server.requests[0], "past-range", **PAST_PARAMS)
    assert series.values.tolist() == [339.0, 317.0, 305.0]
    assert times_of(series)[0] == "2019-05-21T21:00:00"
    assert codes(series) == {}


def hourly_range(request: httpx.Request) -> httpx.Response:
    """A past-range answer for the request's start..end, end included (as an API might)."""
    template = json.loads(fixture("past_range.json"))["data"][0]
    start = datetime.fromisoformat(request.url.params["start"])
    end = datetime.fromisoformat(request.url.params["end"])
    items, t = [], start
    while t <= end:
        item = dict(template, datetime=t.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        item["carbonIntensity"] = 200 + t.hour
        items.append(item)
        t += timedelta(hours=1)
    return httpx.Response(200, json={"zone": "DE", "data": items})


def test_a_long_history_is_split_into_ten_day_requests_and_merged() -> None:
    made, server, _ = provider(hourly_range)
    start = at("2022-01-01T00:00:00")
    series = made.history("DE", C, start, start + timedelta(days=25))
    bounds = [
        ("2022-01-01T00:00:00Z", "2022-01-11T00:00:00Z"),
        ("2022-01-11T00:00:00Z", "2022-01-21T00:00:00Z"),
        ("2022-01-21T00:00:00Z", "2022-01-26T00:00:00Z"),
    ]
    assert len(server.requests) == len(bounds)
    for request, (lo, hi) in zip(server.requests, bounds, strict=True):
        check_request(request, "past-range", zone="DE", start=lo, end=hi)
    assert_merged_span(series, start, timedelta(days=25), 25 * 24, [200.0, 201.0, 202.0])


def test_emission_factor_is_sent_as_emission_factor_type() -> None:
    options = ProviderOptions(extra={"emission_factor": "direct"})
    made, server, _ = provider(serve(fixture("past_range.json")), options=options)
    series = made.history("DE", C, *PAST)
    check_request(server.requests[0], "past-range", **PAST_PARAMS, emissionFactorType="direct")
    # the recorded answer says lifecycle: that is reported, not hidden
    assert "direct" in codes(series)["emission_factor"]["message"]


def test_forecast_starts_at_the_step_holding_its_generation_time() -> None:
    made, server, _ = provider(serve(fixture("forecast.json")))
    forecast = made.forecast("DK-DK2", C)
    check_request(server.requests[0], "forecast", zone="DK-DK2")
    generated = datetime(2018, 11, 26, 17, 25, 24, 685000, tzinfo=UTC)
    assert forecast.generated_at == generated
    assert forecast.as_of == generated
    assert forecast.model == "electricitymaps"
    assert forecast.step_s == 3600
    assert forecast.unit == "g_per_kwh"
    # the 16:00 point ended before the forecast was made: dropped
    assert times_of(forecast)[0] == "2018-11-26T17:00:00"
    assert forecast.values.tolist() == [326.0, 297.0, 281.0, 262.0, 240.0, 236.0, 251.0]
    assert forecast.horizon_s == 7 * 3600 - (25 * 60 + 24)


# --- the zone answered for ----------------------------------------------------------------------


def test_every_request_turns_off_the_caller_location_fallback() -> None:
    """Unless told ``shouldUseFallbackCallerLookup=false``, the API answers for the caller's IP
    location when it has no zone or no data for it: every endpoint sends it."""
    sent: list[httpx.Request] = []
    calls: list[tuple[Any, Callable[[ElectricityMaps], Any], datetime]] = [
        (serve(fixture("latest.json")), lambda made: made.latest("DE", C), NOW),
        (serve(fixture("forecast.json")), lambda made: made.forecast("DK-DK2", C), NOW),
        (
            serve(fixture("history.json")),
            lambda made: made.history("DE", C, at("2021-08-19T09:00"), at("2021-08-19T14:00")),
            at("2021-08-19T14:30:00"),
        ),
        (  # two past-range windows
            hourly_range,
            lambda made: made.history("DE", C, at("2022-01-01T00:00"), at("2022-01-15T00:00")),
            NOW,
        ),
    ]
    for answer, call, now in calls:
        made, server, _ = provider(answer, now=now)
        call(made)
        sent += server.requests
    assert [r.url.path.rsplit("/", 1)[1] for r in sent] == [
        "latest",
        "forecast",
        "history",
        "past-range",
        "past-range",
    ]
    for request in sent:
        assert request.url.params["shouldUseFallbackCallerLookup"] == "false", request.url


def relabelled(name: str, zone: str | None, *, top: bool = True, point: int | None = None) -> bytes:
    """The recorded answer ``name`` with its top-level zone (``top``) or the zone of point
    ``point`` of its list set to ``zone``."""
    payload = json.loads(fixture(name))
    if top:
        payload["zone"] = zone
    if point is not None:
        key = next(k for k in ("data", "history", "forecast") if k in payload)
        payload[key][point]["zone"] = zone
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("call", "body", "said"),
    [
        # the reproducer: FR asked for, the answer is DE's (the caller's location)
        (lambda made: made.latest("FR", C), fixture("latest.json"), "'DE', not FR"),
        (lambda made: made.history("DE", C, *PAST), relabelled("past_range.json", "FR"), "'FR'"),
        (
            lambda made: made.history("DE", C, *PAST),
            relabelled("past_range.json", "NL", top=False, point=1),
            r"data\[1\] is for zone 'NL', not DE",
        ),
        (lambda made: made.forecast("DE", C), fixture("forecast.json"), "'DK-DK2', not DE"),
        (
            lambda made: made.forecast("DK-DK2", C),
            relabelled("forecast.json", "SE-SE4", top=False, point=0),
            r"forecast\[0\] is for zone 'SE-SE4'",
        ),
        (lambda made: made.latest("DE", C), relabelled("latest.json", None), "null, not DE"),
    ],
)
def test_an_answer_for_another_zone_is_refused_not_stored(
    call: Callable[[ElectricityMaps], Any], body: bytes, said: str
) -> None:
    made, _, _ = provider(serve(body))
    with pytest.raises(SignalDataError, match=said) as caught:
        call(made)
    assert caught.value.one_line().startswith("electricitymaps carbon-intensity/")


def test_a_window_answered_for_another_zone_refuses_the_whole_history() -> None:
    def second_window_elsewhere(request: httpx.Request) -> httpx.Response:
        answer = hourly_range(request)
        if request.url.params["start"] == "2022-01-11T00:00:00Z":
            return httpx.Response(200, json={**json.loads(answer.content), "zone": "PL"})
        return answer

    made, server, _ = provider(second_window_elsewhere)
    with pytest.raises(SignalDataError, match="'PL', not DE"):
        made.history("DE", C, at("2022-01-01T00:00:00"), at("2022-01-15T00:00:00"))
    assert len(server.requests) == 2


def test_parsers_refuse_another_zone_and_accept_answers_without_one() -> None:
    with pytest.raises(SignalDataError, match="'DE', not DE-LU"):
        parse_history(fixture("past_range.json"), "DE-LU", C, "em")
    unlabelled = json.loads(fixture("past_range.json"))
    del unlabelled["zone"]
    for item in unlabelled["data"]:
        del item["zone"]
    series = parse_history(json.dumps(unlabelled).encode(), "DE-LU", C, "em")
    assert series.zone == "DE-LU"
    assert codes(series) == {}


# --- clock changes -----------------------------------------------------------------------------


def test_autumn_clock_change_duplicate_kept_once_and_gap_left() -> None:
    made, _, _ = provider(serve(fixture("past_range_dst_autumn.json")))
    series = made.history("FR", C, at("2022-10-30T00:00:00"), at("2022-10-30T06:00:00"))
    assert times_of(series) == [f"2022-10-30T{h:02d}:00:00" for h in (0, 1, 3, 4, 5)]
    found = codes(series)
    assert found["duplicate"]["count"] == 1
    assert found["gap"]["count"] == 1
    assert found["dst"]["count"] == 2  # 1 missing and 1 duplicated next to the change


def test_spring_clock_change_gap_left_as_a_gap() -> None:
    made, _, _ = provider(serve(fixture("past_range_dst_spring.json")))
    series = made.history("FR", C, at("2022-03-26T22:00:00"), at("2022-03-27T05:00:00"))
    assert len(series) == 6
    assert "2022-03-27T01:00:00" not in times_of(series)
    found = codes(series)
    assert found["gap"]["locations"] == ["2022-03-27T01:00:00Z (1 step(s))"]
    assert found["dst"]["count"] == 1
    assert "duplicate" not in found


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_an_auth_error_naming_the_variable(status: int) -> None:
    error = check_refusal_is_an_auth_error(LATEST, status, b'{"message": "Invalid auth-token"}')
    assert "ELECTRICITYMAPS_API_TOKEN" in (error.hint or "")


def test_missing_token_is_an_auth_error_naming_it() -> None:
    with pytest.raises(ProviderAuthError) as caught:
        provider(serve(b"{}"), environ={})
    assert "ELECTRICITYMAPS_API_TOKEN" in caught.value.one_line()


def test_429_with_short_retry_after_is_waited_for() -> None:
    series = check_short_retry_after_is_waited_for(LATEST, fixture("latest.json"))
    assert series.values.tolist() == [302.0]


test_429_with_long_retry_after_gives_up_at_once = long_retry_after_test(LATEST)
test_server_errors_are_retried_then_unavailable = server_errors_test(FORECAST)


def with_values(name: str, key: str, value: Any) -> bytes:
    payload = json.loads(fixture(name))
    for item in payload[key]:
        item["carbonIntensity"] = value
    return json.dumps(payload).encode()


test_unusable_history_answers_are_signal_data_errors = unusable_answers_test(
    HISTORY,
    fixture("past_range.json")[:150],
    (with_values("past_range.json", "data", 0), "all 3 values are 0"),
    (with_values("past_range.json", "data", None), "no value"),
    (b'{"zone": "DE"}', "has no 'data'"),
    (b'{"zone": "DE", "data": {"datetime": 1}}', "should be a list"),
    (b'{"zone": "DE", "data": [{"datetime": 5, "carbonIntensity": 3}]}', "time string"),
    (b"[1, 2, 3]", "should be an object"),
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (fixture("forecast.json")[:-40], "not valid JSON"),
        (with_values("forecast.json", "forecast", 0), "values are 0"),
        (json.dumps({"zone": "DK-DK2", "forecast": []}).encode(), "no 'updatedAt'"),
        (
            json.dumps(
                {**json.loads(fixture("forecast.json")), "updatedAt": "2030-01-01T00:00Z"}
            ).encode(),
            "no forecast point is after",
        ),
    ],
)
def test_unusable_forecasts_are_signal_data_errors(body: bytes, reason: str) -> None:
    with pytest.raises(SignalDataError, match=reason):
        parse_forecast(body, "DK-DK2", C, "electricitymaps carbon-intensity/forecast")


def test_latest_of_zero_is_refused() -> None:
    payload = dict(json.loads(fixture("latest.json")), carbonIntensity=0)
    with pytest.raises(SignalDataError, match="only value is 0"):
        parse_latest(json.dumps(payload).encode(), "DE", C, "em latest")


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "kind", "options", "field"),
    [
        ("de", C, ProviderOptions(), "zone"),
        ("DE", SignalKind.PRICE, ProviderOptions(), "kind"),
        ("DE", C, ProviderOptions(region="13"), "region"),
        ("DE", C, ProviderOptions(extra={"emission_factor": "operational"}), "emission_factor"),
    ],
)
def test_check_refuses_what_it_cannot_serve(
    zone: str, kind: SignalKind, options: ProviderOptions, field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        ElectricityMaps.check(zone, kind, options)
    assert caught.value.field == field


def test_check_accepts_any_zone_id() -> None:
    for zone in ("DE", "US-CAL-CISO", "AU-NSW", "XX-NEW1"):
        ElectricityMaps.check(zone, C, ProviderOptions(extra={"emission_factor": "lifecycle"}))


# --- properties --------------------------------------------------------------------------------


assert_valid = partial(assert_valid_result, unit="g_per_kwh")


PARSERS: dict[str, Callable[[bytes], Series | Forecast]] = {
    "latest": lambda body: parse_latest(body, "DE", C, "em latest"),
    "history": lambda body: parse_history(body, "DE", C, "em history"),
    "forecast": lambda body: parse_forecast(body, "DE", C, "em forecast"),
}

TIMES = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1))
ODD_TIMES = odd_times("2022-10-30T01:00:00", "1850-01-01T00:00:00Z", "2400-01-01T00:00:00Z")
ODD_VALUES = ODD_SCALARS | st.lists(st.integers(), max_size=2)
FIELDS = ("datetime", "carbonIntensity", "isEstimated", "updatedAt", "zone", None)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    """A documented payload of ``kind`` whose fields were replaced, dropped or shuffled."""
    start = draw(TIMES).replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
    n = draw(st.integers(1, 30))
    items: list[dict[str, Any]] = []
    for i in range(n):
        t = (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        item: dict[str, Any] = {"carbonIntensity": draw(st.integers(0, 900)), "datetime": t}
        if kind != "forecast":
            item.update(zone="DE", emissionFactorType="lifecycle", isEstimated=False)
        items.append(item)
    for _ in range(draw(st.integers(0, 4))):
        item = items[draw(st.integers(0, n - 1))]
        key = draw(st.sampled_from(FIELDS))
        if key is None:
            items.insert(draw(st.integers(0, len(items))), dict(item))  # a duplicate
        elif draw(st.booleans()):
            item.pop(key, None)
        else:
            item[key] = draw(ODD_TIMES if key in ("datetime", "updatedAt") else ODD_VALUES)
    if draw(st.booleans()):
        draw(st.randoms()).shuffle(items)
    if kind == "latest":
        return json.dumps(items[0]).encode()
    top: dict[str, Any] = {"zone": "DE", "forecast" if kind == "forecast" else "data": items}
    if kind == "forecast":
        first = items[0].get("datetime")
        top["updatedAt"] = first if draw(st.integers(0, 3)) else draw(ODD_TIMES)
    return json.dumps(top).encode()


per_parser = partial(parser_property, PARSERS, assert_valid)
test_any_bytes_give_a_result_or_a_gridshift_error = per_parser(st.binary(max_size=300))
test_any_json_gives_a_result_or_a_gridshift_error = per_parser(JSON_BODIES)
test_mutated_payloads_give_a_result_or_a_gridshift_error = per_parser(mutated)


def test_huge_numbers_and_nan_tokens_are_missing_points_not_crashes() -> None:
    payload = json.loads(fixture("past_range.json"))
    payload["data"][0]["carbonIntensity"] = 10**400
    payload["data"][1]["carbonIntensity"] = math.nan
    series = parse_history(json.dumps(payload).encode(), "DE", C, "em")
    assert series.quality.tolist() == [Quality.MISSING, Quality.MISSING, Quality.OK]
