"""ENTSO-E A44 answers read into prices: pure functions from the XML bytes to a ``Series`` or
``Forecast`` in USD/MWh, or a ``SignalDataError``; ``entsoe`` fetches the documents.

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
from datetime import datetime

import numpy as np
import pandas as pd

from gridshift.domain import ConfigError, Forecast, Series, SignalDataError, SignalKind
from gridshift.domain.timeutil import as_np, require_utc
from gridshift.signals.providers._readers import aware_utc, forecast_from, issue_summary
from gridshift.signals.validate import Issue, RawPoints, build_series

NAME = "entsoe"
SOURCE = "entsoe api"
LABEL = "entsoe A44"
DAY_AHEAD = "A01"  # contract_MarketAgreement.type of day-ahead prices
DEFAULT_EUR_USD = 1.08
MAX_PERIOD_SLOTS = 400 * 96  # a Period longer than this is refused (a normal one is a day)

RESOLUTIONS: dict[str, int] = {"PT15M": 900, "PT30M": 1800, "PT60M": 3600, "PT1H": 3600}
_CURRENCY_RE = re.compile(r"^[a-z]{3}$")
_POSITION_RE = re.compile(r"^[0-9]{1,9}$")
_ENCODING_RE = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


@dataclass
class Prices:
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


def acknowledgement_text(body: bytes) -> str | None:
    """The reason of an acknowledgement answer (ENTSO-E sends one with HTTP 400 too), or None."""
    try:
        return _acknowledgement(_root(body, "entsoe"), "entsoe").detail
    except SignalDataError:
        return None


def _rate(currency: str, rates: Mapping[str, float], label: str) -> float:
    rate = rates.get(currency.upper())
    if rate is None:
        raise SignalDataError(
            f"prices are in {currency[:10]!r}, which has no USD rate",
            source=label,
            hint=f"set extra.{currency.lower()[:10]}_usd to the USD value of one {currency[:10]}",
        )
    return rate


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
    start = aware_utc(_text(interval, "start", where, label), f"{where} start", label)
    end = aware_utc(_text(interval, "end", where, label), f"{where} end", label)
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


def read_document(body: bytes, label: str, rates: Mapping[str, float], raw: Prices) -> None:
    """Add a Publication_MarketDocument's day-ahead prices (USD/MWh) to ``raw``."""
    root = _root(body, label)
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise _acknowledgement(root, label)
    if kind != "Publication_MarketDocument":
        raise SignalDataError(f"unexpected document <{kind[:60]}>", source=label)
    created_text = _text(root, "createdDateTime", "the document", label)
    created = aware_utc(created_text, "createdDateTime", label)
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


def to_series(raw: Prices, zone: str, kind: SignalKind, label: str) -> Series:
    """The prices read as a validated ``Series`` (``build_series``)."""
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
    return replace(series, source=SOURCE, attrs=issue_summary(issues))


def to_forecast(raw: Prices, zone: str, kind: SignalKind, now: datetime, label: str) -> Forecast:
    """The prices read from the step holding ``now`` on, as of the newest ``createdDateTime`` (or
    ``now`` when that is later)."""
    series = to_series(raw, zone, kind, label)
    assert raw.created is not None
    generated = min(raw.created, now)
    return forecast_from(
        series,
        max(as_np(generated), as_np(now)) - np.timedelta64(series.step_s, "s"),
        generated=generated,
        step_s=series.step_s,
        model=NAME,
        empty=f"no prices published from {now:%Y-%m-%dT%H:%MZ} on",
        label=label,
    )


def parse_document(
    body: bytes,
    zone: str,
    kind: SignalKind,
    label: str = LABEL,
    rates: Mapping[str, float] | None = None,
) -> Series:
    """An A44 answer as a ``Series`` in USD/MWh, or ``SignalDataError``."""
    raw = Prices()
    read_document(body, label, default_rates() if rates is None else rates, raw)
    return to_series(raw, zone, kind, label)


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
    raw = Prices()
    read_document(body, label, default_rates() if rates is None else rates, raw)
    return to_forecast(raw, zone, kind, require_utc(now, "now"), label)
