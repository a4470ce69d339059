"""ENTSO-E Transparency Platform: day-ahead electricity prices (article 12.1.D), live.

Docs: https://transparency.entsoe.eu/content/static_content/Static%20content/web%20api/Guide.html
(and the platform's knowledge base, https://transparencyplatform.zendesk.com). One endpoint:

``GET https://web-api.tp.entsoe.eu/api?documentType=A44&in_Domain=<EIC>&out_Domain=<EIC>
&periodStart=yyyyMMddHHmm&periodEnd=yyyyMMddHHmm&securityToken=<token>`` (times in UTC; the
answer holds whole delivery days in the zone's own time; "one year range limit applies", so longer
ranges are split). The token is a query parameter; it never enters a cache key or a message.

The answer is a ``Publication_MarketDocument`` (namespace
``urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:0``, ``:7:3`` and later; elements are
matched by local name). Each ``TimeSeries`` carries ``currency_Unit.name`` (EUR),
``price_Measure_Unit.name`` (MWH) and ``curveType``, and holds ``Period`` elements: a
``timeInterval`` {``start``, ``end``}, a ``resolution`` (PT60M, PT30M, PT15M) and ``Point``
elements {``position`` (1-based), ``price.amount``}. With curve type A01 every position is
present; with A03 ("variable sized block") a position whose price equals the previous one is left
out, so missing positions are filled forward to the end of the period. A ``TimeSeries`` whose
``contract_MarketAgreement.type`` is not A01 (day-ahead) is skipped. Overlapping points keep the
first (finest resolution first), as ``build_series`` reports.

No data is answered with an ``Acknowledgement_MarketDocument`` (``Reason`` {``code`` 999,
``text`` "No matching data found ..."}), with HTTP 200 (a ``SignalDataError`` with the text here)
or HTTP 400 (a ``ProviderRequestError`` from the HTTP layer).

Prices become USD/MWh: EUR at ``extra.eur_usd`` or else ``DEFAULT_EUR_USD`` = 1.08 USD per EUR
(about the ECB euro reference rate's 2023-2024 average; set ``eur_usd`` for exact figures); another
currency ``XXX`` only with ``extra.xxx_usd``. XML with a DOCTYPE or an ENTITY declaration is
refused before parsing (no entity expansion).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import numpy as np
import pandas as pd

from gridshift.domain import ConfigError, Forecast, Series, SignalDataError, SignalKind
from gridshift.domain.timeutil import as_np, require_utc
from gridshift.signals.providers.base import Provider, ProviderOptions
from gridshift.signals.providers.http import ProviderHttp
from gridshift.signals.validate import Issue, RawPoints, build_series

SOURCE = "entsoe api"
DOCUMENT_TYPE = "A44"  # Price document
DAY_AHEAD = "A01"  # contract_MarketAgreement.type of day-ahead prices
DEFAULT_EUR_USD = 1.08
MAX_QUERY_DAYS = 365  # "one year range limit applies"
MAX_PERIOD_SLOTS = 400 * 96  # a Period longer than this is refused (a normal one is a day)
LIVE_CACHE_TTL_S = 300.0
LABEL = "entsoe A44"

# Electricity Maps zone -> bidding zone EIC code (ENTSO-E's area codes; entsoe-py's mappings).
ZONE_EIC: dict[str, str] = {
    "AT": "10YAT-APG------L",
    "BE": "10YBE----------2",
    "BG": "10YCA-BULGARIA-R",
    "CH": "10YCH-SWISSGRIDZ",
    "CZ": "10YCZ-CEPS-----N",
    "DE-LU": "10Y1001A1001A82H",
    "DK-DK1": "10YDK-1--------W",
    "DK-DK2": "10YDK-2--------M",
    "EE": "10Y1001A1001A39I",
    "ES": "10YES-REE------0",
    "FI": "10YFI-1--------U",
    "FR": "10YFR-RTE------C",
    "GR": "10YGR-HTSO-----Y",
    "HR": "10YHR-HEP------M",
    "HU": "10YHU-MAVIR----U",
    "IT-CNO": "10Y1001A1001A70O",
    "IT-CSO": "10Y1001A1001A71M",
    "IT-NO": "10Y1001A1001A73I",
    "IT-SAR": "10Y1001A1001A74G",
    "IT-SIC": "10Y1001A1001A75E",
    "IT-SO": "10Y1001A1001A788",
    "LT": "10YLT-1001A0008Q",
    "LV": "10YLV-1001A00074",
    "NL": "10YNL----------L",
    "NO-NO1": "10YNO-1--------2",
    "NO-NO2": "10YNO-2--------T",
    "NO-NO3": "10YNO-3--------J",
    "NO-NO4": "10YNO-4--------9",
    "NO-NO5": "10Y1001A1001A48H",
    "PL": "10YPL-AREA-----S",
    "PT": "10YPT-REN------W",
    "RO": "10YRO-TEL------P",
    "RS": "10YCS-SERBIATSOV",
    "SE-SE1": "10Y1001A1001A44P",
    "SE-SE2": "10Y1001A1001A45N",
    "SE-SE3": "10Y1001A1001A46L",
    "SE-SE4": "10Y1001A1001A47J",
    "SI": "10YSI-ELES-----O",
    "SK": "10YSK-SEPS-----K",
}

RESOLUTIONS: dict[str, int] = {"PT15M": 900, "PT30M": 1800, "PT60M": 3600, "PT1H": 3600}
_EIC_RE = re.compile(r"^[0-9]{2}[A-Z0-9-]{13}[A-Z0-9-]$")
_CURRENCY_RE = re.compile(r"^[a-z]{3}$")
_POSITION_RE = re.compile(r"^[0-9]{1,9}$")
_ENCODING_RE = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


# ---------------------------------------------------------------------------------------------
# Pure parsing


@dataclass
class _Raw:
    """Prices read from documents: Unix seconds, USD/MWh values, notes, the newest creation."""

    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    non_numeric: int = 0
    created: datetime | None = None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _text(element: ET.Element, name: str, where: str, label: str) -> str:
    child = _child(element, name)
    text = None if child is None or child.text is None else child.text.strip()
    if not text:
        raise SignalDataError(f"{where} has no {name}", source=label)
    return text


def _time(text: str, what: str, label: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SignalDataError(
            f"{what} {text[:40]!r} is not an ISO-8601 time", source=label
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SignalDataError(f"{what} {text[:40]!r} has no zone", source=label)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise SignalDataError(f"{what} {text[:40]!r} is out of range", source=label) from None


def _root(body: bytes, label: str) -> ET.Element:
    if not body or not body.strip():
        raise SignalDataError("the answer is empty", source=label)
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SignalDataError("the answer declares a DOCTYPE or ENTITY; refused", source=label)
    declared = _ENCODING_RE.match(body.removeprefix(b"\xef\xbb\xbf")[:400])
    encoding = declared.group(1).decode("ascii", "replace").lower() if declared else "utf-8"
    if b"\x00" in body or encoding not in _ENCODINGS:
        # Only UTF-8 is read, so the DOCTYPE/ENTITY check above cannot be bypassed by encoding.
        raise SignalDataError("the answer is not UTF-8 XML", source=label)
    try:
        return ET.fromstring(body)
    except (ET.ParseError, ValueError, LookupError, RecursionError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise SignalDataError(f"the answer is not valid XML ({detail})", source=label) from None


class AcknowledgementError(SignalDataError):
    """ENTSO-E answered an Acknowledgement_MarketDocument (usually: no matching data)."""


def _acknowledgement(root: ET.Element, label: str) -> AcknowledgementError:
    reasons = []
    for reason in _children(root, "Reason"):
        code, text = _child(reason, "code"), _child(reason, "text")
        said = " ".join((text.text or "").split())[:240] if text is not None else ""
        number = (code.text or "").strip()[:10] if code is not None else ""
        reasons.append(f"{said or 'no reason text'}" + (f" (reason {number})" if number else ""))
    return AcknowledgementError(
        f"ENTSO-E answered with an acknowledgement: {'; '.join(reasons[:3]) or 'no reason given'}",
        source=label,
    )


def _rate(currency: str, rates: Mapping[str, float], label: str) -> float:
    rate = rates.get(currency.upper())
    if rate is None:
        raise SignalDataError(
            f"prices are in {currency[:10]!r}, which has no USD rate",
            source=label,
            hint=f"set extra.{currency.lower()[:10]}_usd to the USD value of one {currency[:10]}",
        )
    return rate


def _price(text: str | None) -> float:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def _position(point: ET.Element, where: str, slots: int, label: str) -> int:
    text = _text(point, "position", where, label)
    if not _POSITION_RE.match(text) or not 1 <= int(text) <= slots:
        raise SignalDataError(f"{where}: position {text[:20]!r} is not in 1..{slots}", source=label)
    return int(text)


def _period(period: ET.Element, where: str, label: str) -> tuple[int, int, int]:
    """(start in Unix seconds, step in seconds, number of slots) of a ``Period``."""
    interval = _child(period, "timeInterval")
    if interval is None:
        raise SignalDataError(f"{where} has no timeInterval", source=label)
    start = _time(_text(interval, "start", where, label), f"{where} start", label)
    end = _time(_text(interval, "end", where, label), f"{where} end", label)
    resolution = _text(period, "resolution", where, label)
    if resolution not in RESOLUTIONS:
        raise SignalDataError(
            f"{where}: resolution {resolution[:20]!r} is not one of {', '.join(RESOLUTIONS)}",
            source=label,
        )
    step = RESOLUTIONS[resolution]
    span = int((end - start).total_seconds())
    if span <= 0 or span % step or span // step > MAX_PERIOD_SLOTS:
        raise SignalDataError(
            f"{where}: {start:%Y-%m-%dT%H:%MZ}..{end:%Y-%m-%dT%H:%MZ} is not a whole number "
            f"of {resolution} steps (at most {MAX_PERIOD_SLOTS})",
            source=label,
        )
    return int(start.timestamp()), step, span // step


def _period_prices(
    period: ET.Element, where: str, fill: bool, label: str
) -> tuple[int, list[tuple[int, float]], int]:
    """(step, [(time, price)], count of non-numeric prices) of one Period; with ``fill`` (curve
    type A03) a left-out position repeats the price before it, to the end of the period."""
    start, step, slots = _period(period, where, label)
    given: dict[int, float] = {}
    bad = 0
    for n, point in enumerate(_children(period, "Point"), 1):
        position = _position(point, f"{where} Point {n}", slots, label)
        amount = _child(point, "price.amount")
        text = None if amount is None or amount.text is None else amount.text.strip()
        if not text:
            raise SignalDataError(f"{where} Point {n} has no price.amount", source=label)
        price = _price(text)
        bad += math.isnan(price)
        given.setdefault(position, price)
    out: list[tuple[int, float]] = []
    last: float | None = None
    for position in range(1, slots + 1):
        current = given.get(position, last if fill else None)
        if current is not None:
            out.append((start + (position - 1) * step, current))
        last = current
    return step, out, bad


def _read(body: bytes, label: str, rates: Mapping[str, float], raw: _Raw) -> None:
    """Add a Publication_MarketDocument's day-ahead prices (USD/MWh) to ``raw``."""
    root = _root(body, label)
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise _acknowledgement(root, label)
    if kind != "Publication_MarketDocument":
        raise SignalDataError(f"unexpected document <{kind[:60]}>", source=label)
    created = _time(_text(root, "createdDateTime", "the document", label), "createdDateTime", label)
    raw.created = created if raw.created is None else max(raw.created, created)
    periods: list[tuple[int, list[tuple[int, float]], float]] = []
    series = list(_children(root, "TimeSeries"))
    if not series:
        raise SignalDataError("the document holds no TimeSeries", source=label)
    for s, ts in enumerate(series, 1):
        where = f"TimeSeries {s}"
        contract = _child(ts, "contract_MarketAgreement.type")
        if contract is not None and (contract.text or "").strip() not in ("", DAY_AHEAD):
            continue
        rate = _rate(_text(ts, "currency_Unit.name", where, label), rates, label)
        measure = _text(ts, "price_Measure_Unit.name", where, label)
        if measure.upper() != "MWH":
            raise SignalDataError(
                f"{where}: prices are per {measure[:20]!r}, not MWH", source=label
            )
        curve = _child(ts, "curveType")
        fill = curve is not None and (curve.text or "").strip() == "A03"
        for p, period in enumerate(_children(ts, "Period"), 1):
            step, prices, bad = _period_prices(period, f"{where} Period {p}", fill, label)
            periods.append((step, prices, rate))
            raw.non_numeric += bad
    for _step, prices, rate in sorted(periods, key=lambda item: item[0]):  # finest first
        for moment, price in prices:
            raw.times.append(moment)
            raw.values.append(price * rate)


