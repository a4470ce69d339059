"""The WattTime API v3 provider against recorded payloads shaped like docs.watttime.org's examples.

A routing fake API (login, data, forecast, signal index, region lookup) built on the fakes of
``provider_fakes``; token expiry is a matter of moving the fake wall clock. The recorded
/v3/historical answer was asked for with ``include_imputed_marker=true``: the fake, like the API,
leaves ``imputed_data_used`` out of answers to requests without it. No zone has a default
WattTime region, so the provider is built with ``region: CAISO_NORTH`` unless a test says
otherwise. The HTTP failure rules are checked on the login and forecast paths. Property tests
feed every parse function arbitrary bytes, text, JSON values and mutated real payloads.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from provider_fakes import (
    FAST,
    JSON_BODIES,
    TEXT_BODIES,
    Endpoint,
    FakeTime,
    Handler,
    Server,
    assert_valid_forecast,
    assert_valid_series,
    build,
    check_refusal_is_an_auth_error,
    check_short_retry_after_is_waited_for,
    codes,
    fixture_loader,
    long_retry_after_test,
    outcome,
    property_test,
    respond,
    server_errors_test,
    unusable_answers_test,
)
from provider_fakes import at_np as at

from gridshift.config.site import site_from_data
from gridshift.domain import (
    ConfigError,
    Forecast,
    ProviderAuthError,
    Quality,
    SignalDataError,
    SignalKind,
)
from gridshift.signals.providers import ProviderOptions, make_provider
from gridshift.signals.providers._readers import forecast_from
from gridshift.signals.providers.watttime import WattTime
from gridshift.signals.providers.watttime_json import (
    parse_data,
    parse_forecast,
    parse_login,
    parse_region,
    parse_signal_index,
)

fixture = fixture_loader("watttime")
ZONE = "US-CAL-CISO"
M = SignalKind.MARGINAL
LB = 0.45359237  # lbs/MWh -> g/kWh
ENV = {"WATTTIME_USERNAME": "freddo", "WATTTIME_PASSWORD": "the_frog"}
BASIC = "Basic " + base64.b64encode(b"freddo:the_frog").decode()
T0 = datetime(2023, 3, 1, 12, 10, tzinfo=UTC)
LABEL = "watttime test"
CAISO_NORTH = ProviderOptions(region="CAISO_NORTH")


def historical(request: httpx.Request) -> httpx.Response:
    """The recorded /v3/historical answer; ``imputed_data_used`` is in it only when the request
    asked for it with ``include_imputed_marker=true``, as the API documents."""
    payload = json.loads(fixture("historical.json"))
    if request.url.params.get("include_imputed_marker") != "true":
        for point in payload["data"]:
            point.pop("imputed_data_used", None)
    return httpx.Response(200, json=payload)


class Fake(Server):
    """A fake WattTime: routes by path, counts logins, records every request."""

    def __init__(self, routes: dict[str, Handler | bytes] | None = None) -> None:
        super().__init__(self.route)
        self.routes: dict[str, Handler | bytes] = {
            "/login": self.login,
            "/v3/historical": historical,
            "/v3/forecast": fixture("forecast.json"),
            "/v3/signal-index": fixture("signal_index.json"),
            "/v3/region-from-loc": fixture("region_from_loc.json"),
        }
        self.routes.update(routes or {})
        self.tokens = 0

    def login(self, request: httpx.Request) -> httpx.Response:
        self.tokens += 1
        return httpx.Response(200, json={"token": f"token-{self.tokens}"})

    def route(self, request: httpx.Request) -> httpx.Response:
        answer = self.routes.get(request.url.path)
        if answer is None:
            return httpx.Response(404, json={"error": "NOT_FOUND"})
        return respond(answer, request)


def provider(
    fake: Handler, time: FakeTime | None = None, options: ProviderOptions | None = None
) -> WattTime:
    """A WattTime provider over ``fake`` at ``time`` (T0), for ``region: CAISO_NORTH`` unless
    ``options`` say otherwise."""
    return build(
        WattTime,
        fake,
        time or FakeTime(T0),
        options=CAISO_NORTH if options is None else options,
        environ=ENV,
        policy=FAST,
    )


def endpoint(path: str, call: Callable[[WattTime], object], where: str = "") -> Endpoint:
    """``call``, with the answers on ``path`` from a given handler (the rest as recorded)."""

    def make(handler: Handler) -> tuple[WattTime, Fake, FakeTime]:
        fake, time = Fake({path: handler}), FakeTime(T0)
        return provider(fake, time), fake, time

    return Endpoint(make, call, where)


def forecast_then_index(minutes: int) -> tuple[WattTime, Fake]:
    """A forecast, then ``minutes`` later a signal index, through one provider."""
    fake, time = Fake(), FakeTime(T0)
    wt = provider(fake, time)
    wt.forecast(ZONE, M)
    time.wall_s += minutes * 60
    wt.signal_index(ZONE)
    return wt, fake


LOGIN = endpoint("/login", lambda wt: wt.forecast(ZONE, M))
FORECAST = endpoint("/v3/forecast", lambda wt: wt.forecast(ZONE, M))
HISTORY = endpoint(
    "/v3/historical",
    lambda wt: wt.history(ZONE, M, T0 - timedelta(hours=1), T0),
    where="watttime /v3/historical",
)


# ---------------------------------------------------------------------------------------------
# Happy paths


def test_login_with_basic_auth_then_bearer_on_data_calls() -> None:
    fake = Fake()
    series = provider(fake).history(
        ZONE, M, datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 1, 1, tzinfo=UTC)
    )
    (login,) = fake.to("/login")
    assert login.headers["Authorization"] == BASIC
    (data,) = fake.to("/v3/historical")
    assert data.headers["Authorization"] == "Bearer token-1"
    assert dict(data.url.params) == {
        "region": "CAISO_NORTH",
        "start": "2023-03-01T00:00:00+00:00",
        "end": "2023-03-01T00:59:59+00:00",
        "signal_type": "co2_moer",
        "include_imputed_marker": "true",
    }
    raw = json.loads(fixture("historical.json"))["data"]
    assert len(series) == 12
    assert series.step_s == 300
    assert series.values[0] == pytest.approx(raw[0]["value"] * LB)
    assert series.times[0] == at("2023-03-01T00:00:00")
    assert series.source == "watttime api"
    assert series.unit == "g_per_kwh"
    assert series.quality[7] == Quality.ESTIMATED  # imputed_data_used: true
    assert int((series.quality == Quality.OK).sum()) == 11


def test_imputed_points_are_marked_because_the_marker_is_asked_for() -> None:
    """The fake answers as the API does: without ``include_imputed_marker=true`` no point says
    ``imputed_data_used``, and no point could be marked."""
    bare = httpx.Request("GET", "https://api.watttime.org/v3/historical?region=CAISO_NORTH")
    assert b"imputed_data_used" not in historical(bare).content
    fake = Fake()
    series = provider(fake).history(
        ZONE, M, datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 1, 1, tzinfo=UTC)
    )
    assert fake.to("/v3/historical")[0].url.params["include_imputed_marker"] == "true"
    assert series.quality.tolist().count(Quality.ESTIMATED) == 1
    assert codes(series)["estimated"]["count"] == 1


def test_token_is_reused_while_fresh() -> None:
    _, fake = forecast_then_index(20)
    assert len(fake.to("/login")) == 1
    assert [r.headers["Authorization"] for r in fake.requests[1:]] == ["Bearer token-1"] * 2


def test_logs_in_again_when_the_token_is_older_than_30_minutes() -> None:
    wt, fake = forecast_then_index(31)
    assert len(fake.to("/login")) == 2
    assert wt.logins == 2
    assert fake.to("/v3/signal-index")[0].headers["Authorization"] == "Bearer token-2"


def test_logs_in_again_once_on_a_401() -> None:
    def historical(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer token-1":
            return httpx.Response(401, json={"error": "TOKEN_EXPIRED"})
        return httpx.Response(200, content=fixture("historical.json"))

    fake = Fake({"/v3/historical": historical})
    series = provider(fake).history(
        ZONE, M, datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 1, 1, tzinfo=UTC)
    )
    assert len(series) == 12
    assert [r.url.path for r in fake.requests] == [
        "/login",
        "/v3/historical",
        "/login",
        "/v3/historical",
    ]


def test_a_second_401_is_an_auth_error_not_a_loop() -> None:
    fake = Fake({"/v3/forecast": lambda r: httpx.Response(401, json={"error": "NO"})})
    with pytest.raises(ProviderAuthError) as caught:
        provider(fake).forecast(ZONE, M)
    assert caught.value.status == 401
    assert len(fake.to("/login")) == 2
    assert len(fake.to("/v3/forecast")) == 2


def test_region_from_location_is_looked_up_once() -> None:
    fake = Fake()
    options = ProviderOptions(extra={"latitude": "38.58", "longitude": "-121.49"})
    wt = provider(fake, options=options)
    wt.signal_index("US-NW-PACW")
    wt.forecast("US-NW-PACW", M)
    (lookup,) = fake.to("/v3/region-from-loc")
    assert dict(lookup.url.params) == {
        "latitude": "38.58",
        "longitude": "-121.49",
        "signal_type": "co2_moer",
    }
    assert lookup.headers["Authorization"] == "Bearer token-1"
    assert fake.to("/v3/forecast")[0].url.params["region"] == "CAISO_NORTH"


@pytest.mark.parametrize("zone", [ZONE, "US-MIDA-PJM", "DE"])
def test_a_zone_alone_is_refused_at_config_time_naming_the_region_field(zone: str) -> None:
    """No zone maps to a WattTime region: WattTime splits CAISO (and others) into sub-regions, so
    a zone does not say which one."""
    with pytest.raises(ConfigError) as caught:
        WattTime.check(zone, M, ProviderOptions())
    assert caught.value.field == "region"
    text = caught.value.one_line()
    assert zone in text
    assert "region: CAISO_NORTH" in text
    assert "latitude/longitude" in text
    fake = Fake()
    with pytest.raises(ConfigError, match="needs a region"):
        provider(fake, options=ProviderOptions()).forecast(zone, M)
    assert fake.requests == []


def test_a_config_source_without_region_or_location_is_refused() -> None:
    signal = {"zone": ZONE, "kind": "marginal", "source": "watttime"}
    site = {
        "clusters": [
            {"name": "sac", "zone": ZONE, "gpus": 8, "tariff": {"kind": "fixed", "usd_per_mwh": 90}}
        ],
        "objective": {"mode": "cost"},
    }
    with pytest.raises(ConfigError) as caught:
        site_from_data({**site, "signals": [signal]}, "gridshift.yaml", Path("."))
    assert caught.value.field == "signals[0].region"
    assert "region: CAISO_NORTH" in caught.value.one_line()
    for fix in ({"region": "CAISO_NORTH"}, {"latitude": 38.58, "longitude": -121.49}):
        loaded = site_from_data({**site, "signals": [{**signal, **fix}]}, "g.yaml", Path("."))
        assert loaded.signals[0].source == "watttime"


def test_region_option_wins_and_bad_options_are_refused_at_config_time() -> None:
    fake = Fake()
    provider(fake, options=ProviderOptions(region="PJM_NJ")).forecast("US-MIDA-PJM", M)
    assert fake.to("/v3/forecast")[0].url.params["region"] == "PJM_NJ"
    with pytest.raises(ConfigError) as kind:
        WattTime.check(ZONE, SignalKind.CARBON, CAISO_NORTH)
    assert kind.value.field == "kind"
    with pytest.raises(ConfigError) as lat:
        WattTime.check(ZONE, M, ProviderOptions(extra={"latitude": "95", "longitude": "0"}))
    assert lat.value.field == "extra.latitude"


def historical_range(request: httpx.Request) -> httpx.Response:
    """Every 5-minute point from ``start`` to ``end`` inclusive, as the API answers."""
    start = datetime.fromisoformat(request.url.params["start"])
    end = datetime.fromisoformat(request.url.params["end"])
    moment = start + timedelta(seconds=-start.timestamp() % 300)
    data = []
    while moment <= end:
        data.append({"point_time": moment.isoformat(), "value": 900.0 + moment.hour})
        moment += timedelta(minutes=5)
    meta = json.loads(fixture("historical.json"))["meta"]
    return httpx.Response(200, json={"data": data, "meta": meta})


def test_chunks_from_different_model_versions_are_kept_and_noted() -> None:
    """The official client checks ``meta.model.date`` is the same across merged chunks; here
    the second chunk comes from a newer model: kept, with an info issue naming both."""

    def new_model_in_february(request: httpx.Request) -> httpx.Response:
        answer = json.loads(historical_range(request).content)
        if request.url.params["start"] >= "2023-02":
            answer["meta"]["model"]["date"] = "2024-06-01"
        return httpx.Response(200, json=answer)

    fake = Fake({"/v3/historical": new_model_in_february})
    start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 10, tzinfo=UTC)
    series = provider(fake).history(ZONE, M, start, end)
    assert len(fake.to("/v3/historical")) == 2
    assert len(series) == 40 * 288
    note = codes(series)["model_version"]
    assert note["severity"] == "info"
    assert note["count"] == 8 * 288  # the points of the second chunk
    assert "2023-03-01" in note["message"]
    assert "2024-06-01" in note["message"]
    same = provider(Fake({"/v3/historical": historical_range})).history(ZONE, M, start, end)
    assert "model_version" not in codes(same)


def test_history_is_split_into_requests_of_at_most_32_days() -> None:
    fake = Fake({"/v3/historical": historical_range})
    start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 10, tzinfo=UTC)
    series = provider(fake).history(ZONE, M, start, end)
    params = [dict(r.url.params) for r in fake.to("/v3/historical")]
    assert [(p["start"], p["end"]) for p in params] == [
        ("2023-01-01T00:00:00+00:00", "2023-02-01T23:59:59+00:00"),
        ("2023-02-02T00:00:00+00:00", "2023-02-09T23:59:59+00:00"),
    ]
    assert len(series) == 40 * 288
    assert series.step_s == 300
    assert series.times[0] == at("2023-01-01T00:00:00")
    assert series.times[-1] == at("2023-02-09T23:55:00")
    assert codes(series) == {}  # no duplicate at the chunk boundary
    assert len(fake.to("/login")) == 1


def test_latest_asks_for_the_recent_hours() -> None:
    fake = Fake({"/v3/historical": historical_range})
    series = provider(fake).latest(ZONE, M)
    (request,) = fake.to("/v3/historical")
    assert request.url.params["start"] == "2023-03-01T09:10:00+00:00"  # 3 h staleness window
    assert request.url.params["end"] == "2023-03-01T12:14:59+00:00"  # the step holding now
    assert series.times[-1] == at("2023-03-01T12:10:00")
    assert series.values[-1] == pytest.approx(912 * LB)


def test_latest_asks_for_whole_steps_so_calls_within_one_share_the_cache() -> None:
    fake, time = Fake({"/v3/historical": historical_range}), FakeTime(T0 + timedelta(seconds=7))
    wt = provider(fake, time)
    first = wt.latest(ZONE, M)
    time.wall_s += 40  # 12:10:47, the same 5-minute step
    again = wt.latest(ZONE, M)
    (request,) = fake.to("/v3/historical")  # the second call was answered from the cache
    assert request.url.params["start"] == "2023-03-01T09:10:00+00:00"
    assert request.url.params["end"] == "2023-03-01T12:14:59+00:00"
    assert again.times.tolist() == first.times.tolist()
    time.wall_s += 4 * 60  # 12:14:47: still that step, but the cached answer is too old to reuse
    wt.latest(ZONE, M)
    time.wall_s += 20  # 12:15:07: the next step
    wt.latest(ZONE, M)
    asked = [(r.url.params["start"], r.url.params["end"]) for r in fake.to("/v3/historical")]
    assert asked[1:] == [
        ("2023-03-01T09:10:00+00:00", "2023-03-01T12:14:59+00:00"),
        ("2023-03-01T09:15:00+00:00", "2023-03-01T12:19:59+00:00"),
    ]


def test_forecast_keeps_the_native_step_and_the_providers_generation_time() -> None:
    fake = Fake()
    forecast = provider(fake).forecast(ZONE, M)
    (request,) = fake.to("/v3/forecast")
    assert dict(request.url.params) == {
        "region": "CAISO_NORTH",
        "signal_type": "co2_moer",
        "horizon_hours": "24",
    }
    generated = datetime(2023, 3, 1, 12, tzinfo=UTC)
    assert forecast.as_of == generated
    assert forecast.generated_at == generated
    assert forecast.model == "watttime"
    assert forecast.step_s == 300
    assert forecast.unit == "g_per_kwh"
    assert forecast.kind is M
    # 11:50 and 11:55 ended by 12:00, when the forecast was made: dropped; 12:00 holds it
    assert forecast.times[0] == at("2023-03-01T12:00:00")
    assert len(forecast.times) == 24
    raw = {p["point_time"]: p["value"] for p in json.loads(fixture("forecast.json"))["data"]}
    assert forecast.values[0] == pytest.approx(raw["2023-03-01T12:00:00+00:00"] * LB)


def test_forecast_is_never_dated_after_now() -> None:
    body = fixture("forecast.json")
    early = datetime(2023, 3, 1, 11, 58, tzinfo=UTC)  # our clock two minutes behind theirs
    forecast = parse_forecast(body, ZONE, M, LABEL, now=early)
    assert forecast.as_of == early
    assert forecast.generated_at == early
    assert forecast.times[0] == at("2023-03-01T11:55:00")
    stale = json.loads(body)
    stale["meta"]["generated_at"] = "2023-03-03T00:00:00+00:00"  # after every point
    with pytest.raises(SignalDataError, match="no forecast point"):
        parse_forecast(json.dumps(stale).encode(), ZONE, M, LABEL)


@pytest.mark.parametrize(
    ("cut", "first"),
    [
        ("2023-03-01T12:00:00", "2023-03-01T12:00:00"),  # on a step: the one that ended is out
        ("2023-03-01T12:02:30", "2023-03-01T12:00:00"),  # inside one: the step holding it
        ("2023-03-01T11:59:59", "2023-03-01T11:55:00"),
    ],
)
def test_forecast_from_keeps_the_steps_that_end_after_the_cut(cut: str, first: str) -> None:
    series = parse_data(fixture("forecast.json"), ZONE, M, LABEL)
    generated = datetime.fromisoformat(cut).replace(tzinfo=UTC)
    forecast = forecast_from(
        series, at(cut), generated=generated, step_s=300, model="m", empty="none", label=LABEL
    )
    assert forecast.times[0] == at(first)
    assert forecast.times[-1] == series.times[-1]
    with pytest.raises(SignalDataError, match="none"):
        forecast_from(
            series,
            series.times[-1] + np.timedelta64(300, "s"),
            generated=generated,
            step_s=300,
            model="m",
            empty="none",
            label=LABEL,
        )


def test_forecast_horizon_from_options() -> None:
    fake = Fake()
    options = ProviderOptions(region="CAISO_NORTH", extra={"horizon_hours": "72"})
    provider(fake, options=options).forecast(ZONE, M)
    assert fake.to("/v3/forecast")[0].url.params["horizon_hours"] == "72"


def test_signal_index_is_a_percentile_not_an_emissions_rate() -> None:
    fake = Fake()
    when, value = provider(fake).signal_index(ZONE)
    assert (when, value) == (datetime(2023, 3, 1, 12, 5, tzinfo=UTC), 37.0)
    assert dict(fake.to("/v3/signal-index")[0].url.params) == {
        "region": "CAISO_NORTH",
        "signal_type": "co2_moer",
    }
    moer = fixture("historical.json")
    with pytest.raises(SignalDataError, match="percentile"):
        parse_signal_index(moer, LABEL)


# ---------------------------------------------------------------------------------------------
# Failures


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_auth_errors(status: int) -> None:
    error = check_refusal_is_an_auth_error(LOGIN, status, b'{"error": "INVALID"}')
    assert "WATTTIME_USERNAME" in (error.hint or "")


def test_403_on_data_is_an_auth_error_without_a_new_login() -> None:
    fake = Fake({"/v3/forecast": lambda r: httpx.Response(403, json={"error": "FORBIDDEN"})})
    with pytest.raises(ProviderAuthError):
        provider(fake).forecast(ZONE, M)
    assert len(fake.to("/login")) == 1


def test_429_with_a_short_retry_after_is_waited_for() -> None:
    result = check_short_retry_after_is_waited_for(FORECAST, fixture("forecast.json"))
    assert isinstance(result, Forecast)


test_429_with_a_long_retry_after_gives_up_at_once = long_retry_after_test(FORECAST)
test_server_errors_are_retried_then_unavailable = server_errors_test(FORECAST)


test_malformed_answers_are_signal_data_errors = unusable_answers_test(
    HISTORY,
    fixture("historical.json")[:150],
    (b'{"data": [], "meta": {"units": "lbs_co2_per_mwh"}}', "no MOER data"),
    (b'{"data": {}, "meta": {"units": "lbs_co2_per_mwh"}}', "not a list"),
    (b'{"data": []}', "meta is null"),
    (b"[1, 2]", "not an object"),
)


def test_all_zero_values_are_refused() -> None:
    payload = json.loads(fixture("historical.json"))
    for point in payload["data"]:
        point["value"] = 0
    with pytest.raises(SignalDataError, match="all 12 values are 0"):
        parse_data(json.dumps(payload).encode(), ZONE, M, LABEL)


def test_unknown_units_and_signal_types_are_refused() -> None:
    payload = json.loads(fixture("historical.json"))
    payload["meta"]["units"] = "kWh"
    with pytest.raises(SignalDataError, match=r"meta\.units"):
        parse_data(json.dumps(payload).encode(), ZONE, M, LABEL)
    payload["meta"].update(units="lbs_co2_per_mwh", signal_type="health_damage")
    with pytest.raises(SignalDataError, match="signal_type"):
        parse_data(json.dumps(payload).encode(), ZONE, M, LABEL)


def test_forecast_without_generated_at_is_refused() -> None:
    payload = json.loads(fixture("forecast.json"))
    del payload["meta"]["generated_at"]
    with pytest.raises(SignalDataError, match="generated_at"):
        parse_forecast(json.dumps(payload).encode(), ZONE, M, LABEL)


def test_spring_forward_gap_is_left_as_a_gap() -> None:
    series = parse_data(fixture("historical_dst_spring.json"), ZONE, M, LABEL)
    assert len(series) == 24
    steps = np.diff(series.times.astype(np.int64))
    assert sorted(set(steps.tolist())) == [300, 13 * 300]  # one hour missing, not filled
    assert series.times[12] == at("2022-03-13T11:00:00")
    assert "dst" in codes(series)
    assert "gap" in codes(series)


def test_fall_back_duplicates_are_kept_once() -> None:
    series = parse_data(fixture("historical_dst_autumn.json"), ZONE, M, LABEL)
    raw = json.loads(fixture("historical_dst_autumn.json"))["data"]
    assert len(raw) == 48
    assert len(series) == 36
    assert bool(np.all(np.diff(series.times.astype(np.int64)) == 300))
    first = next(p["value"] for p in raw if p["point_time"] == "2022-11-06T09:00:00+00:00")
    assert series.values[12] == pytest.approx(first * LB)  # the first of the duplicates
    assert "duplicate" in codes(series)


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ProviderAuthError) as caught:
        make_provider("watttime", environ={})
    assert "WATTTIME_USERNAME" in str(caught.value)
    assert "WATTTIME_PASSWORD" in str(caught.value)
    with pytest.raises(ProviderAuthError, match="WATTTIME_PASSWORD"):
        make_provider("watttime", environ={"WATTTIME_USERNAME": "freddo"})


def test_bug_integers_too_large_for_a_float_are_not_numbers() -> None:
    """Found by hand after the property tests: ``float(10**400)`` raises OverflowError."""
    payload = json.loads(fixture("historical.json"))
    payload["data"][0]["value"] = 10**400
    series = parse_data(json.dumps(payload).encode(), ZONE, M, LABEL)
    assert series.quality[0] == Quality.MISSING
    assert codes(series)["nan"]["message"].startswith("1 point(s) have no value")
    index = {"data": [{"point_time": "2023-03-01T12:05:00+00:00", "value": 10**400}]}
    with pytest.raises(SignalDataError, match="0-100"):
        parse_signal_index(json.dumps(index).encode(), LABEL)


def test_login_and_region_answers_are_checked() -> None:
    assert parse_login(fixture("login.json"), LABEL).startswith("eyJ")
    assert parse_region(fixture("region_from_loc.json"), LABEL) == "CAISO_NORTH"
    with pytest.raises(SignalDataError, match="token"):
        parse_login(b'{"token": ""}', LABEL)
    with pytest.raises(SignalDataError, match="region"):
        parse_region(b'{"region": "../etc/passwd"}', LABEL)


# ---------------------------------------------------------------------------------------------
# Properties: a valid result or a GridshiftError, nothing else

ODD = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.sampled_from([10**400, -(10**400)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "2022-03-13T10:00:00",
            "2022-03-13T10:00:00Z",
            "1899-12-31T23:00:00+00:00",
            "2300-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00-23:59",
            "9999-12-31T23:59:59+23:59",
            "١٢:٠٠",
            "NaN",
            "1e400",
            "-870",
            "",
        ]
    )
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)
)


def parse_all(body: bytes) -> None:
    if (series := outcome(lambda: parse_data(body, ZONE, M, LABEL))) is not None:
        event("a valid series")
        assert_valid_series(series, "g_per_kwh", at_least=2)
    if (forecast := outcome(lambda: parse_forecast(body, ZONE, M, LABEL))) is not None:
        assert_valid_forecast(forecast, "g_per_kwh")
    index = outcome(lambda: parse_signal_index(body, LABEL))
    if index is not None:
        assert isinstance(index, tuple)
        assert 0 <= index[1] <= 100
    for parse in (parse_login, parse_region):
        text = outcome(partial(parse, body, LABEL))
        assert text is None or (isinstance(text, str) and text)


test_property_arbitrary_bytes = property_test(st.binary(max_size=400), parse_all)
test_property_arbitrary_text = property_test(TEXT_BODIES, parse_all)
test_property_arbitrary_json = property_test(JSON_BODIES, parse_all)


@given(
    st.sampled_from(["historical.json", "forecast.json", "historical_dst_autumn.json"]),
    st.data(),
)
def test_property_mutated_payloads(name: str, data: st.DataObject) -> None:
    payload = copy.deepcopy(json.loads(fixture(name)))
    points = payload["data"]
    for _ in range(data.draw(st.integers(0, 6))):
        i = data.draw(st.integers(0, len(points) - 1))
        field = data.draw(st.sampled_from(["point_time", "value", "imputed_data_used"]))
        if data.draw(st.booleans()):
            points[i][field] = data.draw(ODD)
        else:
            points[i].pop(field, None)
    for _ in range(data.draw(st.integers(0, 2))):
        key = data.draw(
            st.sampled_from(["units", "data_point_period_seconds", "generated_at", "signal_type"])
        )
        payload["meta"][key] = data.draw(ODD)
    if data.draw(st.integers(0, 3)) == 0:
        del points[data.draw(st.integers(0, len(points) - 1)) :]
    body = json.dumps(payload).encode()
    if data.draw(st.integers(0, 3)) == 0:  # truncated
        body = body[: data.draw(st.integers(0, len(body)))]
    parse_all(body)
