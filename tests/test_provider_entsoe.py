"""The ENTSO-E provider against recorded A44 documents shaped like the Transparency Platform's.

A fake Transparency Platform built on the fakes of ``provider_fakes``; the HTTP failure rules are
checked on the day-ahead history request. Property tests feed the parse functions arbitrary bytes,
XML-ish text and real documents with mutated fields.
"""

from __future__ import annotations

import copy
import math
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from provider_fakes import (
    FAST,
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
    serve,
    server_errors_test,
    unusable_answers_test,
)
from provider_fakes import at_np as at

from gridshift.domain import (
    ConfigError,
    ProviderAuthError,
    ProviderRequestError,
    Quality,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.signals.providers import ProviderOptions, make_provider
from gridshift.signals.providers.entsoe import ZONE_EIC, Entsoe
from gridshift.signals.providers.entsoe_prices import DEFAULT_EUR_USD
from gridshift.signals.providers.entsoe_xml import parse_document, parse_forecast

fixture = fixture_loader("entsoe")
P = SignalKind.PRICE
DE = "10Y1001A1001A82H"
TOKEN = "5e1ab2c3-0000-4a4b-9c9d-feedfacecafe"
ENV = {"ENTSOE_SECURITY_TOKEN": TOKEN}
NOW = datetime(2023, 3, 1, 10, 30, tzinfo=UTC)
LABEL = "entsoe test"
SPAN = (datetime(2023, 2, 28, 23, tzinfo=UTC), datetime(2023, 3, 1, 23, tzinfo=UTC))


def prices(body: bytes) -> list[float]:
    """The price.amount values of a document, in document order."""
    root = ET.fromstring(body)
    return [float(e.text or "") for e in root.iter() if e.tag.endswith("}price.amount")]


class Fake(Server):
    """A fake Transparency Platform answering every GET with ``answer(request)``, or with the
    document ``answer``."""

    def __init__(self, answer: Handler | bytes) -> None:
        super().__init__(answer, headers={"Content-Type": "text/xml"})


def provider(
    fake: Handler,
    time: FakeTime | None = None,
    options: ProviderOptions | None = None,
    cache_dir: Path | None = None,
) -> Entsoe:
    time = time or FakeTime(NOW)
    return build(Entsoe, fake, time, options=options, environ=ENV, policy=FAST, cache_dir=cache_dir)


def document(name: str, **kwargs: Any) -> tuple[bytes, Series]:
    """A recorded document and the series read from it as German prices."""
    body = fixture(name)
    return body, parse_document(body, "DE-LU", P, LABEL, **kwargs)


def served(handler: Handler) -> tuple[Entsoe, Fake, FakeTime]:
    """The provider, its fake platform answering with ``handler``, and its time."""
    fake, time = Fake(handler), FakeTime(NOW)
    return provider(fake, time), fake, time


HISTORY = Endpoint(served, lambda entsoe: entsoe.history("DE-LU", P, *SPAN), where="entsoe A44")


# ---------------------------------------------------------------------------------------------
# Documents


def test_hourly_document() -> None:
    body, series = document("a44_de_pt60m.xml")  # namespace publicationdocument:7:0
    assert len(series) == 24
    assert series.step_s == 3600
    assert series.times[0] == at("2023-02-28T23:00:00")
    assert series.times[-1] == at("2023-03-01T22:00:00")
    assert np.allclose(series.values, np.array(prices(body)) * DEFAULT_EUR_USD)
    assert series.source == "entsoe api"
    assert series.unit == "usd_per_mwh"


def test_quarter_hourly_document() -> None:
    body, series = document("a44_de_pt15m.xml")  # namespace publicationdocument:7:3
    assert len(series) == 96
    assert series.step_s == 900
    assert series.times[1] == at("2025-10-01T22:15:00")
    assert np.allclose(series.values, np.array(prices(body)) * DEFAULT_EUR_USD)


def test_curve_a03_fills_left_out_positions_forward() -> None:
    body = fixture("a44_fr_a03.xml")
    series = parse_document(body, "FR", P, LABEL, rates={"EUR": 1.0})
    expected = [12.5, 9.8, 9.8, 9.8, 5.1, 5.1, 0.0, -0.01, -0.01, -2.4, -2.4, -2.4, -2.4]
    expected += [-0.5, 0.0, 8.9, 24.3, 51.7, 78.2, 92.6, 92.6, 81.0, 64.3, 64.3]
    assert len(prices(body)) == 15  # nine positions left out
    assert series.values.tolist() == pytest.approx(expected)
    assert bool(np.all(series.quality == Quality.OK))
    assert "negative_price" in codes(series)


def test_curve_a01_leaves_a_missing_position_as_a_gap() -> None:
    body = fixture("a44_fr_a03.xml").replace(b"<curveType>A03", b"<curveType>A01")
    series = parse_document(body, "FR", P, LABEL)
    assert len(series) == 15
    assert "gap" in codes(series)


def test_euro_prices_converted_with_the_configured_rate() -> None:
    body = fixture("a44_de_pt60m.xml")
    fake = Fake(body)
    options = ProviderOptions(extra={"eur_usd": "1.25"})
    series = provider(fake, options=options).history("DE-LU", P, *SPAN)
    assert np.allclose(series.values, np.array(prices(body)) * 1.25)


def test_unknown_currency_needs_a_rate() -> None:
    body = fixture("a44_de_pt60m.xml").replace(b">EUR<", b">PLN<")
    with pytest.raises(SignalDataError, match="PLN") as caught:
        parse_document(body, "PL", P, LABEL)
    assert "extra.pln_usd" in (caught.value.hint or "")
    fake = Fake(body)
    options = ProviderOptions(extra={"pln_usd": "0.25"})
    series = provider(fake, options=options).history("PL", P, *SPAN)
    assert np.allclose(series.values, np.array(prices(body)) * 0.25)
    assert fake.requests[0].url.params["in_Domain"] == ZONE_EIC["PL"]


def test_only_mwh_day_ahead_series_are_read() -> None:
    body = fixture("a44_de_pt60m.xml")
    with pytest.raises(SignalDataError, match="MWH"):
        parse_document(body.replace(b">MWH<", b">KWH<"), "DE-LU", P, LABEL)
    intraday = body.replace(
        b"<contract_MarketAgreement.type>A01", b"<contract_MarketAgreement.type>A07"
    )
    with pytest.raises(SignalDataError, match="no price points"):
        parse_document(intraday, "DE-LU", P, LABEL)


def test_day_ahead_auction_is_read_not_exaa() -> None:
    """DE-LU: sequence 2 (EXAA, 999) comes first in the document, sequence 1 (SDAC, 50) second."""
    body = fixture("a44_de_sequences.xml")
    series = parse_document(body, "DE-LU", P, LABEL, rates={"EUR": 1.0})
    assert len(series) == 96
    assert series.step_s == 900
    assert set(series.values.tolist()) == {50.0}
    found = codes(series)
    assert "duplicate" not in found
    assert found["sequence"]["severity"] == "info"
    assert found["sequence"]["count"] == 96
    assert "position 1" in found["sequence"]["message"]
    assert "left out: 2" in found["sequence"]["message"]


def test_exaa_alone_is_refused_not_served_as_day_ahead() -> None:
    body = fixture("a44_de_sequences.xml").replace(
        b">1</classificationSequence", b">2</classificationSequence"
    )
    with pytest.raises(SignalDataError, match="day-ahead auction") as caught:
        parse_document(body, "DE-LU", P, LABEL)
    assert "EXAA" in str(caught.value)
    with pytest.raises(SignalDataError, match="day-ahead auction"):
        parse_forecast(body, "DE-LU", P, datetime(2025, 10, 1, 23, tzinfo=UTC), LABEL)
    fake = Fake(body)
    start, end = datetime(2025, 10, 1, 22, tzinfo=UTC), datetime(2025, 10, 2, 22, tzinfo=UTC)
    with pytest.raises(SignalDataError, match="day-ahead auction"):
        provider(fake).history("DE-LU", P, start, end)


def test_a_day_with_only_exaa_published_is_left_out_with_a_warning() -> None:
    """Between EXAA's results (10:15) and the SDAC's (after 12:00) tomorrow has only sequence 2:
    today's prices are still served, tomorrow is not filled with EXAA's."""
    root = ET.fromstring(fixture("a44_de_sequences.xml"))
    exaa = next(ts for ts in root.iter() if ts.tag.endswith("}TimeSeries"))
    for element in exaa.iter():
        if element.tag.endswith("}start"):
            element.text = "2025-10-02T22:00Z"
        elif element.tag.endswith("}end"):
            element.text = "2025-10-03T22:00Z"
    body = ET.tostring(root, encoding="utf-8")
    series = parse_document(body, "DE-LU", P, LABEL, rates={"EUR": 1.0})
    assert len(series) == 96
    assert series.times[-1] == at("2025-10-02T21:45:00")
    assert set(series.values.tolist()) == {50.0}
    missing = codes(series)["day_ahead_missing"]
    assert missing["severity"] == "warning"
    assert missing["count"] == 96
    assert missing["locations"] == ["2025-10-02T22:00Z..2025-10-03T22:00Z (position 2)"]
    forecast = parse_forecast(body, "DE-LU", P, datetime(2025, 10, 2, 10, 20, tzinfo=UTC), LABEL)
    assert forecast.times[0] == at("2025-10-02T10:15:00")
    assert forecast.times[-1] == at("2025-10-02T21:45:00")


def test_hourly_and_quarter_hourly_days_are_put_on_the_finest_step() -> None:
    """Across the SDAC's 15-minute go-live: an hourly price holds for its four quarter hours."""
    body = fixture("a44_de_pt60m_pt15m.xml")
    series = parse_document(body, "DE-LU", P, LABEL, rates={"EUR": 1.0})
    amounts = prices(body)
    hourly, quarter = amounts[:24], amounts[24:]
    assert (len(hourly), len(quarter)) == (24, 96)
    assert series.step_s == 900
    assert len(series) == 2 * 96
    assert series.times[0] == at("2025-09-29T22:00:00")
    assert series.times[-1] == at("2025-10-01T21:45:00")
    assert bool(np.all(np.diff(series.times.astype(np.int64)) == 900))
    assert series.values[:96].tolist() == pytest.approx(np.repeat(hourly, 4).tolist())
    assert series.values[96:].tolist() == pytest.approx(quarter)
    found = codes(series)
    assert "gap" not in found
    assert "duplicate" not in found
    assert found["resolution"]["count"] == 24


def test_the_finer_resolution_wins_where_both_cover_the_same_time() -> None:
    body = (
        fixture("a44_de_pt60m_pt15m.xml")
        .replace(b"<start>2025-09-30T22:00Z</start>", b"<start>2025-09-29T22:00Z</start>")
        .replace(b"<end>2025-10-01T22:00Z</end>", b"<end>2025-09-30T22:00Z</end>")
    )
    series = parse_document(body, "DE-LU", P, LABEL, rates={"EUR": 1.0})
    assert series.step_s == 900
    assert len(series) == 96
    assert series.values.tolist() == pytest.approx(prices(body)[24:])


@pytest.mark.parametrize(
    "text", ["1_000", "\u0661\u0662", "\uff15", "+5", "1.", ".5", "0x10", "5e", "NaN", "inf"]
)
def test_a_price_is_a_plain_ascii_decimal(text: str) -> None:
    """``float`` alone takes ``1_000`` and digits of any script (Arabic-Indic, full-width)."""
    body = fixture("a44_de_pt60m.xml").replace(b">64.24<", f">{text}<".encode())
    series = parse_document(body, "DE-LU", P, LABEL)
    assert math.isnan(series.values[1])
    assert codes(series)["non_numeric"]["count"] == 1


@pytest.mark.parametrize("text", ["-12.5", "1e3", "1E-2", "0", "007"])
def test_plain_decimals_are_read(text: str) -> None:
    body = fixture("a44_de_pt60m.xml").replace(b">64.24<", f">{text}<".encode())
    series = parse_document(body, "DE-LU", P, LABEL, rates={"EUR": 1.0})
    assert series.values[1] == pytest.approx(float(text))
    assert "non_numeric" not in codes(series)


# ---------------------------------------------------------------------------------------------
# Requests


def test_request_parameters_and_the_token_stays_out_of_cache_keys(tmp_path: Path) -> None:
    fake = Fake(fixture("a44_de_pt60m.xml"))
    entsoe = provider(fake, cache_dir=tmp_path)
    start, end = SPAN
    first = entsoe.history("DE-LU", P, start, end)
    again = entsoe.history("DE-LU", P, start, end)
    (request,) = fake.requests  # the second answer came from the cache
    assert str(request.url).startswith("https://web-api.tp.entsoe.eu/api?")
    assert dict(request.url.params) == {
        "documentType": "A44",
        "in_Domain": DE,
        "out_Domain": DE,
        "periodStart": "202302282300",
        "periodEnd": "202303012300",
        "securityToken": TOKEN,
    }
    assert np.array_equal(first.values, again.values)
    params = dict(request.url.params)
    url = "https://web-api.tp.entsoe.eu/api"
    key = entsoe.http.cache_key(url, params)
    assert TOKEN not in key
    assert key == entsoe.http.cache_key(url, dict(params))
    # another token is another access: it gets its own entry, never this one's answer
    assert key != entsoe.http.cache_key(url, {**params, "securityToken": "another-token"})
    stored = list(tmp_path.rglob("*"))
    assert stored
    assert all(TOKEN not in p.name for p in stored)
    assert all(TOKEN not in p.read_text() for p in stored if p.is_file())


def hourly_documents(request: httpx.Request) -> httpx.Response:
    """One document per request: a Period per UTC day from periodStart to periodEnd, A01."""
    start = datetime.strptime(request.url.params["periodStart"], "%Y%m%d%H%M").replace(tzinfo=UTC)
    end = datetime.strptime(request.url.params["periodEnd"], "%Y%m%d%H%M").replace(tzinfo=UTC)
    template = fixture("a44_de_pt60m.xml").decode()
    head, rest = template.split("<TimeSeries>", 1)
    series_head, _ = rest.split("<Period>", 1)
    periods, day = [], start
    while day < end:
        nxt = min(day + timedelta(days=1), end)
        hours = int((nxt - day).total_seconds() // 3600)
        points = "".join(
            f"<Point><position>{i + 1}</position><price.amount>{50 + day.day + i / 10:.2f}"
            "</price.amount></Point>"
            for i in range(hours)
        )
        periods.append(
            f"<Period><timeInterval><start>{day:%Y-%m-%dT%H:%MZ}</start><end>{nxt:%Y-%m-%dT%H:%MZ}"
            f"</end></timeInterval><resolution>PT60M</resolution>{points}</Period>"
        )
        day = nxt
    body = f"{head}<TimeSeries>{series_head}{''.join(periods)}</TimeSeries>"
    return httpx.Response(200, text=body + "</Publication_MarketDocument>")


def test_a_long_range_is_split_into_yearly_requests_and_merged() -> None:
    fake = Fake(hourly_documents)
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 11, tzinfo=UTC)
    series = provider(fake).history("DE-LU", P, start, end)
    windows = [(r.url.params["periodStart"], r.url.params["periodEnd"]) for r in fake.requests]
    assert windows == [("202201010000", "202301010000"), ("202301010000", "202301110000")]
    for request in fake.requests:
        assert request.url.params["documentType"] == "A44"
        assert request.url.params["in_Domain"] == request.url.params["out_Domain"] == DE
        assert request.url.params["securityToken"] == TOKEN
    assert len(series) == 375 * 24
    assert series.step_s == 3600
    assert series.times[0] == at("2022-01-01T00:00:00")
    assert series.times[-1] == at("2023-01-10T23:00:00")
    assert codes(series) == {}


def test_a_year_without_data_does_not_hide_the_years_with_data() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["periodStart"].startswith("2014"):
            return httpx.Response(200, content=fixture("ack_no_data.xml"))
        return hourly_documents(request)

    series = provider(Fake(answer)).history(
        "DE-LU", P, datetime(2014, 6, 1, tzinfo=UTC), datetime(2015, 6, 3, tzinfo=UTC)
    )
    assert series.times[0] == at("2015-06-01T00:00:00")
    assert len(series) == 48


def test_a_year_without_data_answered_with_400_does_not_abort_the_history() -> None:
    """ENTSO-E answers "no matching data" with HTTP 400 too."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["periodStart"].startswith("2014"):
            return httpx.Response(400, content=fixture("ack_no_data.xml"))
        return hourly_documents(request)

    fake = Fake(answer)
    series = provider(fake).history(
        "DE-LU", P, datetime(2014, 6, 1, tzinfo=UTC), datetime(2015, 6, 3, tzinfo=UTC)
    )
    assert len(fake.requests) == 2
    assert series.times[0] == at("2015-06-01T00:00:00")
    assert len(series) == 48


OTHER_REFUSALS = [
    ("999", "The amount of requested data exceeds allowed limit. Requested 400 documents."),
    ("998", "No matching data found for Data item Day-ahead Prices [12.1.D]."),
]


@pytest.mark.parametrize(("code", "text"), OTHER_REFUSALS)
@pytest.mark.parametrize("status", [200, 400])
def test_another_acknowledgement_in_a_long_range_is_an_error(
    status: int, code: str, text: str
) -> None:
    """Only "no matching data" (reason 999) stands for a quiet year; ENTSO-E also uses 999 for
    other refusals, so the text is checked too."""
    ack = fixture("ack_no_data.xml").replace(b"<code>999</code>", f"<code>{code}</code>".encode())
    ack = ack.replace(b"No matching data found for Data item", text.encode() + b" Item")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["periodStart"].startswith("2014"):
            return httpx.Response(status, content=ack)
        return hourly_documents(request)

    error = ProviderRequestError if status == 400 else SignalDataError
    with pytest.raises(error) as caught:
        provider(Fake(answer)).history(
            "DE-LU", P, datetime(2014, 6, 1, tzinfo=UTC), datetime(2015, 6, 3, tzinfo=UTC)
        )
    assert f"(reason {code})" in str(caught.value)


def test_forecast_is_what_is_published_from_now_on() -> None:
    fake = Fake(fixture("a44_de_pt60m.xml"))  # createdDateTime 2023-03-02T09:14:03Z, after NOW
    forecast = provider(fake).forecast("DE-LU", P)
    (request,) = fake.requests
    assert request.url.params["periodStart"] == "202303010000"
    assert request.url.params["periodEnd"] == "202303030000"
    assert forecast.as_of == NOW
    assert forecast.generated_at == NOW
    assert forecast.times[0] == at("2023-03-01T10:00:00")  # the hour holding now
    assert forecast.times[-1] == at("2023-03-01T22:00:00")
    assert forecast.model == "entsoe"
    assert forecast.unit == "usd_per_mwh"
    assert forecast.step_s == 3600
    assert forecast.kind is P


def test_forecast_generated_at_is_the_documents_creation_time() -> None:
    body = fixture("a44_de_pt60m.xml").replace(b"2023-03-02T09:14:03Z", b"2023-02-28T11:42:10Z")
    forecast = parse_forecast(body, "DE-LU", P, NOW, LABEL)
    assert forecast.generated_at == datetime(2023, 2, 28, 11, 42, 10, tzinfo=UTC)
    assert forecast.as_of == forecast.generated_at
    assert forecast.times[0] == at("2023-03-01T10:00:00")
    with pytest.raises(SignalDataError, match="no prices published"):
        parse_forecast(body, "DE-LU", P, NOW + timedelta(days=3), LABEL)


@pytest.mark.parametrize(
    ("name", "now", "first"),
    [
        ("a44_de_pt60m.xml", "2023-03-01T11:00:00", "2023-03-01T11:00:00"),
        ("a44_de_pt60m.xml", "2023-03-01T10:59:59", "2023-03-01T10:00:00"),
        ("a44_de_pt15m.xml", "2025-10-01T23:15:00", "2025-10-01T23:15:00"),
        ("a44_de_pt15m.xml", "2025-10-01T23:14:00", "2025-10-01T23:00:00"),
    ],
)
def test_forecast_leaves_out_the_step_that_has_just_ended(name: str, now: str, first: str) -> None:
    """A step is kept while it has not ended: ``time + step > now``."""
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    forecast = parse_forecast(fixture(name), "DE-LU", P, moment, LABEL)
    assert forecast.times[0] == at(first)


def test_latest_ends_with_the_price_in_force_now() -> None:
    fake = Fake(fixture("a44_de_pt60m.xml"))
    series = provider(fake).latest("DE-LU", P)
    assert series.times[-1] == at("2023-03-01T10:00:00")
    # whole hours around now - 1 day .. now + 1 hour (10:30), as entsoe-py asks
    assert fake.requests[0].url.params["periodStart"] == "202302281000"
    assert fake.requests[0].url.params["periodEnd"] == "202303011200"


def test_live_calls_within_the_hour_ask_the_same_and_share_the_cache() -> None:
    """Minute-precise query times made a new cache key every minute."""
    entsoe, fake, time = served(serve(fixture("a44_de_pt60m.xml")))
    entsoe.latest("DE-LU", P)
    time.sleep(180)  # 10:33, within the 300 s live cache time
    entsoe.latest("DE-LU", P)
    assert len(fake.requests) == 1


def test_range_bounds_are_whole_hours_and_the_range_is_still_cut_to_what_was_asked() -> None:
    fake = Fake(fixture("a44_de_pt60m.xml"))
    start, end = datetime(2023, 3, 1, 5, 20, tzinfo=UTC), datetime(2023, 3, 1, 8, 40, tzinfo=UTC)
    series = provider(fake).history("DE-LU", P, start, end)
    (request,) = fake.requests
    assert request.url.params["periodStart"] == "202303010500"
    assert request.url.params["periodEnd"] == "202303010900"
    assert series.times[0] == at("2023-03-01T06:00:00")  # 05:00 starts before 05:20
    assert series.times[-1] == at("2023-03-01T08:00:00")


def test_calabria_is_a_bidding_zone_and_de_or_lu_alone_are_not() -> None:
    """entsoe-py's mappings: IT_CALA is 10Y1001C--00096J; DE and LU map to the former DE-AT-LU
    zone (BIDDING_ZONES) or to country/control areas (Area), never to the DE-LU bidding zone."""
    fake = Fake(fixture("a44_de_pt60m.xml"))
    provider(fake).history("IT-CALA", P, *SPAN)
    assert fake.requests[0].url.params["in_Domain"] == "10Y1001C--00096J"
    assert fake.requests[0].url.params["out_Domain"] == "10Y1001C--00096J"
    for zone in ("DE", "LU"):
        with pytest.raises(ConfigError) as caught:
            Entsoe.check(zone, P, ProviderOptions())
        assert caught.value.field == "zone"


def test_region_gives_the_eic_directly() -> None:
    fake = Fake(fixture("a44_de_pt60m.xml"))
    options = ProviderOptions(region="10YDOM-CZ-DE-SKK")
    provider(fake, options=options).latest("XX", P)
    assert fake.requests[0].url.params["in_Domain"] == "10YDOM-CZ-DE-SKK"


def test_check_refuses_zones_without_a_bidding_zone() -> None:
    Entsoe.check("DE-LU", P, ProviderOptions())
    Entsoe.check("XX", P, ProviderOptions(region="10YFR-RTE------C"))
    with pytest.raises(ConfigError) as caught:
        Entsoe.check("GB", P, ProviderOptions())
    assert caught.value.field == "zone"
    assert "DE-LU" in (caught.value.accepted or "")
    assert "SE-SE3" in (caught.value.accepted or "")
    with pytest.raises(ConfigError) as region:
        Entsoe.check("DE-LU", P, ProviderOptions(region="not-an-eic"))
    assert region.value.field == "region"
    with pytest.raises(ConfigError) as kind:
        Entsoe.check("DE-LU", SignalKind.CARBON, ProviderOptions())
    assert kind.value.field == "kind"
    with pytest.raises(ConfigError) as rate:
        Entsoe.check("DE-LU", P, ProviderOptions(extra={"eur_usd": "-1"}))
    assert rate.value.field == "extra.eur_usd"


# ---------------------------------------------------------------------------------------------
# Failures


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_an_auth_error(status: int) -> None:
    error = check_refusal_is_an_auth_error(HISTORY, status, b"<html>Unauthorized</html>")
    assert "ENTSOE_SECURITY_TOKEN" in (error.hint or "")
    assert TOKEN not in str(error)


def test_429_with_a_short_retry_after_is_waited_for() -> None:
    series = check_short_retry_after_is_waited_for(HISTORY, fixture("a44_de_pt60m.xml"))
    assert len(series) == 24


test_429_with_a_long_retry_after_gives_up_at_once = long_retry_after_test(HISTORY)
test_server_errors_are_retried_then_unavailable = server_errors_test(HISTORY)


def test_acknowledgement_with_200_is_a_signal_data_error_with_the_reason() -> None:
    with pytest.raises(SignalDataError, match="No matching data found") as caught:
        provider(Fake(fixture("ack_no_data.xml"))).history("DE-LU", P, *SPAN)
    assert "reason 999" in str(caught.value)


def test_acknowledgement_with_400_is_a_request_error_that_gives_the_reason() -> None:
    fake = Fake(lambda r: httpx.Response(400, content=fixture("ack_no_data.xml")))
    with pytest.raises(ProviderRequestError) as caught:
        provider(fake).history("DE-LU", P, *SPAN)
    text = caught.value.one_line()
    assert "HTTP 400" in text
    assert "interval 2030-01-01T00:00:00.000Z/2030-01-02T00:00:00.000Z" in text  # past 200 bytes
    assert "reason 999" in text


test_malformed_answers_are_signal_data_errors = unusable_answers_test(
    HISTORY,
    fixture("a44_de_pt60m.xml")[:900],
    (b"<html><body>Service down</body></html>", "unexpected document"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>', "DOCTYPE"),
    ('<?xml version="1.0" encoding="utf-16"?><a/>'.encode("utf-16"), "UTF-8"),
    (
        b'<Publication_MarketDocument xmlns="x"><createdDateTime>2023-03-01T00:00Z'
        b"</createdDateTime></Publication_MarketDocument>",
        "no TimeSeries",
    ),
    syntax="not valid XML",
)


def test_all_zero_prices_are_refused() -> None:
    body = fixture("a44_de_pt60m.xml")
    for value in prices(body):
        body = body.replace(f">{value:.2f}<".encode(), b">0<")
    with pytest.raises(SignalDataError, match="values are 0"):
        parse_document(body, "DE-LU", P, LABEL)


def test_spring_forward_gap_is_left_as_a_gap() -> None:
    series = parse_document(fixture("a44_de_dst_spring.xml"), "DE-LU", P, LABEL)
    assert len(series) == 22
    assert at("2022-03-27T01:00:00") not in series.times
    assert series.times[2] == at("2022-03-27T02:00:00")
    assert "dst" in codes(series)
    assert codes(series)["gap"]["message"].startswith("1 missing step")


def test_fall_back_duplicate_is_kept_once() -> None:
    body = fixture("a44_de_dst_autumn.xml")
    series = parse_document(body, "DE-LU", P, LABEL, rates={"EUR": 1.0})
    assert len(prices(body)) == 26
    assert len(series) == 25
    assert bool(np.all(np.diff(series.times.astype(np.int64)) == 3600))
    assert series.values[3] == pytest.approx(prices(body)[3])  # the first of the two, not 150
    assert "duplicate" in codes(series)


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(ProviderAuthError, match="ENTSOE_SECURITY_TOKEN"):
        make_provider("entsoe", environ={})


# ---------------------------------------------------------------------------------------------
# Properties: a valid result or a GridshiftError, nothing else

# The document's leaf fields: what the property tests nest at random and what they mutate.
LEAVES = [
    "start",
    "end",
    "resolution",
    "position",
    "price.amount",
    "curveType",
    "createdDateTime",
    "currency_Unit.name",
    "price_Measure_Unit.name",
]
TAGS = [
    "Publication_MarketDocument",
    "Acknowledgement_MarketDocument",
    "TimeSeries",
    "Period",
    "timeInterval",
    "Point",
    *LEAVES,
    "Reason",
    "text",
]
SAFE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
FIELD_VALUES = SAFE_TEXT | st.sampled_from(
    [
        "",
        "0",
        "-1",
        "97",
        "99999999999999999999",
        "²",
        "PT15M",
        "PT30M",
        "PT60M",
        "PT1H",
        "P1D",
        "PT0M",
        "A01",
        "A03",
        "A07",
        "EUR",
        "USD",
        "GBP",
        "MWH",
        "NaN",
        "inf",
        "-1e308",
        "1e309",
        "2022-03-27T01:00Z",
        "2022-03-27T01:00",
        "1800-01-01T00:00Z",
        "2300-01-01T00:00Z",
        "0001-01-01T00:00-23:59",
        "9999-12-31T23:59+23:59",
        "2022-10-30T00:00Z",
    ]
)


def parse_all(body: bytes) -> None:
    if (series := outcome(lambda: parse_document(body, "DE-LU", P, LABEL))) is not None:
        event("a valid series")
        assert_valid_series(series, "usd_per_mwh", at_least=2)
        assert series.kind is P
    if (forecast := outcome(lambda: parse_forecast(body, "DE-LU", P, NOW, LABEL))) is not None:
        assert_valid_forecast(forecast, "usd_per_mwh")
        assert forecast.as_of <= NOW
        assert len(forecast.times) > 0


test_property_arbitrary_bytes = property_test(st.binary(max_size=500), parse_all)


@st.composite
def xmlish(draw: st.DrawFn) -> str:
    """Text made of the document's own tags, nested at random, with random text inside."""

    def element(depth: int) -> str:
        tag = draw(st.sampled_from(TAGS))
        if depth > 3 or draw(st.booleans()):
            inner = draw(FIELD_VALUES).replace("<", "&lt;").replace("&", "&amp;")
        else:
            inner = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3))))
        attrs = ' xmlns="urn:x"' if depth == 0 and draw(st.booleans()) else ""
        close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", "", f"</{TAGS[0]}>"]))
        return f"<{tag}{attrs}>{inner}{close}"

    return draw(st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>\n'])) + element(0)


@given(xmlish())
def test_property_xmlish_text(text: str) -> None:
    parse_all(text.encode())


test_property_arbitrary_text = property_test(TEXT_BODIES, parse_all)


MUTABLE = [*LEAVES, "contract_MarketAgreement.type", "Point", "Period", "TimeSeries"]


@given(
    st.sampled_from(
        ["a44_de_pt60m.xml", "a44_fr_a03.xml", "a44_de_dst_autumn.xml", "a44_de_dst_spring.xml"]
    ),
    st.data(),
)
def test_property_mutated_documents(name: str, data: st.DataObject) -> None:
    root = ET.fromstring(fixture(name))
    elements = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in MUTABLE]
    parents = {child: parent for parent in root.iter() for child in parent}
    for _ in range(data.draw(st.integers(0, 5))):
        target = data.draw(st.sampled_from(elements))
        action = data.draw(st.sampled_from(["text", "text", "drop", "duplicate"]))
        parent = parents.get(target)
        if action == "text":
            target.text = data.draw(FIELD_VALUES)
        elif parent is not None and target in list(parent):
            if action == "drop":
                parent.remove(target)
            else:
                parent.insert(list(parent).index(target), copy.deepcopy(target))
    body = ET.tostring(root, encoding="utf-8")
    if data.draw(st.integers(0, 3)) == 0:  # truncated
        body = body[: data.draw(st.integers(0, len(body)))]
    parse_all(body)


def test_property_strategies_reach_valid_documents() -> None:
    """The mutations are not all fatal: a mutated document with a changed price still parses."""
    rng = random.Random(3)
    root = ET.fromstring(fixture("a44_de_pt60m.xml"))
    amounts = [e for e in root.iter() if e.tag.endswith("}price.amount")]
    for element in rng.sample(amounts, 3):
        element.text = "abc"
    series = parse_document(ET.tostring(root, encoding="utf-8"), "DE-LU", P, LABEL)
    assert int((series.quality == Quality.MISSING).sum()) == 3
    assert codes(series)["non_numeric"]["message"].startswith("3 price(s)")
    assert not math.isnan(float(np.nanmean(series.values)))


def test_issues_are_stored_the_one_way_every_provider_stores_them() -> None:
    """``signals fetch`` reads them back with ``series_issues`` (it crashed on a summary string)."""
    from gridshift.signals.providers.base import series_issues

    series = parse_document(fixture("a44_de_dst_spring.xml"), "DE-LU", P, LABEL)
    found = {issue.code: issue for issue in series_issues(series)}
    assert found["gap"].count == 1
    assert found["gap"].message.startswith("1 missing step")