def _issue_summary(issues: list[Issue]) -> dict[str, str]:
    if not issues:
        return {}
    return {"issues": "; ".join(f"{i.code}: {i.message}" for i in issues)}


def _series(raw: _Raw, zone: str, kind: SignalKind, label: str) -> Series:
    if not raw.times:
        raise SignalDataError("the answer holds no price points", source=label)
    notes = []
    if raw.non_numeric:
        notes.append(
            Issue(
                "non_numeric",
                "warning",
                raw.non_numeric,
                f"{raw.non_numeric} price(s) are not numbers; kept as missing",
            )
        )
    # Several TimeSeries are concatenated: order by time (stably, so the first of equal times,
    # the finest resolution, is the one kept) before validation.
    order = np.argsort(np.asarray(raw.times, dtype=np.int64), kind="stable")
    points = RawPoints(
        times=pd.Series(np.asarray(raw.times, dtype=np.int64)[order], dtype="int64"),
        values=pd.Series(np.asarray(raw.values, dtype=np.float64)[order], dtype="float64"),
        rows=(order + 1).astype(np.int64),
        unit="usd_per_mwh",
        naive_times="reject",
        notes=notes,
    )
    series, issues = build_series(points, zone=zone, kind=kind, source=label)
    return replace(series, source=SOURCE, attrs=_issue_summary(issues))


def default_rates(extra: Mapping[str, str] | None = None) -> dict[str, float]:
    """USD per unit of each currency: EUR at ``DEFAULT_EUR_USD`` unless ``extra`` says otherwise
    (``eur_usd``, or ``xxx_usd`` for any three-letter currency)."""
    rates = {"USD": 1.0, "EUR": DEFAULT_EUR_USD}
    for key, value in (extra or {}).items():
        code = key[:-4] if key.endswith("_usd") else ""
        if not _CURRENCY_RE.match(code):
            continue
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(
                "not a positive exchange rate",
                field=f"extra.{key}",
                value=value,
                accepted="USD per unit, e.g. 1.08",
            )
        rates[code.upper()] = rate
    return rates


def parse_document(
    body: bytes,
    zone: str,
    kind: SignalKind,
    label: str = LABEL,
    rates: Mapping[str, float] | None = None,
) -> Series:
    """An A44 answer as a ``Series`` in USD/MWh, or ``SignalDataError``."""
    raw = _Raw()
    _read(body, label, default_rates() if rates is None else rates, raw)
    return _series(raw, zone, kind, label)


def parse_forecast(
    body: bytes,
    zone: str,
    kind: SignalKind,
    now: datetime,
    label: str = LABEL,
    rates: Mapping[str, float] | None = None,
) -> Forecast:
    """The prices of an A44 answer from the step holding ``now`` on, as a ``Forecast``.

    ``as_of`` and ``generated_at`` are the document's ``createdDateTime``, or ``now`` when that
    is later (a clock ahead of ours)."""
    raw = _Raw()
    _read(body, label, default_rates() if rates is None else rates, raw)
    return _forecast(raw, zone, kind, require_utc(now, "now"), label)


def _forecast(raw: _Raw, zone: str, kind: SignalKind, now: datetime, label: str) -> Forecast:
    series = _series(raw, zone, kind, label)
    assert raw.created is not None
    generated = min(raw.created, now)
    keep = series.times >= max(as_np(generated), as_np(now)) - np.timedelta64(series.step_s, "s")
    if not keep.any():
        raise SignalDataError(f"no prices published from {now:%Y-%m-%dT%H:%MZ} on", source=label)
    return Forecast(
        zone=zone,
        kind=kind,
        unit=series.unit,
        as_of=generated,
        times=series.times[keep],
        values=series.values[keep],
        step_s=series.step_s,
        model=Entsoe.name,
        generated_at=generated,
    )


# ---------------------------------------------------------------------------------------------
# The provider


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def _eic(zone: str, options: ProviderOptions) -> str:
    if options.region:
        return options.region
    if zone in ZONE_EIC:
        return ZONE_EIC[zone]
    raise ConfigError(
        "no ENTSO-E bidding zone known for this zone",
        field="zone",
        value=zone,
        accepted=", ".join(sorted(ZONE_EIC)),
        hint=f"accepted: {', '.join(sorted(ZONE_EIC))}; otherwise set region: to the bidding "
        "zone's EIC code (e.g. 10Y1001A1001A82H for DE-LU)",
    )


def acknowledgement_text(body: bytes) -> str | None:
    """The reason of an acknowledgement answer (ENTSO-E sends one with HTTP 400 too), or None."""
    try:
        return _acknowledgement(_root(body, "entsoe"), "entsoe").detail
    except SignalDataError:
        return None


class Entsoe(Provider):
    """ENTSO-E day-ahead prices; see the module docstring for the endpoint and the document."""

    name: ClassVar[str] = "entsoe"
    title: ClassVar[str] = "ENTSO-E Transparency Platform day-ahead prices"
    kinds: ClassVar[frozenset[SignalKind]] = frozenset({SignalKind.PRICE})
    env_vars: ClassVar[tuple[str, ...]] = ("ENTSOE_SECURITY_TOKEN",)
    base_url: ClassVar[str] = "https://web-api.tp.entsoe.eu/api"
    docs_url: ClassVar[str] = (
        "https://transparency.entsoe.eu/content/static_content/Static%20content/web%20api/"
        "Guide.html"
    )
    step_s: ClassVar[int] = 3600
    max_range_days: ClassVar[int] = MAX_QUERY_DAYS

    def __init__(
        self, http: ProviderHttp, credentials: Mapping[str, str], options: ProviderOptions
    ) -> None:
        super().__init__(http, credentials, options)
        http.error_text = acknowledgement_text

    @classmethod
    def check(cls, zone: str, kind: SignalKind, options: ProviderOptions) -> None:
        super().check(zone, kind, options)
        if options.region is not None and not _EIC_RE.match(options.region):
            raise ConfigError(
                "not an EIC code",
                field="region",
                value=options.region,
                accepted="a 16-character EIC area code such as 10YFR-RTE------C",
            )
        _eic(zone, options)
        default_rates(options.extra)

    def _fetch(self, eic: str, start: datetime, end: datetime, ttl: float | None) -> bytes:
        params = {
            "documentType": DOCUMENT_TYPE,
            "in_Domain": eic,
            "out_Domain": eic,
            "periodStart": _stamp(start),
            "periodEnd": _stamp(end),
            "securityToken": self.credentials["ENTSOE_SECURITY_TOKEN"],
        }
        what = f"entsoe A44 {eic} {_stamp(start)}-{_stamp(end)}"
        return self.http.get(self.http.base_url, params, cache_ttl_s=ttl, what=what).body

    def _raw(self, zone: str, start: datetime, end: datetime, ttl: float | None = None) -> _Raw:
        """The prices with ``start <= time < end``, one request per year at most."""
        self.check(zone, SignalKind.PRICE, self.options)
        eic, rates = _eic(zone, self.options), default_rates(self.options.extra)
        merged, cursor = _Raw(), start
        no_data: AcknowledgementError | None = None
        while cursor < end:
            chunk_end = min(end, cursor + timedelta(days=self.max_range_days))
            part = _Raw()
            try:
                _read(self._fetch(eic, cursor, chunk_end, ttl), LABEL, rates, part)
            except AcknowledgementError as exc:  # a year without data; others may have some
                no_data = no_data or exc
            lo, hi = int(cursor.timestamp()), int(chunk_end.timestamp())
            for moment, value in zip(part.times, part.values, strict=True):
                if lo <= moment < hi:
                    merged.times.append(moment)
                    merged.values.append(value)
            merged.non_numeric += part.non_numeric
            if part.created is not None:
                merged.created = max(merged.created or part.created, part.created)
            cursor = chunk_end
        if no_data is not None and not merged.times:
            raise no_data
        return merged

    def history(self, zone: str, kind: SignalKind, start: datetime, end: datetime) -> Series:
        self.check(zone, kind, self.options)
        start, end = require_utc(start, "start"), require_utc(end, "end")
        if end <= start:
            raise ConfigError("end must be after start", field="end", value=end.isoformat())
        raw = self._raw(zone, start, end)
        if not raw.times:
            raise SignalDataError(
                f"no day-ahead prices from {start:%Y-%m-%dT%H:%MZ} to {end:%Y-%m-%dT%H:%MZ}",
                source=LABEL,
            )
        return _series(raw, zone, kind, LABEL)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.http.wall(), UTC)

    def latest(self, zone: str, kind: SignalKind) -> Series:
        """The last day of prices up to the one in force now."""
        self.check(zone, kind, self.options)
        now = self._now()
        raw = self._raw(zone, now - timedelta(days=1), now + timedelta(hours=1), LIVE_CACHE_TTL_S)
        series = _series(raw, zone, kind, LABEL).between(None, now + timedelta(seconds=1))
        if not len(series):
            raise SignalDataError("no price in force now", source=LABEL)
        return series

    def forecast(self, zone: str, kind: SignalKind) -> Forecast:
        """Published day-ahead prices from now to the end of what is published."""
        self.check(zone, kind, self.options)
        now = self._now()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        raw = self._raw(zone, day, day + timedelta(days=2), LIVE_CACHE_TTL_S)
        return _forecast(raw, zone, kind, now, LABEL)
